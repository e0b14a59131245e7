"""The operators' API refuses what a foreign page could make a browser send (issue 13
item 9): non-JSON bodies, and requests whose Origin or Sec-Fetch-Site says another site."""
import base64

import pytest
from helpers import login

from kit.core import auth
from kit.storage import settings
from kit.storage.db import connect

ROUTES = ["/api/v1/messages/0a1b2c3d-1/hide", "/api/v1/mode", "/api/v1/journal", "/api/v1/alerts"]


@pytest.fixture
def session(admin_app):
    password = auth.add_user(connect(admin_app.config["DATABASE"]), "adm1", "admin")
    client = admin_app.test_client()
    assert login(client, "adm1", password).status_code == 303
    client.basic = {"Authorization": "Basic " + base64.b64encode(f"adm1:{password}".encode()).decode()}
    return client


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain",
                                          None])
def test_cookie_or_basic_with_a_form_body_is_refused(session, path, content_type):
    for headers in ({}, session.basic):
        kwargs = {"data": "reason=spam&mode=crise"} if content_type else {}
        answer = session.post(path, content_type=content_type, headers=headers, **kwargs)
        assert answer.status_code == 415, (path, content_type, answer.status_code)
    assert settings.get(connect(session.application.config["DATABASE"]), "mode") == "veille"


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"},
                                     {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}])
def test_another_origin_is_refused(session, headers):
    answer = session.post("/api/v1/mode", json={"mode": "crise"}, headers=headers)
    assert answer.status_code == 403


def test_same_origin_and_scripts_are_served(session):
    same = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert session.post("/api/v1/mode", json={"mode": "crise"}, headers=same).status_code == 200
    assert session.application.test_client().post("/api/v1/mode", json={"mode": "veille"},
                                                  headers=session.basic).status_code == 200
