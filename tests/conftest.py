import re

import pytest

from kit.core import config as kit_config
from kit.web.app import create_app


@pytest.fixture
def signing_key(tmp_path):
    """The mairie's key: this kit signs with it (and so trusts it)."""
    from kit.crypto import signing

    path = tmp_path / "mairie.key"
    signing.new_key(path)
    return path


@pytest.fixture
def app(tmp_path, signing_key):
    """A fresh kit on a temporary data folder (flaskr style), serving residents."""
    return create_app(kit_config.build(tmp_path / "data", TESTING=True, SIGNING_KEY=str(signing_key)))


@pytest.fixture
def admin_app(app):
    """The same kit's operators' listener (same data folder and keys)."""
    return create_app({"LISTENER": "admin"}, kit=app.extensions["kit"])


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, path):
    """Load a form page and read its CSRF token, as a browser would."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def post_form(client):
    """POST a form the way a browser does: with the token from the page."""
    def post(page, data, action=None, **kwargs):
        token = csrf_token(client, page)
        return client.post(action or page, data={"csrf_token": token, **data}, **kwargs)
    return post
