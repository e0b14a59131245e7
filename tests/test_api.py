"""The JSON API matches its OpenAPI document, route by route."""
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from kit.web.openapi import document


@pytest.fixture(scope="module")
def spec():
    """The operators' listener's document: every route (the residents' is a part of it)."""
    return document("admin")


def validate(spec, schema, instance):
    """Validate against a schema of the document, its #/components refs resolved."""
    registry = Registry().with_resource("urn:kit", Resource.from_contents(spec, default_specification=DRAFT202012))
    errors = list(Draft202012Validator(_rebase(schema), registry=registry).iter_errors(instance))
    assert not errors, [e.message for e in errors]


def _rebase(node):
    if isinstance(node, dict):
        return {k: ("urn:kit" + v if k == "$ref" else _rebase(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node


def check_response(spec, path, method, response):
    operation = spec["paths"][path][method]
    answer = operation["responses"].get(str(response.status_code))
    assert answer is not None, f"{method.upper()} {path} answered {response.status_code}, not documented"
    assert response.mimetype == "application/json"
    validate(spec, answer["content"]["application/json"]["schema"], response.json)


def api_routes(app) -> set:
    import re
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api"):
            path = re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((path, method.lower()))
    return routes


def test_every_api_route_is_documented(app, admin_app, spec):
    documented = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    operator_only = {(p, m) for p, ops in spec["paths"].items() for m, op in ops.items() if "security" in op}
    assert api_routes(app) == documented - operator_only   # the Wi-Fi side: public routes only
    assert api_routes(admin_app) == documented
    residents = document("resident")
    assert {(p, m) for p, ops in residents["paths"].items() for m in ops} == api_routes(app)


def test_openapi_served(client, admin_app, spec):
    """Each listener serves its own document: the residents' never names operator routes
    (issue 13 item 14)."""
    public = client.get("/api/openapi.json").json
    assert public == document("resident")
    assert not [p for p, ops in public["paths"].items() for op in ops.values() if "security" in op]
    assert "securitySchemes" not in public["components"]
    assert admin_app.test_client().get("/api/openapi.json").json == spec


def test_read_routes_match_their_schemas(client, spec):
    for path in ("/api/v1/status", "/api/v1/messages", "/api/v1/alerts", "/api/v1/risks",
                 "/api/v1/contacts", "/api/v1/sites"):
        check_response(spec, path, "get", client.get(path))
    check_response(spec, "/api/v1/risks/{slug}", "get", client.get("/api/v1/risks/inondation"))
    check_response(spec, "/api/v1/risks/{slug}", "get", client.get("/api/v1/risks/nope"))
    check_response(spec, "/api/v1/risks/{slug}", "get", client.get("/api/v1/risks/inondation?audience=x"))


def test_status(client, spec):
    status = client.get("/api/v1/status").json
    assert status["mode"] == "veille" and status["exercise"] is False
    assert status["radio"]["state"] == "none"
    assert status["kit_id"].startswith("kit-")


def test_post_waits_for_moderation_then_lists_with_cursor(app, client, spec):
    created = client.post("/api/v1/messages", json={"kind": "need", "text": "Couvertures", "name": "Zoé"})
    assert created.status_code == 201 and created.json == {"id": "local-1", "pending": True}
    check_response(spec, "/api/v1/messages", "post", created)
    listing = client.get("/api/v1/messages").json
    assert listing["messages"] == [] and [m["text"] for m in listing["pending"]] == ["Couvertures"]
    kit = app.extensions["kit"]
    origin = kit.origin
    approved = kit.approve_post(1, "op")
    first = client.get("/api/v1/messages").json
    check_response(spec, "/api/v1/messages", "get", client.get("/api/v1/messages"))
    assert [m["text"] for m in first["messages"]] == ["Couvertures"] and first["pending"] == []
    assert first["messages"][0]["id"] == f"{origin:08x}-{approved.seq}"
    client.post("/api/v1/messages", json={"kind": "board", "text": "Pont fermé"})
    kit.approve_post(2, "op")
    newer = client.get(f"/api/v1/messages?since={first['cursor']}").json
    assert [m["text"] for m in newer["messages"]] == ["Pont fermé"]
    only_needs = client.get("/api/v1/messages?kind=need").json["messages"]
    assert [m["kind"] for m in only_needs] == ["need"]


@pytest.mark.parametrize("body, fragment", [
    ({"kind": "board"}, "Message"),
    ({"kind": "gossip", "text": "x"}, "kind"),
    ({"kind": "radio", "text": "x"}, "kind"),  # radio texts come from the mesh, not from phones
    ({"kind": "board", "text": "x" * 281}, "281"),
    ({"kind": "board", "text": 42}, "strings"),
    ({"kind": "board", "text": "ok", "name": "n" * 41}, "41"),
])
def test_bad_messages_get_a_clear_json_error(client, spec, body, fragment):
    response = client.post("/api/v1/messages", json=body)
    assert response.status_code == 400
    check_response(spec, "/api/v1/messages", "post", response)
    assert fragment in response.json["error"]


def test_malformed_json_and_invalid_utf8(client):
    for data in (b"{not json", b'{"kind": "board", "text": "caf\xe9"}', b"[1, 2]"):
        response = client.post("/api/v1/messages", data=data, content_type="application/json")
        assert response.status_code == 400 and "JSON" in response.json["error"]


def test_api_rate_limit(client, spec):
    codes = [client.post("/api/v1/messages", json={"kind": "board", "text": f"n{i}"}).status_code
             for i in range(6)]
    assert codes == [201] * 5 + [429]
    response = client.post("/api/v1/messages", json={"kind": "board", "text": "again"})
    check_response(spec, "/api/v1/messages", "post", response)
    assert int(response.headers["Retry-After"]) > 0


def test_checkin_and_lookup(client, spec):
    created = client.post("/api/v1/safe", json={"name": "Élodie Martin", "note": "Chez ma sœur"})
    assert created.status_code == 201
    check_response(spec, "/api/v1/safe", "post", created)
    found = client.get("/api/v1/safe?name=elodie%20martin")
    check_response(spec, "/api/v1/safe", "get", found)
    assert [c["note"] for c in found.json["checkins"]] == ["Chez ma sœur"]
    assert client.get("/api/v1/safe?name=martin").json["checkins"] == []
    short = client.get("/api/v1/safe?name=al")
    assert short.status_code == 400
    check_response(spec, "/api/v1/safe", "get", short)
    assert client.get("/api/v1/safe").status_code == 400
    # check-ins never appear in the public messages
    assert "Élodie" not in client.get("/api/v1/messages").get_data(as_text=True)


def test_api_errors_are_json(client):
    assert client.get("/api/v1/nothing").json["error"]
    assert client.delete("/api/v1/messages").status_code == 405


def test_numbers_too_big_for_the_database_are_refused(client, admin_app):
    assert client.get("/api/v1/messages?since=99999999999999999999999").status_code == 400
    assert client.get("/api/v1/messages?since=-1").status_code == 400
    assert admin_app.test_client().post("/api/v1/moderation/99999999999999999999999",
                                        json={"decision": "reject"}).status_code in (401, 404)
