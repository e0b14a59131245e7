"""Property tests (hypothesis) of both listeners with the shapes that gave 500s in issue 13:
deep nesting, lone surrogates, controls and bidi overrides, numbers too large for SQLite
or the clock, odd digits, newlines in paths and queries. Every route of each listener
(the operators' one logged in, its forms with a valid CSRF token) must answer < 500."""
import base64
import json
import re
from urllib.parse import quote

import pytest
from helpers import csrf_token, login
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.core import auth
from kit.core import config as kit_config
from kit.storage.db import connect
from kit.web.app import create_app

pytestmark = pytest.mark.slow

NASTY_TEXT = ["\ud800", "a\udfffb", "\x00", "\x1b[2J", "\u202eevil", "\u2066", "\x85", "\r\n", "%0a", "\n",
              "١٢", "１２", "²", "1_000", " 12", "9999-12-31", "0001-01-01", "2026-02-30", "0a1b2c3d-1",
              "0a1b2c3d-100000000000000000000", "kit-0a1b2c3d-١٢", "/%09/evil.example", "//evil",
              "\\\\evil", "x" * 5000, "", "null", "é" * 300]
NASTY_NUMBERS = [0, -1, 1e20, 2**63, 2**64, -(2**63) - 1, 10**30, 1.5, True]
RAW_NUMBERS = ["1e999", "-1e999", "NaN", "Infinity", "1e20", "100000000000000000000"]
FIELDS = ["name", "note", "text", "kind", "reason", "detail", "subject", "decision", "state", "status",
          "present", "capacity", "needs", "mode", "exercise", "active_risk", "event", "headline",
          "expires", "references", "msg_type", "severity", "area", "instruction", "description",
          "slug", "phone", "lat", "lon", "role", "disabled", "older_than", "days", "since", "au", "du",
          "next", "channel", "verification", "audience", "pour", "q", "with_vulnerable"]

scalars = st.one_of(st.sampled_from(NASTY_TEXT), st.sampled_from(NASTY_NUMBERS), st.text(max_size=40),
                    st.integers(), st.none())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.sampled_from(FIELDS), inner, max_size=3)),
                      max_leaves=8)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=6).map(json.dumps),
    st.sampled_from(RAW_NUMBERS).map(lambda n: '{"expires": %s, "present": %s, "since": %s}' % (n, n, n)),
    st.integers(min_value=500, max_value=3000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=500, max_value=3000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
)
queries = st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(NASTY_TEXT[:-3]), max_size=3)
PARAM_VALUES = ["0a1b2c3d-1", "0a1b2c3d-100000000000000000000", "%0a", "١٢", "inondation", "x" * 300,
                "local-1", "2147483647", "1", "%E9", "..", "fuzz2"]



@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kit")
    from kit.crypto.signing import new_key
    new_key(folder / "mairie.key")
    config = kit_config.build(folder / "data", SIGNING_KEY=str(folder / "mairie.key"),
                              RATE_LIMITS={"post": [(10**6, 60)], "lookup": [(10**6, 60)]})
    resident = create_app(config)
    admin = create_app({"LISTENER": "admin"}, kit=resident.extensions["kit"])
    password = auth.add_user(connect(config["DATABASE"]), "fuzz", "admin")
    return resident, admin, password


def routes(app, methods):
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & methods):
            if rule.rule in ("/admin/logout",) or "mot-de-passe" in rule.rule:
                continue  # would end the fuzzer's own session
            found.append((method, rule.rule))
    return sorted(found)


def fill(rule: str, draw_value) -> str:
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", lambda _m: draw_value, rule)


def query_string(query: dict) -> str:
    """As a client sends it: bytes, percent-encoded (a lone surrogate travels as its bytes)."""
    return "&".join(f"{k}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}" for k, v in query.items())


def check(answer, what):
    assert answer.status_code < 500, (what, answer.status_code, answer.get_data(as_text=True)[:300])


@pytest.fixture(scope="module")
def operator(apps):
    _resident, admin, password = apps
    client = admin.test_client()
    assert login(client, "fuzz", password).status_code == 303
    client.token = csrf_token(client, "/admin/")
    client.basic = {"Authorization": "Basic " + base64.b64encode(f"fuzz:{password}".encode()).decode()}
    return client


PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


@PROPERTY
@given(data=st.data())
def test_resident_listener_never_fails(apps, data):
    resident = apps[0]
    method, rule = data.draw(st.sampled_from(routes(resident, {"GET", "POST"})))
    path = fill(rule, data.draw(st.sampled_from(PARAM_VALUES)))
    client = resident.test_client()
    query = data.draw(queries)
    if method == "GET":
        check(client.get(path, query_string=query_string(query)), (method, path, query))
    else:
        body = data.draw(bodies)
        check(client.post(path, data=body.encode("utf-8", "surrogatepass"), content_type="application/json"),
              (method, path, body[:200]))


@PROPERTY
@given(data=st.data())
def test_admin_listener_never_fails(apps, operator, data):
    admin = apps[1]
    method, rule = data.draw(st.sampled_from(routes(admin, {"GET", "POST"})))
    path = fill(rule, data.draw(st.sampled_from(PARAM_VALUES)))
    query = data.draw(queries)
    if method == "GET":
        check(operator.get(path, query_string=query_string(query)), (method, path, query))
    elif path.startswith("/api/"):
        body = data.draw(bodies)
        check(operator.post(path, data=body.encode("utf-8", "surrogatepass"), content_type="application/json",
                            headers=operator.basic), (method, path, body[:200]))
    else:
        form = data.draw(st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(NASTY_TEXT[:-3]), max_size=6))
        body = query_string({"csrf_token": operator.token, **form})
        check(operator.post(path, data=body, content_type="application/x-www-form-urlencoded"), (method, path, form))
