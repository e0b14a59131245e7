"""/admin/donnees: who may do what, uploads and downloads, every action in the main courante."""
import csv
import io
import json
import re

import pytest
from helpers import csrf_token, login
from test_exchange_support import alert, db_of, english, fill, make_kit, new_key  # noqa: F401 (fixture)

from kit.core import auth, journal
from kit.crypto import own_key
from kit.crypto.signing import load_key, public_key_text
from kit.exchange import cap
from kit.storage import settings

pytestmark = pytest.mark.usefixtures("english")


def token(client, path="/admin/donnees"):
    return csrf_token(client, path)


@pytest.fixture
def accounts(app):
    db = db_of(app)
    return {role: (f"{role}1", auth.add_user(db, f"{role}1", role)) for role in auth.ROLES}


@pytest.fixture
def as_role(admin_app, accounts):
    def client(role):
        c = admin_app.test_client()
        login(c, *accounts[role], lang="en")
        return c
    return client


def upload(client, path, data: bytes, name="fichier", **fields):
    return client.post(path, data={"csrf_token": token(client), "file": (io.BytesIO(data), name), **fields},
                       content_type="multipart/form-data")


def actions(app):
    return [e["action"] for e in journal.entries(db_of(app))]


def test_permission_matrix(app, admin_app, as_role):
    routes = {  # (method, path): lowest role
        ("GET", "/admin/donnees"): "operator",
        ("GET", "/admin/donnees/contacts.csv"): "operator",
        ("GET", "/admin/donnees/sites.csv"): "operator",
        ("POST", "/admin/donnees/contacts"): "operator",
        ("POST", "/admin/donnees/sites"): "operator",
        ("GET", "/admin/donnees/contacts.vcf"): "operator",
        ("GET", "/admin/donnees/cap/00000001-1.xml"): "operator",
        ("POST", "/admin/donnees/cap"): "operator",
        ("POST", "/admin/donnees/paquet"): "operator",
        ("POST", "/admin/donnees/paquet/import"): "operator",
        ("GET", "/admin/donnees/chronologie.csv"): "operator",
        ("GET", "/admin/donnees/chronologie"): "operator",
        ("POST", "/admin/donnees/sauvegarde"): "admin",
        ("POST", "/admin/donnees/restauration"): "admin",
        ("POST", "/admin/donnees/purge"): "admin",
        ("POST", "/admin/donnees/conservation"): "admin",
        ("GET", "/admin/donnees/registre"): "admin",
        ("GET", "/admin/donnees/registre/nouveau"): "admin",
        ("POST", "/admin/donnees/registre/nouveau"): "admin",
        ("GET", "/admin/donnees/registre/x"): "admin",
        ("POST", "/admin/donnees/registre/x"): "admin",
        ("POST", "/admin/donnees/registre/x/retirer"): "admin",
    }
    for rule in admin_app.url_map.iter_rules():
        if rule.endpoint.startswith("data."):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                path = re.sub(r"<any\([^)]*\):table>", "contacts", rule.rule)
                path = path.replace("<uid>", "00000001-1").replace("<entry_id>", "x")
                assert (method, path) in routes, f"{method} {rule.rule} missing from the matrix"
    resident = app.test_client()
    clients = {role: as_role(role) for role in auth.ROLES}
    for (method, path), lowest in routes.items():
        assert resident.open(path, method=method).status_code in (404, 405), path
        for role, client in clients.items():
            data = {"csrf_token": token(client, "/admin/")} if method == "POST" else None
            status = client.open(path, method=method, data=data).status_code
            assert (status == 403) != auth.can(role, lowest), (method, path, role, status)


def test_csv_upload_reports_rows_and_writes_nothing(app, as_role):
    client = as_role("operator")
    text = client.get("/admin/donnees/sites.csv?hxl=1").get_data(as_text=True)
    assert text.splitlines()[1].startswith("#")
    rows = list(csv.reader(io.StringIO(text)))
    rows[2][rows[0].index("lat")] = "nord"
    bad = io.StringIO()
    csv.writer(bad).writerows(rows)
    response = upload(client, "/admin/donnees/sites", bad.getvalue().encode(), "sites.csv")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "lat" in page and "3" in page
    assert "sites.import" not in actions(app)
    assert upload(client, "/admin/donnees/sites", text.encode(), "sites.csv").status_code == 303
    assert {"sites.export", "sites.import"} <= set(actions(app))
    assert client.get("/admin/donnees/contacts.vcf").mimetype == "text/vcard"


