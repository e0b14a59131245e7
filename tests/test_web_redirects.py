"""Redirect targets from `?next=` stay on this kit (issue 13 items 4 and 12)."""
import pytest
from helpers import csrf_token

from kit.core import auth
from kit.storage.db import connect
from kit.web.redirects import safe_target

OFFSITE = ["/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example", "/%5Cevil.example",
           "/\\evil.example", "//evil.example", "https://evil.example", "javascript:alert(1)",
           "/%00", "/%0a", "%2F%2Fevil.example", "/%7F/evil.example"]


@pytest.mark.parametrize("target", OFFSITE)
def test_language_switch_never_leaves_the_kit(client, target):
    answer = client.get(f"/langue/fr?next={target}")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/"


def test_language_switch_keeps_own_pages(client):
    assert client.get("/langue/en?next=/risques/inondation?pour=benevole").headers["Location"] == \
        "/risques/inondation?pour=benevole"
    assert client.get("/langue/en?next=/lieux%C3%A9").headers["Location"] == "/lieux%C3%A9"


@pytest.mark.parametrize("target", ["/%09/evil.example", "//evil.example", "/contacts", "/admin\\x"])
def test_login_goes_back_to_admin_pages_only(admin_app, target):
    password = auth.add_user(connect(admin_app.config["DATABASE"]), "adm1", "admin")
    client = admin_app.test_client()
    token = csrf_token(client, "/admin/login")
    answer = client.post(f"/admin/login?next={target}",
                         data={"csrf_token": token, "name": "adm1", "password": password})
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/"


def test_login_redirect_quotes_the_path(admin_app):
    """An odd path (a newline) sends to the login page instead of a 500."""
    answer = admin_app.test_client().get("/admin/donnees/registre/%0a")
    assert answer.status_code in (303, 404)
    assert "\n" not in answer.headers.get("Location", "")


def test_helper_refuses_what_browsers_rewrite():
    for target in ("/\t/evil.example", "/\n", "/\\evil", "//x", "http://x/", "", None, "x"):
        assert safe_target(target) == "/"
    assert safe_target("/admin/x", "/admin/", prefix="/admin/") == "/admin/x"
    assert safe_target("/x", "/admin/", prefix="/admin/") == "/admin/"
