"""The OpenAPI 3.1 document of the JSON API. Tests check every /api route is here and
that answers match these schemas."""
from __future__ import annotations

from functools import lru_cache

TRI = {"type": "object", "required": ["fr", "falc", "en"],
       "properties": {k: {"type": "string"} for k in ("fr", "falc", "en")}}
ERROR = {"type": "object", "required": ["error"],
         "properties": {"error": {"type": "string"},
                        "errors": {"type": "array", "items": {"type": "string"}}}}
ID = {"type": "object", "required": ["id"], "properties": {"id": {"$ref": "#/components/schemas/MessageId"},
                                                           "pending": {"type": "boolean"}}}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def answer(description: str, schema: dict) -> dict:
    return {"description": description} | json_content(schema)


ERRORS = {
    "400": answer("Invalid input; `error` says what to fix.", ref("Error")),
    "429": answer("Too many requests from this client; see Retry-After.", ref("Error")),
}

SCHEMAS = {
    "Error": ERROR,
    "RecordId": {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9]+$",
                 "description": "Global id: origin kit (8 hex digits) and its sequence."},
    "MessageId": {"type": "string", "pattern": "^([0-9a-f]{8}-[0-9]+|local-[0-9]+)$",
                  "description": "A shared record id, or local-N for a resident's post awaiting "
                                 "moderation (shown on this kit only)."},
    "Translated": TRI,
    "Status": {
        "type": "object",
        "required": ["kit_id", "name", "mode", "exercise", "radio"],
        "properties": {
            "kit_id": {"type": "string"}, "name": {"type": "string"}, "commune": {"type": "string"},
            "mode": {"enum": ["veille", "crise", "apres"]}, "exercise": {"type": "boolean"},
            "active_risk": {"type": ["string", "null"]}, "content_date": {"type": "string"},
            "radio": {
                "type": "object", "required": ["state"],
                "properties": {
                    "state": {"enum": ["none", "absent", "connecting", "connected", "reconnecting"]},
                    "node": {"type": ["string", "null"]}, "queue": {"type": "integer"},
                    "airtime_pct": {"type": "number"}, "last_sync": {"type": ["integer", "null"]},
                },
            },
        },
    },
    "Message": {
        "type": "object",
        "required": ["id", "cursor", "kind", "text", "name", "origin", "created_at", "exercise"],
        "properties": {
            "id": ref("MessageId"), "cursor": {"type": "integer"},
            "pending": {"type": "boolean", "description": "awaiting moderation, on this kit only"},
            "kind": {"enum": ["board", "need", "offer", "radio"],
                     "description": "radio: a volunteer's text heard over LoRa"},
            "text": {"type": "string"},
            "name": {"type": "string"}, "origin": {"type": "string"},
            "created_at": {"type": "integer", "description": "Unix seconds."},
            "exercise": {"type": "boolean"},
        },
    },
    "NewMessage": {
        "type": "object", "required": ["kind", "text"],
        "properties": {"kind": {"enum": ["board", "need", "offer"]},
                       "text": {"type": "string", "maxLength": 280},
                       "name": {"type": "string", "maxLength": 40}},
    },
    "NewCheckin": {
        "type": "object", "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 3, "maxLength": 80},
                       "note": {"type": "string", "maxLength": 140}},
    },
    "Checkin": {
        "type": "object", "required": ["id", "name", "note", "created_at", "origin", "exercise"],
        "properties": {"id": ref("RecordId"), "name": {"type": "string"}, "note": {"type": "string"},
                       "created_at": {"type": "integer"}, "origin": {"type": "string"},
                       "exercise": {"type": "boolean"}},
    },
    "Alert": {
        "type": "object",
        "required": ["id", "status", "msg_type", "event", "headline", "severity", "verified", "exercise"],
        "properties": {
            "id": ref("RecordId"), "status": {"enum": ["Actual", "Exercise", "System", "Test", "Draft"]},
            "msg_type": {"enum": ["Alert", "Update", "Cancel"]},
            "references": {"type": ["string", "null"]}, "category": {"type": "string"},
            "event": {"type": "string"}, "urgency": {"type": "string"}, "severity": {"type": "string"},
            "certainty": {"type": "string"}, "response_type": {"type": "string"},
            "headline": {"type": "string"}, "description": {"type": "string"},
            "instruction": {"type": "string"}, "area": {"type": "string"},
            "sent_at": {"type": "integer"}, "expires_at": {"type": ["integer", "null"]},
            "verified": {"type": "boolean", "description": "Signature checked against a trusted key."},
            "exercise": {"type": "boolean"},
        },
    },
    "Risk": {
        "type": "object", "required": ["slug", "kind", "name", "summary"],
        "properties": {"slug": {"type": "string"}, "kind": {"enum": ["risk", "guide"]},
                       "name": ref("Translated"), "summary": ref("Translated")},
    },
    "Checklist": {
        "type": "object", "required": ["slug", "kind", "name", "summary", "audience", "items"],
        "properties": {
            "slug": {"type": "string"}, "kind": {"enum": ["risk", "guide"]},
            "name": ref("Translated"), "summary": ref("Translated"),
            "audience": {"enum": ["habitant", "benevole", "cellule"]},
            "items": {"type": "array", "items": {
                "type": "object", "required": ["phase", "text", "source"],
                "properties": {"phase": {"enum": ["avant", "pendant", "apres"]},
                               "text": ref("Translated"), "source": {"type": "string"}}}},
        },
    },
    "Contact": {
        "type": "object", "required": ["slug", "group", "name", "role", "phone", "sms_only", "last_verified"],
        "properties": {
            "slug": {"type": "string"}, "group": {"enum": ["national", "commune"]},
            "name": {"type": "object", "required": ["fr", "en"]}, "role": ref("Translated"),
            "phone": {"type": "string"}, "sms_only": {"type": "boolean"},
            "phone_secondary": {"type": ["string", "null"]}, "last_verified": {"type": "string"},
        },
    },
    "Site": {
        "type": "object",
        "required": ["slug", "name", "type", "address", "lat", "lon", "capacity", "present", "status",
                     "amenities", "updated_at"],
        "properties": {
            "slug": {"type": "string"}, "name": {"type": "string"},
            "type": {"enum": ["hebergement", "accueil", "rassemblement", "eau", "soins"]},
            "address": {"type": "string"}, "lat": {"type": "number"}, "lon": {"type": "number"},
            "capacity": {"type": "integer"}, "present": {"type": "integer"},
            "status": {"enum": ["ferme", "en-preparation", "ouvert", "complet", "evacue"]},
            "amenities": {"type": "array", "items": {"type": "string"}},
            "updated_at": {"type": "string"},
            "exercise": {"type": "boolean", "description": "a status reported during the drill in progress"},
        },
    },
}