def test_cap_download_and_upload(app, admin_app, as_role, signing_key, tmp_path):
    db = db_of(app)
    settings.put(db, "exercise", "1")
    made = alert(db, signing_key, exercise=True)
    client = as_role("operator")
    page = client.get("/admin/donnees").get_data(as_text=True)
    uid = f"{made.origin:08x}-{made.seq}"
    assert f"/admin/donnees/cap/{uid}.xml" in page and "EXERCICE" in page
    xml = client.get(f"/admin/donnees/cap/{uid}.xml")
    assert xml.mimetype == "application/cap+xml" and b"<status>Exercise</status>" in xml.data
    refused = upload(client, "/admin/donnees/cap", xml.data, "alerte.xml")
    assert refused.status_code == 400 and "already on this kit" in refused.get_data(as_text=True)
    key_b, _pub = new_key(tmp_path / "b.key")
    other = make_kit(tmp_path / "b", key_path=key_b, listener="admin")
    client_b = other.test_client()
    login(client_b, "op", auth.add_user(db_of(other), "op", "operator"), lang="en")
    assert upload(client_b, "/admin/donnees/cap", xml.data, "alerte.xml").status_code == 303
    assert db_of(other).execute("SELECT exercise, verified FROM alerts").fetchall() == [(1, 1)]
    assert "cap.import" in actions(other)


def test_bundle_between_two_kits_through_the_pages(app, as_role, signing_key, tmp_path):
    fill(db_of(app), signing_key)
    client = as_role("operator")
    other = make_kit(tmp_path / "b", trust=[public_key_text(load_key(signing_key))], listener="admin")
    kit_b = own_key.public_text(other.config["DATA_DIR"])     # check-ins sealed for kit B
    bad = client.post("/admin/donnees/paquet", data={"csrf_token": token(client), "personal_for": "pas-une-clé"})
    assert bad.status_code == 400 and "pas-une-clé" in bad.get_data(as_text=True)
    response = client.post("/admin/donnees/paquet", data={"csrf_token": token(client), "personal_for": kit_b})
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    client_b = other.test_client()
    login(client_b, "op", auth.add_user(db_of(other), "op", "operator"), lang="en")
    first = upload(client_b, "/admin/donnees/paquet/import", response.data, "paquet.kit")
    assert first.status_code == 303
    assert db_of(other).execute("SELECT count(*) FROM records").fetchone()[0] == 8
    upload(client_b, "/admin/donnees/paquet/import", response.data, "paquet.kit")
    assert db_of(other).execute("SELECT count(*) FROM records").fetchone()[0] == 8
    tampered = bytearray(response.data)
    tampered[-40] ^= 1
    refused = upload(client_b, "/admin/donnees/paquet/import", bytes(tampered), "paquet.kit")
    assert refused.status_code == 400
    assert actions(other).count("bundle.import") == 2 and "bundle.export" in actions(app)


def test_timeline_page_and_csv_mark_exercises(app, as_role, signing_key):
    db = db_of(app)
    alert(db, signing_key, exercise=True)
    journal.log(db, "op", "web", "note", "", "Appel de la préfecture", exercise=True)
    client = as_role("operator")
    page = client.get("/admin/donnees/chronologie").get_data(as_text=True)
    assert "EXERCICE EXERCICE EXERCICE" in page and "Appel de la préfecture" in page
    assert "@page{size:A4" in page.replace(" ", "")
    rows = list(csv.DictReader(io.StringIO(client.get("/admin/donnees/chronologie.csv").get_data(as_text=True))))
    assert {r["exercise"] for r in rows if r["text"] == "Appel de la préfecture"} == {"EXERCICE"}
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)


