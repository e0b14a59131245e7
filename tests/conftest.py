import os

import pytest
from helpers import CHROMIUM, CHROMIUM_FLAGS, check_requirements, csrf_token

from kit.core import config as kit_config
from kit.web.app import create_app

# The system test (tests/system/) boots a container: `make system-test` runs it on its own.
collect_ignore = [] if os.environ.get("KIT_SYSTEM_TEST") else ["system"]


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


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by playwright (never a downloaded browser), for the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def post_form(client):
    """POST a form the way a browser does: with the token from the page."""
    def post(page, data, action=None, **kwargs):
        token = csrf_token(client, page)
        return client.post(action or page, data={"csrf_token": token, **data}, **kwargs)
    return post


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """`@pytest.mark.requires(ok, why)`: skip when not ok, fail under CI (helpers.environment_skip),
    before the test's fixtures are set up."""
    check_requirements(item)
