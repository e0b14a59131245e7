"""Login limits that no one can turn into a weapon (issue 13 items 5 and 7): per (account,
address) with backoff, per address whatever the account, never per account alone; one
name normalisation for the form and HTTP Basic; an atomic check-and-record."""
import base64
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import login
from waitress import create_server

from kit.core import auth
from kit.core import config as kit_config
from kit.storage.db import connect
from kit.web.ratelimit import Backoff


def basic(name, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


@pytest.fixture
def account(admin_app):
    return "adm1", auth.add_user(connect(admin_app.config["DATABASE"]), "adm1", "admin")


def test_failures_from_one_address_do_not_lock_out_another(admin_app, account):
    name, password = account
    attacker = admin_app.test_client()
    for _ in range(5):
        assert login(attacker, name, "not-the-password").status_code == 401
    refused = login(attacker, name, password)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    operator = admin_app.test_client()
    assert login(operator, name, password).status_code == 429  # same address (test client)
    other = {"REMOTE_ADDR": "10.0.0.9"}
    assert operator.get("/api/v1/journal", headers=basic(name, password), environ_base=other).status_code == 200


def test_basic_with_spaces_counts_against_the_same_account(admin_app, account):
    name, password = account
    client = admin_app.test_client()
    for spelling in (" adm1", "ADM1 ", " Adm1", "adm1\t", "adm1"):
        assert client.get("/api/v1/journal", headers=basic(spelling, "wrong")).status_code == 401
    assert login(client, name, password).status_code == 429
    assert client.get("/api/v1/journal", headers=basic(name, password)).status_code == 401


def test_the_wait_doubles_then_a_success_forgets_it():
    now = [0.0]
    limiter = Backoff(free=3, base=10, cap=60, clock=lambda: now[0])
    assert [limiter.attempt("k") for _ in range(3)] == [0, 0, 0]
    assert limiter.attempt("k") == 10
    waits = []
    for _ in range(4):
        now[0] += limiter.attempt("k")
        assert limiter.attempt("k") == 0
        waits.append(limiter.attempt("k"))
    assert waits == [20, 40, 60, 60]
    now[0] += 60
    assert limiter.attempt("k") == 0
    limiter.succeeded("k")
    assert [limiter.attempt("k") for _ in range(3)] == [0, 0, 0]


def test_a_shared_address_is_only_forgiven_its_own_success():
    limiter = Backoff(free=3, base=10, cap=60, clock=lambda: 0.0)
    assert limiter.attempt("a") == 0 and limiter.attempt("a") == 0
    limiter.succeeded("a", forgive_all=False)
    assert limiter.attempt("a") == 0 and limiter.attempt("a") == 0
    assert limiter.attempt("a") == 10


@pytest.fixture
def admin_url(admin_app):
    server = create_server(admin_app, host="127.0.0.1", port=0, **{**kit_config.WAITRESS, "threads": 6})
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)


def test_fifty_concurrent_tries_get_at_most_the_limit(admin_url, account):
    """A real waitress server, 50 wrong passwords at once: at most 5 are checked (401)."""
    with urllib.request.urlopen(f"{admin_url}/admin/login") as page:
        cookie = page.headers["Set-Cookie"].split(";")[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())[1]
    body = urllib.parse.urlencode({"csrf_token": token, "name": account[0], "password": "wrong"}).encode()

    def attempt(_):
        request = urllib.request.Request(f"{admin_url}/admin/login", data=body, headers={"Cookie": cookie})
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status
        except urllib.error.HTTPError as refused:
            return refused.code

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(attempt, range(50)))
    assert statuses.count(401) <= 5 and statuses.count(401) + statuses.count(429) == 50, statuses
