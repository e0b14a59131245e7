"""The operators' JSON API (admin listener only; HTTP Basic or the operator's session).

Same rules as the pages: every action is in the main courante, every record made here
goes to the radio through the kit's outbox.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from kit.core import alerts, journal, moderation
from kit.core.text import bad_character
from kit.core.volunteer_commands import NEEDS, STATES
from kit.mesh import records as r
from kit.storage import queries as records
from kit.storage import settings
from kit.storage.names import name_key
from kit.web.admin import current_user, requires
from kit.web.admin.view import note
from kit.web.api import json_body
from kit.web.common import whole_number
from kit.web.connection import current_kit, get_db
from kit.web.i18n import _, tr

bp = Blueprint("api_operator", __name__, url_prefix="/api/v1")


def error(message: str, status: int = 400):
    return jsonify({"error": message}), status


@bp.before_request
def only_json_from_this_origin():
    """Cross-site request forgery (issue 13): a browser sends a cross-site form (urlencoded,
    multipart, text/plain) with no preflight, and with the operator's cookie or the Basic
    credentials it cached. So every change here needs a JSON body, which a foreign page can
    only send after a CORS preflight the kit never grants (Fetch standard, "CORS-safelisted
    request-header"), and a browser's request must come from this origin: Origin (RFC 6454
    §7) and Sec-Fetch-Site (Fetch Metadata) are checked when present; scripts send neither."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if request.mimetype != "application/json":
        return error(_("Send a JSON body (Content-Type: application/json)."), 415)
    origin = request.headers.get("Origin")
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if (origin is not None and origin != request.host_url.rstrip("/")) or \
            fetch_site not in (None, "same-origin", "none"):
        return error(_("Refused: this request comes from another site."), 403)
    return None


def who() -> str:
    return current_user()["name"]


@bp.post("/alerts")
@requires("operator")
def create_alert():
    data = json_body()
    if data is None:
        return error(_("The body must be a JSON object."))
    try:
        alert = current_kit().create_alert(alerts.fields_from(data), who(), "api")
    except alerts.AlertError as exc:
        return error(tr(exc))
    return jsonify({"id": records.format_uid(alert.uid), "verified": True, "exercise": alert.exercise}), 201


@bp.post("/mode")
@requires("operator")
def set_mode():
    data = json_body()
    if data is None:
        return error(_("The body must be a JSON object."))
    changes = {}
    if "mode" in data:
        if data["mode"] not in settings.MODES:
            return error(_("'mode' must be veille, crise or apres."))
        changes["mode"] = data["mode"]
    if "exercise" in data:
        if not isinstance(data["exercise"], bool):
            return error(_("'exercise' must be true or false."))
        changes["exercise"] = "1" if data["exercise"] else "0"
    if "active_risk" in data:
        risk = data["active_risk"] or ""
        if not isinstance(risk, str):
            return error(_("No such risk."))
        if risk and not get_db().execute("SELECT 1 FROM risks WHERE slug = ?", [risk]).fetchone():
            return error(_("No such risk."))
        changes["active_risk"] = risk
    if not changes:
        return error(_("Nothing to change: give mode, exercise or active_risk."))
    state = current_kit().set_mode(changes, who(), "api")
    return jsonify({"mode": state["mode"], "exercise": state["exercise"] == "1",
                    "active_risk": state["active_risk"] or None})


@bp.get("/moderation")
@requires("operator")
def moderation_queue():
    return jsonify({"pending": [
        {"id": p["id"], "kind": p["kind"], "text": p["text"], "name": p["name"],
         "created_at": p["created_at"], "exercise": bool(p["exercise"])}
        for p in moderation.pending(get_db())]})


@bp.post("/moderation/<int(max=2147483647):post_id>")
@requires("operator")
def moderate(post_id: int):
    data = json_body() or {}
    decision = data.get("decision")
    try:
        if decision == "approve":
            record = current_kit().approve_post(post_id, who(), "api")
            return jsonify({"id": records.format_uid(record.uid), "state": "approved"})
        if decision == "reject":
            current_kit().reject_post(post_id, who(), "api")
            return jsonify({"state": "rejected"})
    except moderation.ModerationError as exc:
        return error(tr(exc), 404 if "no post" in str(exc) else 409)
    return error(_("'decision' must be approve or reject."))


@bp.post("/messages/<uid>/hide")
@requires("operator")
def hide(uid: str):
    data = json_body() or {}
    reason = str(data.get("reason", ""))
    if bad_character(reason):
        return error(_("'reason' holds a control or direction-override character."))
    try:
        record = current_kit().hide_message(uid, who(), reason, "api")
    except moderation.ModerationError as exc:
        return error(tr(exc), 404)
    return jsonify({"id": records.format_uid(record.uid)}), 201


@bp.post("/messages/<uid>/correct")
@requires("operator")
def correct(uid: str):
    data = json_body() or {}
    text = data.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > 280:
        return error(_("'text' is required (280 characters at most)."))
    if bad_character(text):
        return error(_("'text' holds a control or direction-override character."))
    try:
        record = current_kit().correct_message(uid, text.strip(), who(), "api")
    except moderation.ModerationError as exc:
        return error(tr(exc), 404)
    return jsonify({"id": records.format_uid(record.uid)}), 201


@bp.get("/journal")
@requires("operator")
def read_journal():
    since = whole_number(request.args.get("since", "0"))
    if since is None:
        return error(_("'since' must be a whole number (unix seconds)."))
    return jsonify({"entries": journal.entries(get_db(), since=since)})


@bp.post("/journal")
@requires("volunteer")
def write_journal():
    """A line in the main courante: information received by phone, on foot, by radio…"""
    data = json_body() or {}
    detail = data.get("detail")
    if not isinstance(detail, str) or not detail.strip():
        return error(_("'detail' is required."))
    if bad_character(detail + str(data.get("subject", ""))):
        return error(_("'detail' holds a control or direction-override character."))
    entry = note("note", str(data.get("subject", ""))[:120], detail.strip(), source="api",
                 verification="a_verifier")
    return jsonify({"id": entry}), 201


@bp.post("/journal/<int(max=2147483647):entry>/verification")
@requires("operator")
def verify_entry(entry: int):
    state = (json_body() or {}).get("state")
    try:
        found = current_kit().verify_entry(entry, state, who(), "api")
    except ValueError:
        return error(_("'state' must be a_verifier, en_cours or verifiee."))
    return (jsonify({"id": entry, "verification": state}) if found else error(_("No such entry."), 404))


@bp.post("/sites/<slug>/status")
@requires("volunteer")
def site_status(slug: str):
    """A site's status from the field: shown on every kit (a SiteStatus record)."""
    data = json_body() or {}
    site = get_db().execute("SELECT position, name FROM sites WHERE slug = ?", [slug]).fetchone()
    if site is None:
        return error(_("No such site."), 404)
    state = STATES.get(name_key(str(data.get("status", ""))))
    if state is None:
        return error(_("'status' must be ferme, en-preparation, ouvert, complet or evacue."))
    counts = {}
    for key in ("present", "capacity"):
        value = data.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            return error(_("'present' and 'capacity' are whole numbers."))
        counts[key] = value
    needs = r.Needs.NONE
    for need in data.get("needs", []):
        flag = NEEDS.get(name_key(str(need)))
        if flag is None:
            return error(_("Unknown need: %(need)s", need=str(need)))
        needs |= flag
    record = current_kit().site_status(site, slug, state, who(), "api", needs=needs, **counts)
    return jsonify({"id": records.format_uid(record.uid)}), 201