def listing(key: str, item: str) -> dict:
    return {"type": "object", "required": [key], "properties": {key: {"type": "array", "items": ref(item)}}}


PATHS = {
    "/api/openapi.json": {"get": {"summary": "This document.",
                                  "responses": {"200": answer("OpenAPI document.", {"type": "object"})}}},
    "/api/v1/status": {"get": {"summary": "The kit: identity, mode, exercise flag, radio state.",
                               "responses": {"200": answer("Status.", ref("Status"))}}},
    "/api/v1/messages": {
        "get": {
            "summary": "Public board messages, needs and offers (never check-ins), newest first. "
                       "`messages` are shared by every kit; `pending` are residents' posts on this "
                       "kit waiting for an operator before they go on the radio.",
            "parameters": [
                {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0},
                 "description": "Only messages after this cursor (the `cursor` of an earlier answer)."},
                {"name": "kind", "in": "query", "schema": {"enum": ["board", "need", "offer", "radio"]}},
            ],
            "responses": {"200": answer("Messages.", {
                "type": "object", "required": ["messages", "cursor", "pending"],
                "properties": {"messages": {"type": "array", "items": ref("Message")},
                               "pending": {"type": "array", "items": ref("Message")},
                               "cursor": {"type": "integer"}}}), "400": ERRORS["400"]},
        },
        "post": {
            "summary": "Post on the board, or publish a need or an offer.",
            "requestBody": {"required": True} | json_content(ref("NewMessage")),
            "responses": {"201": answer("Created.", ID)} | ERRORS,
        },
    },
    "/api/v1/safe": {
        "get": {
            "summary": "Look someone up by exact full name (never a list).",
            "parameters": [{"name": "name", "in": "query", "required": True,
                            "schema": {"type": "string", "minLength": 3, "maxLength": 80}}],
            "responses": {"200": answer("Check-ins under that name.", {
                "type": "object", "required": ["name", "checkins"],
                "properties": {"name": {"type": "string"},
                               "checkins": {"type": "array", "items": ref("Checkin")}}})} | ERRORS,
        },
        "post": {
            "summary": "\"I'm safe\": check in with a name and a short note.",
            "requestBody": {"required": True} | json_content(ref("NewCheckin")),
            "responses": {"201": answer("Recorded.", ID)} | ERRORS,
        },
    },
    "/api/v1/alerts": {"get": {"summary": "Active official alerts, most severe first.",
                               "responses": {"200": answer("Alerts.", listing("alerts", "Alert"))}}},
    "/api/v1/risks": {"get": {"summary": "Risks and guides.",
                              "responses": {"200": answer("Risks.", listing("risks", "Risk"))}}},
    "/api/v1/risks/{slug}": {"get": {
        "summary": "One risk's checklist for an audience, by phase.",
        "parameters": [
            {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "audience", "in": "query", "schema": {"enum": ["habitant", "benevole", "cellule"]}},
        ],
        "responses": {"200": answer("Checklist.", ref("Checklist")), "400": ERRORS["400"],
                      "404": answer("No such risk.", ref("Error"))},
    }},
    "/api/v1/contacts": {"get": {"summary": "The public contact sheet.",
                                 "responses": {"200": answer("Contacts.", listing("contacts", "Contact"))}}},
    "/api/v1/sites": {"get": {"summary": "Public sites (shelters, assembly, water, care) and their status.",
                              "responses": {"200": answer("Sites.", listing("sites", "Site"))}}},
}


