"""Sessions end server-side (issue 13 item 8): a cookie kept after logout is refused, and
disabling then enabling an account does not bring its old sessions back."""
from helpers import csrf_token, login

from kit.core import auth
from kit.storage.db import connect


def copy_cookie(admin_app, client):
    """Another browser holding a copy of this client's session cookie."""
    thief = admin_app.test_client()
    thief.set_cookie("kit_admin", client.get_cookie("kit_admin").value)
    return thief


def test_logout_revokes_a_copied_cookie(admin_app):
    password = auth.add_user(connect(admin_app.config["DATABASE"]), "op1", "operator")
    client = admin_app.test_client()
    assert login(client, "op1", password).status_code == 303
    thief = copy_cookie(admin_app, client)
    assert thief.get("/admin/").status_code == 200
    token = csrf_token(client, "/admin/")
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 303
    assert thief.get("/admin/").status_code == 303  # to the login page


def test_disable_then_enable_does_not_revive_sessions(admin_app):
    db = connect(admin_app.config["DATABASE"])
    password = auth.add_user(db, "op1", "operator")
    client = admin_app.test_client()
    login(client, "op1", password)
    thief = copy_cookie(admin_app, client)
    auth.set_disabled(db, "op1", True)
    assert client.get("/admin/").status_code == 303
    auth.set_disabled(db, "op1", False)
    assert thief.get("/admin/").status_code == 303
    fresh = admin_app.test_client()
    assert login(fresh, "op1", password).status_code == 303 and fresh.get("/admin/").status_code == 200
