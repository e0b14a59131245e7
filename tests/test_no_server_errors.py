"""Every 500 found in issue 13 (item 12) answers a clear 4xx instead."""
import base64
import io

import pytest
from helpers import csrf_token, login

from kit.core import auth
from kit.crypto import envelope
from kit.exchange import bundle, tabular
from kit.storage import strict_json
from kit.storage.db import connect

DEEP = "[" * 1000 + "]" * 1000


@pytest.fixture
def operator(admin_app):
    password = auth.add_user(connect(admin_app.config["DATABASE"]), "adm1", "admin")
    client = admin_app.test_client()
    assert login(client, "adm1", password).status_code == 303
    client.basic = {"Authorization": "Basic " + base64.b64encode(f"adm1:{password}".encode()).decode()}
    return client


@pytest.mark.parametrize("path", ["/api/v1/messages", "/api/v1/safe"])
@pytest.mark.parametrize("body", [DEEP, '{"a":' * 1000 + "1" + "}" * 1000,
                                  '{"kind": "board", "text": "\\ud800", "name": "Jo Durand", "note": ""}',
                                  '{"kind": "board", "text": "x", "name": "\\udfff Jo"}',
                                  '{"text": NaN}', '{"text": 1e999}'])
def test_resident_json_bodies(client, path, body):
    answer = client.post(path, data=body, content_type="application/json")
    assert answer.status_code == 400, answer.get_data(as_text=True)


def test_language_switch_with_a_newline(client):
    assert client.get("/langue/fr?next=/%0a").status_code == 303


def test_unauthenticated_odd_admin_path(admin_app):
    answer = admin_app.test_client().get("/admin/donnees/registre/%0a")
    assert answer.status_code < 500


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2026-02-30"])
def test_main_courante_far_dates(operator, day):
    assert operator.get(f"/admin/main-courante?au={day}").status_code == 400
    assert operator.get(f"/admin/main-courante?du={day}").status_code == 400


@pytest.mark.parametrize("expires", [1e20, -1, "9999-12-31T23:59:59-14:00"])
def test_alert_expires_out_of_range(operator, expires):
    answer = operator.post("/api/v1/alerts", json={"event": "Crue", "headline": "Montez", "expires": expires},
                           headers=operator.basic)
    assert answer.status_code == 400 and "expires" in answer.json["error"]


def test_alert_expires_infinite(operator):
    answer = operator.post("/api/v1/alerts", data='{"event": "Crue", "headline": "Montez", "expires": 1e999}',
                           content_type="application/json", headers=operator.basic)
    assert answer.status_code == 400


@pytest.mark.parametrize("references", ["0a1b2c3d-100000000000000000000", "0a1b2c3d-١٢", "0a1b2c3d-1_2",
                                        " a1b2c3d-1", 12, "０a1b2c3d-1"])
def test_alert_reference_out_of_range(operator, references):
    answer = operator.post("/api/v1/alerts", json={"event": "Crue", "headline": "Fin", "msg_type": "Cancel",
                                                   "references": references}, headers=operator.basic)
    assert answer.status_code == 400 and "references" in answer.json["error"]


def upload(client, path, data: bytes):
    token = csrf_token(client, "/admin/donnees")
    return client.post(path, data={"csrf_token": token, "file": (io.BytesIO(data), "f")},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("data", [
    b"slug;name_fr\nx;" + b"a" * (200 * 1024) + b"\n",
    b'slug,name_fr\nx,"never closed\n',
    b"slug,name_fr,phone,grp,position\nx,y,112,national,100000000000000000000\n",
    "slug,name_fr,phone,grp,position\nx,y,112,national,١٢\n".encode(),
])
def test_csv_that_python_cannot_read(operator, data):
    answer = upload(operator, "/admin/donnees/contacts", data)
    assert answer.status_code == 400, answer.get_data(as_text=True)[:300]


def test_csv_errors_are_reported_not_raised(admin_app):
    db = connect(admin_app.config["DATABASE"])
    with pytest.raises(tabular.ImportError_):
        tabular.parse_csv(db, "contacts", b'slug,name_fr\nx,"never closed\n')


def test_signed_bundle_nested_too_deeply(app, operator):
    key = app.extensions["kit"].signing_key
    body = ('{"records": [], "content": ' + DEEP + "}").encode()
    signed = envelope.seal(bundle.FORMAT, bundle.VERSION, bundle.TAG, body, key)
    assert upload(operator, "/admin/donnees/paquet/import", signed).status_code == 400
    assert upload(operator, "/admin/donnees/paquet/import", DEEP.encode()).status_code == 400


def test_signed_bundle_with_a_huge_seq(app, operator):
    key = app.extensions["kit"].signing_key
    data = {"records": [{"kind": "board", "origin": 1, "seq": 10**20, "created_at": 1, "exercise": False,
                         "body": "{}"}], "content": {}}
    assert upload(operator, "/admin/donnees/paquet/import", bundle.seal(data, key)).status_code == 400


@pytest.mark.parametrize("identifier", ["kit-0a1b2c3d-١٢", "kit-0a1b2c3d-100000000000000000000"])
def test_cap_identifier_with_odd_digits(operator, identifier):
    cap = f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>{identifier}</identifier>
<sender>s</sender><sent>2026-11-22T18:00:00+01:00</sent><status>Actual</status><msgType>Alert</msgType>
<scope>Public</scope><info><category>Met</category><event>Crue</event><urgency>Immediate</urgency>
<severity>Severe</severity><certainty>Likely</certainty><headline>Montez</headline></info></alert>"""
    assert upload(operator, "/admin/donnees/cap", cap.encode()).status_code in (303, 400)


def test_strict_json_limits():
    for text in (DEEP, "NaN", "-Infinity", "1e999", '"\\ud800"', '{"\\udc00": 1}'):
        with pytest.raises(ValueError):
            strict_json.loads(text)
    assert strict_json.loads('{"a": [1, 2.5, "é"]}') == {"a": [1, 2.5, "é"]}


def test_the_captive_portal_is_not_on_the_admin_listener(admin_app):
    """Found by tests/test_web_properties.py: /welcome/open answered 500 there."""
    assert admin_app.test_client().get("/welcome/open").status_code == 404