# --- the operators' API: served only on the operators' listener (kit serve --admin-listen) ---

OPERATOR = [{"basic": []}]
DENIED = {"401": answer("No or wrong credentials.", ref("Error")),
          "403": answer("This account's role does not allow it.", ref("Error"))}


def operator(summary: str, body: dict | None, created: dict, *, ok="201", errors=("400",), params=()) -> dict:
    operation = {"summary": summary + " (operators' listener only)", "security": OPERATOR,
                 "responses": {ok: answer("Done.", created)} | DENIED
                 | {code: answer("Refused; `error` says why.", ref("Error")) for code in errors}}
    if body is not None:
        operation["requestBody"] = {"required": True} | json_content(body)
        operation["responses"]["415"] = answer("The body is not JSON (Content-Type: application/json).",
                                               ref("Error"))
    if params:
        operation["parameters"] = list(params)
    return operation


def path_param(name: str, schema: dict) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema}


SCHEMAS |= {
    "NewAlert": {
        "type": "object", "required": ["event", "headline"],
        "properties": {
            "msg_type": {"enum": ["Alert", "Update", "Cancel"]}, "references": {"type": "string"},
            "category": {"type": "string"}, "event": {"type": "string", "maxLength": 60},
            "urgency": {"type": "string"}, "severity": {"type": "string"}, "certainty": {"type": "string"},
            "response_type": {"type": "string"}, "headline": {"type": "string", "maxLength": 140},
            "description": {"type": "string", "maxLength": 500}, "instruction": {"type": "string", "maxLength": 280},
            "area": {"type": "string", "maxLength": 140},
            "expires": {"type": ["string", "integer"], "description": "ISO 8601 with offset, or unix seconds"},
        },
    },
    "Mode": {"type": "object", "properties": {"mode": {"enum": ["veille", "crise", "apres"]},
                                              "exercise": {"type": "boolean"},
                                              "active_risk": {"type": ["string", "null"]}}},
    "JournalEntry": {"type": "object", "required": ["id", "at", "author", "source", "action", "verification"],
                     "properties": {"id": {"type": "integer"}, "at": {"type": "integer"},
                                    "author": {"type": "string"}, "source": {"type": "string"},
                                    "action": {"type": "string"}, "subject": {"type": "string"},
                                    "detail": {"type": "string"}, "exercise": {"type": "integer"},
                                    "verification": {"enum": ["a_verifier", "en_cours", "verifiee"]}}},
}
CREATED = {"type": "object", "required": ["id"], "properties": {"id": {"type": ["string", "integer"]}}}
OPERATOR_PATHS = {
    "/api/v1/alerts": {"post": operator("Create, update or cancel an official alert, signed by this kit.",
                                        ref("NewAlert"), CREATED)},
    "/api/v1/mode": {"post": operator("Switch the mode, the exercise flag and the current risk.", ref("Mode"),
                                      ref("Mode"), ok="200")},
    "/api/v1/moderation": {"get": operator("Residents' posts waiting for approval.", None, {
        "type": "object", "required": ["pending"], "properties": {"pending": {"type": "array"}}},
        ok="200", errors=())},
    "/api/v1/moderation/{post_id}": {"post": operator(
        "Approve (it goes on the radio) or reject a resident's post.",
        {"type": "object", "required": ["decision"], "properties": {"decision": {"enum": ["approve", "reject"]}}},
        {"type": "object", "required": ["state"], "properties": {"state": {"type": "string"}}},
        ok="200", errors=("400", "404", "409"), params=[path_param("post_id", {"type": "integer"})])},
    "/api/v1/messages/{uid}/hide": {"post": operator(
        "Hide a shared message on every kit (a deletion that never comes undone).",
        {"type": "object", "properties": {"reason": {"type": "string"}}}, CREATED, errors=("400", "404"),
        params=[path_param("uid", {"type": "string"})])},
    "/api/v1/messages/{uid}/correct": {"post": operator(
        "Correct a shared message's text on every kit.",
        {"type": "object", "required": ["text"], "properties": {"text": {"type": "string", "maxLength": 280}}},
        CREATED, errors=("400", "404"), params=[path_param("uid", {"type": "string"})])},
    "/api/v1/journal": {
        "get": operator("The main courante, newest first.", None, {
            "type": "object", "required": ["entries"],
            "properties": {"entries": {"type": "array", "items": ref("JournalEntry")}}}, ok="200",
            params=[{"name": "since", "in": "query", "schema": {"type": "integer"}}]),
        "post": operator("Add a line to the main courante (volunteers too).",
                         {"type": "object", "required": ["detail"],
                          "properties": {"detail": {"type": "string"}, "subject": {"type": "string"}}}, CREATED),
    },
    "/api/v1/journal/{entry}/verification": {"post": operator(
        "Set an entry's verification state.",
        {"type": "object", "required": ["state"], "properties": {"state": {"enum": ["a_verifier", "en_cours", "verifiee"]}}},
        {"type": "object"}, ok="200", errors=("400", "404"), params=[path_param("entry", {"type": "integer"})])},
    "/api/v1/sites/{slug}/status": {"post": operator(
        "A site's status from the field (volunteers too): shown on every kit.",
        {"type": "object", "required": ["status"],
         "properties": {"status": {"type": "string"}, "present": {"type": "integer", "minimum": 0},
                        "capacity": {"type": "integer", "minimum": 0},
                        "needs": {"type": "array", "items": {"type": "string"}}}},
        CREATED, errors=("400", "404"), params=[path_param("slug", {"type": "string"})])},
}


def _merged_paths() -> dict:
    paths = {path: dict(operations) for path, operations in PATHS.items()}
    for path, operations in OPERATOR_PATHS.items():
        paths.setdefault(path, {}).update(operations)
    return paths


@lru_cache(maxsize=2)
def document(listener: str = "resident") -> dict:
    """The document of one listener: residents' never names the operators' routes (issue 13)."""
    if listener == "admin":
        return {
            "openapi": "3.1.0",
            "info": {"title": "Kit tous risques (crisis cell)", "version": "1",
                     "description": "Offline crisis kit: the public API, and the crisis cell's "
                                    "operations, served only on the operators' listener."},
            "paths": _merged_paths(),
            "components": {"schemas": SCHEMAS,
                           "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}}},
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Kit tous risques", "version": "1",
                 "description": "Offline crisis kit: public information, board, check-ins."},
        "paths": {path: dict(operations) for path, operations in PATHS.items()},
        "components": {"schemas": SCHEMAS},
    }
