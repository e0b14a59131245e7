"""Moderation: residents' posts wait here before the radio; any shared message can be
hidden or corrected (a Deletion or a Correction that reaches every kit for good)."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request

from kit.core import moderation
from kit.web import forms
from kit.web.admin import requires
from kit.web.admin.view import form, rows, who
from kit.web.connection import current_kit, get_db
from kit.web.i18n import _

bp = Blueprint("admin_moderation", __name__, url_prefix="/admin")
SHOWN = 60


def render(errors: list[str] | None = None, values: dict | None = None, status: int = 200):
    return render_template(
        "admin/moderation.html", errors=errors or [], values=values or {},
        pending=moderation.pending(get_db()),
        messages=rows("SELECT printf('%08x-%d', origin, seq) AS id, kind, text, name, created_at, exercise "
                      "FROM messages WHERE hidden = 0 ORDER BY created_at DESC LIMIT ?", [SHOWN]),
        reports=rows("SELECT printf('%08x-%d', origin, seq) AS id, location, text, created_at, exercise "
                     "FROM field_reports WHERE hidden = 0 ORDER BY created_at DESC LIMIT ?", [SHOWN]),
        done=request.args.get("ok", ""), max_text=forms.MAX_TEXT,
    ), status


@bp.get("/moderation")
@requires("operator")
def page():
    return render()


@bp.post("/moderation/<int(max=2147483647):post_id>")
@requires("operator")
def decide(post_id: int):
    decision = request.form.get("decision")
    try:
        if decision == "approve":
            current_kit().approve_post(post_id, who())
        elif decision == "reject":
            current_kit().reject_post(post_id, who())
        else:
            abort(400)
    except moderation.ModerationError as exc:
        return render([_("This post could not be moderated: %(error)s", error=exc)], status=409)
    return redirect(f"/admin/moderation?ok={decision}", 303)


@bp.post("/messages/<uid>/masquer")
@requires("operator")
def hide(uid: str):
    return hide_or_correct(uid, "hide", form("reason"))


@bp.post("/messages/<uid>/corriger")
@requires("operator")
def correct(uid: str):
    return hide_or_correct(uid, "correct", form("text"))


@bp.post("/messages/par-identifiant")
@requires("operator")
def by_id():
    """Any record by its id (a check-in, which is never listed, for instance)."""
    values = form("uid", "action", "text")
    if values["action"] not in ("hide", "correct"):
        return render([_("Choose: hide or correct.")], {"by_id": values}, 400)
    return hide_or_correct(values["uid"], values["action"], values | {"reason": values["text"]}, "by_id")


def hide_or_correct(uid: str, action: str, values: dict, key: str | None = None):
    field, label, required = (("reason", _("Reason"), False) if action == "hide"
                              else ("text", _("Corrected text"), True))
    error = forms.check(values[field], label, max_len=140 if action == "hide" else forms.MAX_TEXT,
                        required=required, field=field)
    if error:
        return render([error], {key or uid: values}, 400)
    try:
        if action == "hide":
            current_kit().hide_message(uid, who(), values["reason"])
        else:
            current_kit().correct_message(uid, values["text"], who())
    except moderation.ModerationError as exc:
        return render([_("Nothing was changed: %(error)s", error=exc)], {key or uid: values}, 404)
    return redirect(f"/admin/moderation?ok={'hidden' if action == 'hide' else 'corrected'}", 303)
