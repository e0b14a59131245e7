"""The crisis cell's side: accounts, the separate listener, permissions, alerts, moderation."""
import base64

import pytest
from helpers import login

from kit.core import auth, journal
from kit.storage.db import connect


def basic(name, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


@pytest.fixture
def accounts(app):
    db = connect(app.config["DATABASE"])
    return {role: (f"{role}1", auth.add_user(db, f"{role}1", role)) for role in auth.ROLES}


@pytest.fixture
def as_role(admin_app, accounts):
    def headers(role):
        return basic(*accounts[role])
    return headers


def test_a_new_kit_has_no_account_and_no_default_password(admin_app):
    client = admin_app.test_client()
    db = connect(admin_app.config["DATABASE"])
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    for name, password in [("admin", "admin"), ("admin", "password"), ("admin", ""), ("root", "root"),
                           ("kit", "kit"), ("operator", "operator")]:
        response = client.post("/api/v1/mode", json={"mode": "crise"}, headers=basic(name, password))
        assert response.status_code == 401


def test_operator_routes_do_not_exist_on_the_residents_wifi(app, accounts):
    client = app.test_client()
    assert client.get("/admin/login").status_code == 404
    assert client.post("/api/v1/alerts", json={}, headers=basic(*accounts["admin"])).status_code in (404, 405)
    assert client.post("/api/v1/mode", json={"mode": "crise"}, headers=basic(*accounts["admin"])).status_code == 404
    operator_rules = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/admin")}
    assert operator_rules == set()


def test_permission_matrix(admin_app, as_role):
    """Every operator route, for every role: who may, who may not."""
    client = admin_app.test_client()
    routes = {  # (method, path, body): lowest role allowed
        ("POST", "/api/v1/alerts", '{"event": "x", "headline": "y"}'): "operator",
        ("POST", "/api/v1/mode", '{"mode": "veille"}'): "operator",
        ("GET", "/api/v1/moderation", None): "operator",
        ("POST", "/api/v1/moderation/1", '{"decision": "reject"}'): "operator",
        ("POST", "/api/v1/messages/00000001-1/hide", "{}"): "operator",
        ("POST", "/api/v1/messages/00000001-1/correct", '{"text": "t"}'): "operator",
        ("GET", "/api/v1/journal", None): "operator",
        ("POST", "/api/v1/journal", '{"detail": "appel de la préfecture"}'): "volunteer",
        ("POST", "/api/v1/journal/1/verification", '{"state": "en_cours"}'): "operator",
        ("POST", "/api/v1/sites/x/status", '{"status": "ouvert"}'): "volunteer",
    }
    documented = {(m, p) for (m, p, _b) in routes}
    for rule in admin_app.url_map.iter_rules():
        if rule.endpoint.startswith("api_operator."):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                import re
                path = re.sub(r"<[^>]*(post_id|entry)>", "1", rule.rule) \
                    .replace("<uid>", "00000001-1").replace("<slug>", "x")
                assert (method, path) in documented, f"{method} {rule.rule} missing from the matrix"
    for (method, path, data), lowest in routes.items():
        kwargs = {"data": data, "content_type": "application/json"} if data else {}
        assert client.open(path, method=method, **kwargs).status_code == 401, path
        for role in auth.ROLES:
            status = client.open(path, method=method, headers=as_role(role), **kwargs).status_code
            if auth.can(role, lowest):
                assert status not in (401, 403), (path, role, status)
            else:
                assert status == 403, (path, role, status)


def test_admin_pages_need_a_login(admin_app, accounts):
    client = admin_app.test_client()
    response = client.get("/admin/")
    assert response.status_code == 303 and response.headers["Location"].startswith("/admin/login")


def test_login_session_cookie_and_logout_needs_csrf(admin_app, accounts):
    client = admin_app.test_client()
    response = login(client, *accounts["operator"])
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and cookie.startswith("kit_admin=")
    assert client.get("/admin/").status_code == 200
    assert client.post("/admin/logout").status_code == 400  # no CSRF token
    assert client.get("/admin/").status_code == 200


def test_wrong_password_and_rate_limit(admin_app, accounts):
    client = admin_app.test_client()
    name, password = accounts["admin"]
    for _ in range(5):
        assert login(client, name, "not-the-password").status_code == 401
    assert login(client, name, password).status_code == 429  # even the right one, for a while
    other = admin_app.test_client()  # but not from another address (issue 13: not a weapon)
    assert other.post("/api/v1/mode", json={"mode": "crise"}, headers=basic(name, password),
                      environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 200


def test_changing_a_password_ends_sessions(admin_app, accounts):
    client = admin_app.test_client()
    login(client, *accounts["operator"])
    assert client.get("/admin/").status_code == 200
    auth.set_password(connect(admin_app.config["DATABASE"]), accounts["operator"][0])
    assert client.get("/admin/").status_code == 303


def test_signed_alert_is_verified_and_shown(app, admin_app, as_role):
    client = admin_app.test_client()
    response = client.post("/api/v1/alerts", headers=as_role("operator"), json={
        "event": "Crue de la Vézène", "headline": "Montez à l'étage", "severity": "Extreme",
        "urgency": "Immediate", "certainty": "Observed", "category": "Met", "response_type": "Shelter",
        "instruction": "Quittez le rez-de-chaussée", "area": "Quartier des Grèves",
        "expires": "2099-01-01T00:00:00+01:00"})
    assert response.status_code == 201, response.json
    listed = app.test_client().get("/api/v1/alerts").json["alerts"]
    assert [(a["headline"], a["verified"], a["severity"]) for a in listed] == [("Montez à l'étage", True, "Extreme")]
    assert "Montez à l&#39;étage" in app.test_client().get("/").get_data(as_text=True)
    db = connect(app.config["DATABASE"])
    assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1  # on its way to the radio
    assert [e["action"] for e in journal.entries(db)][:1] == ["alert.create"]


def test_alert_update_and_cancel(app, admin_app, as_role):
    client = admin_app.test_client()
    first = client.post("/api/v1/alerts", headers=as_role("operator"),
                        json={"event": "Canicule", "headline": "Vigilance orange"}).json["id"]
    client.post("/api/v1/alerts", headers=as_role("operator"),
                json={"event": "Canicule", "headline": "Vigilance rouge", "msg_type": "Update", "references": first})
    assert [a["headline"] for a in app.test_client().get("/api/v1/alerts").json["alerts"]] == ["Vigilance rouge"]
    second = app.test_client().get("/api/v1/alerts").json["alerts"][0]["id"]
    client.post("/api/v1/alerts", headers=as_role("operator"),
                json={"event": "Canicule", "headline": "Fin", "msg_type": "Cancel", "references": second})
    assert app.test_client().get("/api/v1/alerts").json["alerts"] == []


@pytest.mark.parametrize("body, fragment", [
    ({"headline": "x"}, "event"),
    ({"event": "x", "headline": "y", "severity": "Terrible"}, "Extreme"),
    ({"event": "x", "headline": "y" * 141}, "141"),
    ({"event": "x", "headline": "y", "msg_type": "Update"}, "references"),
    ({"event": "x", "headline": "y", "expires": "2020-01-01T00:00:00+00:00"}, "past"),
    ({"event": "x", "headline": "y", "expires": "demain"}, "date"),
])
def test_bad_alerts_are_refused_clearly(admin_app, as_role, body, fragment):
    response = admin_app.test_client().post("/api/v1/alerts", headers=as_role("operator") | {"Accept-Language": "en"},
                                            json=body)
    assert response.status_code == 400 and fragment in response.json["error"]


def test_exercise_mode_marks_everything(app, admin_app, as_role):
    client = admin_app.test_client()
    assert client.post("/api/v1/mode", headers=as_role("operator"),
                       json={"mode": "crise", "exercise": True, "active_risk": "inondation"}).status_code == 200
    client.post("/api/v1/alerts", headers=as_role("operator"), json={"event": "Crue", "headline": "Exercice crue"})
    alert = app.test_client().get("/api/v1/alerts").json["alerts"][0]
    assert alert["exercise"] is True and alert["status"] == "Exercise"
    home = app.test_client().get("/").get_data(as_text=True)
    assert "EXERCICE EXERCICE EXERCICE" in home and "EXERCICE — Exercice crue" in home
    status = app.test_client().get("/api/v1/status").json
    assert status["mode"] == "crise" and status["exercise"] is True


def test_moderation_approve_reject_hide_correct(app, admin_app, as_role):
    resident = app.test_client()
    resident.post("/api/v1/messages", json={"kind": "board", "text": "Eau potable au gymase"})
    resident.post("/api/v1/messages", json={"kind": "board", "text": "Achetez mes bougies"})
    operator = admin_app.test_client()
    queue = operator.get("/api/v1/moderation", headers=as_role("operator")).json["pending"]
    assert [p["text"] for p in queue] == ["Eau potable au gymase", "Achetez mes bougies"]
    approved = operator.post(f"/api/v1/moderation/{queue[0]['id']}", headers=as_role("operator"),
                             json={"decision": "approve"}).json["id"]
    operator.post(f"/api/v1/moderation/{queue[1]['id']}", headers=as_role("operator"), json={"decision": "reject"})
    assert operator.post(f"/api/v1/moderation/{queue[1]['id']}", headers=as_role("operator"),
                         json={"decision": "approve"}).status_code == 409
    board = resident.get("/api/v1/messages").json
    assert [m["text"] for m in board["messages"]] == ["Eau potable au gymase"] and board["pending"] == []
    operator.post(f"/api/v1/messages/{approved}/correct", headers=as_role("operator"),
                  json={"text": "Eau potable au gymnase"})
    assert [m["text"] for m in resident.get("/api/v1/messages").json["messages"]] == ["Eau potable au gymnase"]
    operator.post(f"/api/v1/messages/{approved}/hide", headers=as_role("operator"), json={"reason": "obsolète"})
    assert resident.get("/api/v1/messages").json["messages"] == []
    actions = [e["action"] for e in operator.get("/api/v1/journal", headers=as_role("operator")).json["entries"]]
    assert {"moderation.approve", "moderation.reject", "message.correct", "message.hide"} <= set(actions)


def test_volunteer_reports_a_site_status(app, admin_app, as_role):
    db = connect(app.config["DATABASE"])
    slug = db.execute("SELECT slug FROM sites WHERE type='hebergement' LIMIT 1").fetchone()[0]
    response = admin_app.test_client().post(f"/api/v1/sites/{slug}/status", headers=as_role("volunteer"),
                                            json={"status": "ouvert", "present": 12, "capacity": 80,
                                                  "needs": ["eau"]})
    assert response.status_code == 201
    site = [s for s in app.test_client().get("/api/v1/sites").json["sites"] if s["slug"] == slug][0]
    assert (site["status"], site["present"], site["capacity"]) == ("ouvert", 12, 80)


def test_main_courante_entries_and_verification(admin_app, as_role):
    client = admin_app.test_client()
    entry = client.post("/api/v1/journal", headers=as_role("volunteer"),
                        json={"detail": "Appel : route D12 coupée au lieu-dit Les Aulnes"}).json["id"]
    client.post(f"/api/v1/journal/{entry}/verification", headers=as_role("operator"), json={"state": "verifiee"})
    found = [e for e in client.get("/api/v1/journal", headers=as_role("operator")).json["entries"] if e["id"] == entry]
    assert found[0]["verification"] == "verifiee" and found[0]["author"] == "volunteer1"
