"""The two listeners sign with their own keys and name their cookies apart (issue 13 item 13)."""
import pytest
from flask.sessions import SecureCookieSessionInterface
from helpers import csrf_token
from itsdangerous import BadSignature


def serializer(app):
    return SecureCookieSessionInterface().get_signing_serializer(app)


def test_keys_and_cookie_names_differ(app, admin_app):
    assert app.secret_key != admin_app.secret_key
    assert len(app.secret_key) == len(admin_app.secret_key) == 32
    assert app.secret_key != app.extensions["kit"].config["SECRET_KEY"]  # derived, not the master
    assert app.config["SESSION_COOKIE_NAME"] != admin_app.config["SESSION_COOKIE_NAME"]


def test_a_residents_cookie_is_worthless_on_the_admin_listener(app, admin_app):
    forged = serializer(app).dumps({"user": "adm1", "stamp": "x"})
    with pytest.raises(BadSignature):
        serializer(admin_app).loads(forged)
    resident = app.test_client()
    token = csrf_token(resident, "/securite")
    operator = admin_app.test_client()
    operator.set_cookie(admin_app.config["SESSION_COOKIE_NAME"],
                        resident.get_cookie(app.config["SESSION_COOKIE_NAME"]).value)
    answer = operator.post("/admin/login", data={"csrf_token": token, "name": "x", "password": "y"})
    assert answer.status_code == 400  # the residents' session and CSRF token mean nothing here
