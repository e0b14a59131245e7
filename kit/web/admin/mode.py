"""Mode (veille / crise / après), the exercise flag and the risk pinned on the residents' home."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request

from kit.storage import settings
from kit.web.admin import requires
from kit.web.admin.view import form, rows, who
from kit.web.connection import current_kit, get_db
from kit.web.i18n import _

bp = Blueprint("admin_mode", __name__, url_prefix="/admin")


def render(values: dict, errors: list[str], status: int = 200):
    return render_template("admin/mode.html", values=values, errors=errors, modes=settings.MODES,
                           risks=rows("SELECT slug, name_fr FROM risks WHERE kind = 'risk' ORDER BY position"),
                           saved=request.args.get("ok") == "1"), status


@bp.get("/mode")
@requires("operator")
def page():
    current = settings.all_settings(get_db())
    return render({"mode": current["mode"], "exercise": current["exercise"],
                   "active_risk": current["active_risk"]}, [])


@bp.post("/mode")
@requires("operator")
def change():
    values = form("mode", "active_risk")
    values["exercise"] = "1" if request.form.get("exercise") == "1" else "0"
    errors = []
    if values["mode"] not in settings.MODES:
        errors.append(_("Choose a mode: normal times, crisis or after the crisis."))
    risk = values["active_risk"]
    if risk and not get_db().execute("SELECT 1 FROM risks WHERE slug = ?", [risk]).fetchone():
        errors.append(_("No such risk."))
    if errors:
        return render(values, errors, 400)
    current = settings.all_settings(get_db())
    changes = {k: v for k, v in values.items() if current.get(k) != v}
    if changes:
        current_kit().set_mode(changes, who(), "web")
    return redirect("/admin/mode?ok=1", 303)
