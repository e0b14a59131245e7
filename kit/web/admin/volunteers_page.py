"""Volunteers' radios: the handhelds the crisis cell has enrolled, and the commands of the
others, which wait for an operator before they change a site or reach the other kits."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request

from kit.core import volunteers
from kit.web.admin import requires
from kit.web.admin.view import form, who
from kit.web.connection import current_kit, get_db
from kit.web.i18n import _

bp = Blueprint("admin_volunteers", __name__, url_prefix="/admin")


def render(errors: list[str] | None = None, values: dict | None = None, status: int = 200):
    db = get_db()
    return render_template("admin/volunteers.html", errors=errors or [], values=values or {},
                           radios=volunteers.enrolled(db), pending=volunteers.pending(db),
                           unknown_key_frames=current_kit().radio.status().get("unknown_key_frames", 0),
                           done=request.args.get("ok", "")), status


@bp.get("/benevoles")
@requires("operator")
def page():
    return render()


@bp.post("/benevoles/radios")
@requires("operator")
def enroll():
    values = form("node", "label")
    try:
        node = volunteers.parse_node(values["node"])
    except volunteers.VolunteerError as exc:
        return render([exc], values, 400)
    current_kit().enroll_node(node, values["label"].strip(), who(), "web")
    return redirect("/admin/benevoles?ok=enrolled", 303)


@bp.post("/benevoles/radios/<int(max=4294967294):node>/retirer")
@requires("operator")
def withdraw(node: int):
    current_kit().withdraw_node(node, who(), "web")
    return redirect("/admin/benevoles?ok=withdrawn", 303)


@bp.post("/benevoles/commandes/<int(max=2147483647):command_id>")
@requires("operator")
def decide(command_id: int):
    decision = request.form.get("decision")
    if decision not in ("approve", "reject"):
        return render([_("Choose: approve or reject.")], status=400)
    try:
        if decision == "approve":
            current_kit().approve_command(command_id, who())
        else:
            current_kit().reject_command(command_id, who())
    except volunteers.VolunteerError as exc:
        return render([exc], status=409)
    return redirect(f"/admin/benevoles?ok={decision}", 303)