def test_admin_purge_retention_backup_and_restore(app, as_role, signing_key, tmp_path):
    fill(db_of(app), signing_key)
    client = as_role("admin")
    assert client.post("/admin/donnees/conservation",
                       data={"csrf_token": token(client), "retention_days": "0"}).status_code == 400
    assert client.post("/admin/donnees/conservation",
                       data={"csrf_token": token(client), "retention_days": "45"}).status_code == 303
    assert settings.get(db_of(app), "retention_days") == "45"
    assert client.post("/admin/donnees/purge", data={"csrf_token": token(client), "older_than": "0"}).status_code == 303
    assert db_of(app).execute("SELECT count(*) FROM checkins WHERE name != ''").fetchone()[0] == 0
    saved = client.post("/admin/donnees/sauvegarde", data={"csrf_token": token(client)})
    assert saved.status_code == 200 and json.loads(saved.data)["format"] == "kit-tous-risques/backup"
    kit_key = own_key.public_text(app.config["DATA_DIR"])
    assert kit_key in client.get("/admin/donnees").get_data(as_text=True)   # shown to note apart
    refused = upload(client, "/admin/donnees/restauration", saved.data, "sauvegarde.json", from_kit=kit_key)
    assert refused.status_code == 400 and "not empty" in refused.get_data(as_text=True)
    new = make_kit(tmp_path / "neuf", listener="admin")   # a new kit: its first admin restores
    client_new = new.test_client()
    login(client_new, "root", auth.add_user(db_of(new), "root", "admin"), lang="en")
    unconfirmed = upload(client_new, "/admin/donnees/restauration", saved.data, "sauvegarde.json")
    assert unconfirmed.status_code == 400 and kit_key in unconfirmed.get_data(as_text=True)
    bad_key = upload(client_new, "/admin/donnees/restauration", saved.data, "sauvegarde.json", from_kit="x%0a")
    assert bad_key.status_code == 400 and 'value="x%0a"' in bad_key.get_data(as_text=True)  # typed text kept
    assert upload(client_new, "/admin/donnees/restauration", saved.data, "sauvegarde.json",
                  from_kit=kit_key).status_code == 303
    assert db_of(new).execute("SELECT count(*) FROM records").fetchone() == \
        db_of(app).execute("SELECT count(*) FROM records").fetchone()
    assert client_new.get("/admin/donnees").status_code == 200          # still logged in
    assert {"admin1", "operator1", "volunteer1", "root"} <= {u["name"] for u in auth.users(db_of(new))}
    assert actions(new)[0] == "restore" and "purge" in actions(new)     # its own lines after the restored ones
    assert {"purge", "settings.retention", "backup"} <= set(actions(app))
    assert cap.NS in cap.export_alert(db_of(app), *db_of(app).execute("SELECT origin, seq FROM alerts").fetchone()
                                      ).decode()


def test_uploads_larger_than_residents_forms_are_accepted(as_role):
    client = as_role("operator")
    response = upload(client, "/admin/donnees/paquet/import", b"x" * 300_000, "gros.kit")
    assert response.status_code == 400 and "not a kit bundle" in response.get_data(as_text=True)


def test_a_tampered_backup_plants_no_admin_and_no_official_alert_through_the_pages(app, signing_key, tmp_path):
    """Issue 13 #2 and #3 end to end: someone edits a real backup (an `alerts` row, verified,
    on a board record's uid; a `password_hash` column in users and an admin of their own),
    signs it with a kit key of their own, and an admin is fooled into giving that key."""
    from werkzeug.security import generate_password_hash

    from kit.exchange import backup
    db = db_of(app)
    fill(db, signing_key)
    data = json.loads(json.dumps(backup.build(db)))
    users = data["tables"]["users"]
    pirate = dict.fromkeys(users["columns"], 0) | {"name": "pirate", "role": "admin"}
    users["rows"].append([pirate[c] for c in users["columns"]])
    users["columns"].append("password_hash")
    for row in users["rows"]:
        row.append(generate_password_hash("mot-de-passe-pirate"))
    alerts = data["tables"]["alerts"]
    board = db.execute("SELECT origin, seq FROM records WHERE kind = 'board' LIMIT 1").fetchone()
    forged = dict(zip(alerts["columns"], alerts["rows"][0])) | {
        "origin": board[0], "seq": board[1], "headline": "Évacuez vers la gare", "verified": 1, "expires_at": None}
    alerts["rows"].append([forged[c] for c in alerts["columns"]])
    (tmp_path / "pirate").mkdir()
    blob = backup.seal(data, own_key.load(tmp_path / "pirate"))
    mairie = [public_key_text(load_key(signing_key))]
    new = make_kit(tmp_path / "neuf", trust=mairie, listener="admin")
    admin = new.test_client()
    login(admin, "root", auth.add_user(db_of(new), "root", "admin"), lang="en")
    assert upload(admin, "/admin/donnees/restauration", blob, "sauvegarde.json",
                  from_kit=own_key.public_text(tmp_path / "pirate")).status_code == 303
    intruder = new.test_client()
    login(intruder, "pirate", "mot-de-passe-pirate", lang="en")
    assert intruder.get("/admin/donnees").status_code != 200             # not logged in
    residents = make_kit(tmp_path / "neuf", trust=mairie, listener="resident").test_client()
    assert "Évacuez vers la gare" not in residents.get("/").get_data(as_text=True)
    assert "Évacuez vers la gare" not in residents.get("/api/v1/alerts").get_data(as_text=True)
    assert db_of(new).execute("SELECT headline FROM alerts WHERE verified = 1").fetchall() == [
        ("Montée rapide des eaux",)]                                        # the genuine one stays official
