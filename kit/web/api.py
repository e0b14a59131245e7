"""JSON API (v1), documented by /api/openapi.json. Same rules as the forms."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from kit.core.moderation import POST_TYPES
from kit.storage import queries as records
from kit.storage.seed import AUDIENCES
from kit.web import forms
from kit.web.board import submit_post, too_many
from kit.web.common import kit_state, radio_status, rate_limited, whole_number
from kit.web.connection import get_db
from kit.web.i18n import _
from kit.web.openapi import document
from kit.web.pages import all_risks, checklist, public_contacts, public_sites
from kit.web.safe import record_checkin

bp = Blueprint("api", __name__, url_prefix="/api")
POST_KINDS = tuple(POST_TYPES)  # what residents may post; "radio" texts come from the mesh


def error(message: str, status: int, **extra):
    return jsonify({"error": message, **extra}), status


def json_body() -> dict | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


@bp.get("/openapi.json")
def openapi():
    return jsonify(document(current_app.config["LISTENER"]))


@bp.get("/v1/status")
def status():
    state = kit_state()
    return jsonify({
        "kit_id": state["kit_id"],
        "name": state["kit_name"],
        "commune": state.get("commune_name", ""),
        "mode": state["mode"],
        "exercise": state["exercise"],
        "active_risk": state.get("active_risk") or None,
        "content_date": state.get("content_date", ""),
        "radio": radio_status(),
    })


@bp.get("/v1/messages")
def list_messages():
    since = whole_number(request.args.get("since", "0"))
    if since is None:
        return error(_("'since' must be a whole number (a cursor from an earlier answer)."), 400)
    kinds = request.args.getlist("kind") or list(records.BOARD_KINDS)
    if not set(kinds) <= set(records.BOARD_KINDS):
        return error(_("'kind' must be board, need, offer or radio."), 400)
    messages = records.board_messages(get_db(), tuple(kinds), since=since, limit=200, pending=False)
    cursor = max((m["cursor"] for m in messages), default=since)
    return jsonify({"messages": messages, "cursor": cursor,
                    "pending": records.pending_posts(get_db(), tuple(kinds), limit=200)})


def checked_post(text_fields: tuple[str, str], validate, person: str | None = None):
    """The JSON body validated like the form, within the rate limit: (values, None), or
    (None, the error answer)."""
    data = json_body()
    if data is None:
        return None, error(_("The body must be a JSON object."), 400)
    if not all(isinstance(data.get(k, ""), str) for k in text_fields):
        return None, error(_("'%(a)s' and '%(b)s' must be strings.", a=text_fields[0], b=text_fields[1]), 400)
    values, errors = validate(data)
    if errors:
        return None, error(" ".join(errors), 400, errors=errors)
    wait = rate_limited("post", values.get(person) if person else None)
    if wait:
        body, status = error(too_many(wait), 429)
        return None, (body, status, {"Retry-After": str(wait)})
    return values | {"kind": data.get("kind")}, None


@bp.post("/v1/messages")
def post_message():
    data = json_body()
    if data is not None and data.get("kind") not in POST_KINDS:
        return error(_("'kind' must be board, need or offer."), 400)
    values, refused = checked_post(("text", "name"), forms.validate_post)
    if refused:
        return refused
    return jsonify({"id": submit_post(values["kind"], values), "pending": True}), 201


@bp.post("/v1/safe")
def post_checkin():
    values, refused = checked_post(("name", "note"), forms.validate_checkin, person="name")
    if refused:
        return refused
    record = record_checkin(values)
    return jsonify({"id": records.format_uid(record.uid)}), 201


@bp.get("/v1/safe")
def lookup_checkin():
    values, errors = forms.validate_lookup(request.args)
    if errors:
        return error(" ".join(errors), 400, errors=errors)
    if rate_limited("lookup", values["name"]):
        return error(_("Too many searches from this phone. Please wait a minute."), 429)
    return jsonify({"name": values["name"], "checkins": records.lookup_checkins(get_db(), values["name"])})


@bp.get("/v1/alerts")
def alerts():
    """Residents get verified alerts only, like the home page: an unsigned or forged alert
    is never official for them, whatever the flag says (issue 13). The crisis cell's
    listener lists every active alert, with `verified`, so operators can check the others."""
    residents = current_app.config["LISTENER"] != "admin"
    items = []
    for a in records.active_alerts(get_db(), verified_only=residents):
        items.append({
            "id": a["id"], "status": a["status"], "msg_type": a["msg_type"],
            "references": a["references_id"] or None, "category": a["category"], "event": a["event"],
            "urgency": a["urgency"], "severity": a["severity"], "certainty": a["certainty"],
            "response_type": a["response_type"], "headline": a["headline"],
            "description": a["description"], "instruction": a["instruction"], "area": a["area"],
            "sent_at": a["sent_at"], "expires_at": a["expires_at"],
            "verified": bool(a["verified"]), "exercise": bool(a["exercise"]),
        })
    return jsonify({"alerts": items})


def _tri(row: dict, field: str) -> dict:
    return {lang: row[f"{field}_{lang}"] for lang in ("fr", "falc", "en")}


@bp.get("/v1/risks")
def risks():
    return jsonify({"risks": [
        {"slug": r["slug"], "kind": r["kind"], "name": _tri(r, "name"), "summary": _tri(r, "summary")}
        for r in all_risks()
    ]})


@bp.get("/v1/risks/<slug>")
def risk(slug: str):
    found = [r for r in all_risks() if r["slug"] == slug]
    if not found:
        return error(_("No such risk."), 404)
    audience = request.args.get("audience", "habitant")
    if audience not in AUDIENCES:
        return error(_("'audience' must be habitant, benevole or cellule."), 400)
    r = found[0]
    return jsonify({
        "slug": r["slug"], "kind": r["kind"], "name": _tri(r, "name"), "summary": _tri(r, "summary"),
        "audience": audience,
        "items": [
            {"phase": i["phase"], "text": _tri(i, "text"), "source": i["source"]}
            for i in checklist(slug, audience)
        ],
    })


@bp.get("/v1/contacts")
def contacts():
    return jsonify({"contacts": [
        {"slug": c["slug"], "group": c["grp"], "name": {"fr": c["name_fr"], "en": c["name_en"]},
         "role": _tri(c, "role"), "phone": c["phone"], "sms_only": bool(c["sms_only"]),
         "phone_secondary": c["phone_secondary"] or None, "last_verified": c["last_verified"]}
        for c in public_contacts()
    ]})


@bp.get("/v1/sites")
def sites():
    return jsonify({"sites": [
        {"slug": s["slug"], "name": s["name"], "type": s["type"], "address": s["address"],
         "lat": s["lat"], "lon": s["lon"], "capacity": s["capacity"], "present": s["present"],
         "status": s["status"], "amenities": s["amenities"].split(), "updated_at": s["updated_at"],
         "exercise": bool(s["drill"])}
        for s in public_sites()
    ]})
