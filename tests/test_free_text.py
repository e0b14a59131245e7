"""One rule for free text (issue 13 item 14): no NUL, ESC, other C0/C1 controls, lone
surrogates or bidi overrides in alerts, messages and check-ins; the typed text survives."""
import base64

import pytest
from helpers import csrf_token

from kit.core import auth
from kit.core.text import bad_character
from kit.storage.db import connect

BAD = ["a\x00b", "a\x1b[2Jb", "abc\u202eevil", "x\u2066y", "x\x85y", "x\x7fy"]


@pytest.mark.parametrize("text", BAD)
def test_alert_text_refuses_controls(admin_app, text):
    password = auth.add_user(connect(admin_app.config["DATABASE"]), "adm1", "admin")
    basic = {"Authorization": "Basic " + base64.b64encode(f"adm1:{password}".encode()).decode()}
    for field in ("event", "headline", "instruction", "description", "area"):
        body = {"event": "Crue", "headline": "Montez", field: text}
        answer = admin_app.test_client().post("/api/v1/alerts", json=body, headers=basic)
        assert answer.status_code == 400 and field in answer.json["error"]


@pytest.mark.parametrize("text", BAD)
def test_messages_and_checkins_refuse_controls(client, text):
    assert client.post("/api/v1/messages", json={"kind": "board", "text": text}).status_code == 400
    assert client.post("/api/v1/safe", json={"name": "Jo " + text}).status_code == 400
    token = csrf_token(client, "/securite")
    page = client.post("/securite", data={"csrf_token": token, "name": "Jo Durand", "note": text})
    assert page.status_code == 400
    assert "Jo Durand" in page.get_data(as_text=True)  # what was typed is kept


def test_ordinary_text_passes():
    assert bad_character("Montez à l'étage.\nRDV à la salle des fêtes\t— 18 h 30 ✓ عربى") is None
    assert all(bad_character(t) for t in BAD)


@pytest.mark.parametrize("text", BAD)
def test_operator_api_free_text_refuses_controls(admin_app, text):
    password = auth.add_user(connect(admin_app.config["DATABASE"]), "adm1", "admin")
    basic = {"Authorization": "Basic " + base64.b64encode(f"adm1:{password}".encode()).decode()}
    client = admin_app.test_client()
    for path, body in (("/api/v1/messages/0a1b2c3d-1/hide", {"reason": text}),
                       ("/api/v1/messages/0a1b2c3d-1/correct", {"text": text}),
                       ("/api/v1/journal", {"detail": text}), ("/api/v1/journal", {"detail": "x", "subject": text})):
        assert client.post(path, json=body, headers=basic).status_code == 400, (path, body)
