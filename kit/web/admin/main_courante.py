"""The main courante in the browser: read it (filters by day, verification, exercise),
add what came by phone or on foot, move entries from à vérifier to vérifiée. Printable."""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from flask import Blueprint, abort, redirect, render_template, request

from kit.core import auth, journal
from kit.web import forms
from kit.web.admin import requires
from kit.web.admin.view import form, note, role, rows, who
from kit.web.connection import current_kit
from kit.web.i18n import _

bp = Blueprint("admin_journal", __name__, url_prefix="/admin")

CHANNELS = ("phone", "visit", "radio", "other")
FILTERS = ("du", "au", "verification", "exercice")
LIMIT = 1000


def day_start(text: str) -> int | None:
    """Unix time of a day's local midnight ('2026-11-22'), None if not a date."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    if not 1970 <= day.year <= 9000:  # the day after 9999-12-31 overflows (it answered 500)
        return None
    return int(datetime.combine(day, datetime.min.time()).astimezone().timestamp())


def filters() -> tuple[dict, list[str]]:
    today = date.today().isoformat()
    chosen = {"du": request.args.get("du", today), "au": request.args.get("au", ""),
              "verification": request.args.get("verification", ""), "exercice": request.args.get("exercice", "")}
    errors = [_("%(field)s: not a date.", field=label) for key, label in (("du", _("First day")), ("au", _("Last day")))
              if chosen[key] and day_start(chosen[key]) is None]
    if chosen["verification"] not in ("", *journal.STATES):
        chosen["verification"] = ""
    if chosen["exercice"] not in ("", "reel", "exercice"):
        chosen["exercice"] = ""
    return chosen, errors


def search(chosen: dict) -> list[dict]:
    """Matching entries in chronological order (the latest LIMIT when there are more)."""
    sql, params = "SELECT * FROM journal WHERE 1 = 1", []
    if chosen["du"] and day_start(chosen["du"]) is not None:
        sql, params = sql + " AND at >= ?", [*params, day_start(chosen["du"])]
    if chosen["au"] and day_start(chosen["au"]) is not None:
        end = day_start((date.fromisoformat(chosen["au"]) + timedelta(days=1)).isoformat())
        sql, params = sql + " AND at < ?", [*params, end]
    if chosen["verification"]:
        sql, params = sql + " AND verification = ?", [*params, chosen["verification"]]
    if chosen["exercice"]:
        sql, params = sql + " AND exercise = ?", [*params, int(chosen["exercice"] == "exercice")]
    if not auth.can(role(), "operator"):  # volunteers see what they wrote themselves
        sql, params = sql + " AND author = ?", [*params, who()]
    return rows(f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT ?) ORDER BY id", [*params, LIMIT])


def render(values: dict, errors: list[str], status: int = 200):
    chosen, filter_errors = filters()
    entries = search(chosen)
    return render_template(
        "admin/main_courante.html", entries=entries, chosen=chosen, values=values,
        errors=filter_errors + errors, channels=CHANNELS, states=journal.STATES, limit=LIMIT,
        full=auth.can(role(), "operator"), back=urlencode({k: v for k, v in chosen.items() if v}),
        added=request.args.get("ok", ""), now=time.time(),
    ), 400 if filter_errors and status == 200 else status


@bp.get("/main-courante")
@requires("volunteer")
def page():
    return render({"channel": "phone", "verification": "a_verifier"}, [])


@bp.post("/main-courante")
@requires("volunteer")
def add():
    """Information received by phone, on a visit, on a radio call…"""
    values = form("channel", "subject", "detail", "verification")
    errors = [e for e in (
        forms.check(values["subject"], _("Who called or came"), max_len=120, required=False, field="subject"),
        forms.check(values["detail"], _("Information"), max_len=1000, required=True, field="detail"),
    ) if e]
    if values["channel"] not in CHANNELS:
        errors.append(_("Choose how the information came."))
    if values["verification"] not in journal.STATES:
        errors.append(_("Choose a verification state."))
    if errors:
        return render(values, errors, 400)
    entry = note(f"note.{values['channel']}", values["subject"], values["detail"],
                 verification=values["verification"])
    return redirect(f"/admin/main-courante?{urlencode(kept_filters() | {'ok': entry})}#e{entry}", 303)


@bp.post("/main-courante/<int(max=2147483647):entry>/verification")
@requires("operator")
def verify(entry: int):
    try:
        found = current_kit().verify_entry(entry, request.form.get("state", ""), who(), "web")
    except ValueError:
        abort(400)
    if not found:
        abort(404)
    return redirect(f"/admin/main-courante?{urlencode(kept_filters())}#e{entry}", 303)


def kept_filters() -> dict:
    """The filters the form was posted under (in its action's query string)."""
    return {k: v for k, v in request.args.items() if k in FILTERS}
