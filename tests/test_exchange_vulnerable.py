"""The register of vulnerable people: sealed at rest, admin only, and never leaking —
not on residents' pages, not in the public API, not in bundles or backups unless asked,
not in any record or radio frame."""
import base64
import json
import time
from pathlib import Path

import pytest
from helpers import csrf_token, kit_origin, login
from test_exchange_support import PERSON, db_of, english, fill  # noqa: F401 (fixture)
from test_pages import crawl

from kit.core import auth, journal
from kit.crypto import own_key, sealed
from kit.crypto.signing import load_key
from kit.exchange import backup, bundle, timeline, vulnerable
from kit.mesh import codec
from kit.mesh import records as r
from kit.storage import queries as records
from kit.storage import settings
from kit.storage.sqlite_store import SqliteStore

pytestmark = pytest.mark.usefixtures("english")

SECRETS = ("Germaine", "Tartempion", "3 rue du Moulin", "06 99 00 00 01", "0699000001", "Robert Tartempion",
           "oxygène")
FULL = PERSON | {"notify": "Robert Tartempion 06 99 00 00 02", "notes": "oxygène à domicile",
                 "life_support": "1", "last_contacted": "2026-07-14", "result": "ok"}


def leaks(text) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [s for s in SECRETS if s.lower() in text.lower()]


@pytest.fixture
def register(app):
    return vulnerable.Register(db_of(app), app.config["DATA_DIR"])


def test_sealed_at_rest_a_copied_database_reveals_nothing(app, register, tmp_path):
    register.add(FULL, "admin")
    files = [Path(app.config["DATABASE"]), Path(app.config["DATABASE"] + "-wal")]
    assert leaks(b"".join(f.read_bytes() for f in files if f.exists())) == []
    key_file = vulnerable.key_path(app.config["DATA_DIR"])
    assert key_file.stat().st_mode & 0o077 == 0
    # the database copied next to another kit's key file: unreadable
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = vulnerable.Register(db_of(app), elsewhere)
    with pytest.raises(vulnerable.RegisterError, match="cannot be read"):
        other.entries()


def test_crud_and_removal_leaves_a_tombstone(register):
    entry = register.add(FULL, "admin")
    assert register.get(entry)["full_name"] == "Germaine Tartempion"
    assert register.get(entry)["life_support"] is True
    register.update(entry, FULL | {"result": "injoignable"}, "admin")
    assert register.entries()[0]["result"] == "injoignable"
    exported = register.export()
    register.remove(entry, "admin")
    assert register.entries() == [] and register.get(entry) is None
    assert register.merge(exported) == 0                     # an older copy does not bring it back
    tombstone = register.export()[0]
    assert tombstone["removed"] and tombstone["fields"] == {}
    with pytest.raises(vulnerable.RegisterError):
        register.update(entry, FULL, "admin")


def test_a_sealed_value_moved_to_another_row_is_refused(register, app):
    first, second = register.add(FULL, "a"), register.add(PERSON | {"full_name": "Autre"}, "a")
    db = db_of(app)
    sealed = db.execute("SELECT sealed FROM vulnerable_people WHERE id = ?", [first]).fetchone()[0]
    db.execute("UPDATE vulnerable_people SET sealed = ? WHERE id = ?", [sealed, second])
    with pytest.raises(vulnerable.RegisterError):
        register.get(second)


@pytest.mark.parametrize("change, field", [
    ({"full_name": ""}, "full_name"), ({"address": ""}, "address"), ({"birth_year": "1850"}, "birth_year"),
    ({"category": "riche"}, "category"), ({"phone": "appeler"}, "phone"), ({"consent": ""}, "consent"),
    ({"last_contacted": "14/07/2026"}, "last_contacted"), ({"result": "?"}, "result"),
])
def test_validation(change, field):
    values, errors = vulnerable.validate(FULL | change)
    assert field in errors and values["full_name"] == (FULL | change)["full_name"]


@pytest.fixture
def accounts(app):
    db = db_of(app)
    return {role: (f"{role}1", auth.add_user(db, f"{role}1", role)) for role in auth.ROLES}


def test_only_admins_reach_the_register(app, admin_app, accounts, register):
    entry = register.add(FULL, "admin")
    paths = ["/admin/donnees/registre", "/admin/donnees/registre/nouveau", f"/admin/donnees/registre/{entry}"]
    for path in paths:
        assert app.test_client().get(path).status_code == 404          # not on the residents' Wi-Fi
        assert admin_app.test_client().get(path).status_code == 303    # log in first
    for role in ("volunteer", "operator"):
        client = admin_app.test_client()
        login(client, *accounts[role], lang="en")
        assert {client.get(p).status_code for p in paths} == {403}
        page = client.get("/admin/donnees").get_data(as_text=True) if role == "operator" else ""
        assert "registre" not in page
    client = admin_app.test_client()
    login(client, *accounts["admin"], lang="en")
    assert "Germaine Tartempion" in client.get("/admin/donnees/registre").get_data(as_text=True)


def test_admin_adds_edits_and_removes_through_the_pages(app, admin_app, accounts):
    client = admin_app.test_client()
    login(client, *accounts["admin"], lang="en")
    db = db_of(app)
    records_before = db.execute("SELECT count(*) FROM records").fetchone()[0]
    bad = client.post("/admin/donnees/registre/nouveau",
                      data={"csrf_token": csrf_token(client, "/admin/donnees/registre/nouveau"), **FULL, "address": ""})
    assert bad.status_code == 400 and "Tartempion" in bad.get_data(as_text=True)   # typed values given back
    added = client.post("/admin/donnees/registre/nouveau",
                        data={"csrf_token": csrf_token(client, "/admin/donnees/registre/nouveau"), **FULL})
    assert added.status_code == 303
    entry = db.execute("SELECT id FROM vulnerable_people").fetchone()[0]
    path = f"/admin/donnees/registre/{entry}"
    edited = client.post(path, data={"csrf_token": csrf_token(client, path), **FULL, "result": "aide"})
    assert edited.status_code == 303
    assert vulnerable.Register(db, app.config["DATA_DIR"]).get(entry)["result"] == "aide"
    removed = client.post(f"{path}/retirer", data={"csrf_token": csrf_token(client, path)})
    assert removed.status_code == 303 and client.get(path).status_code == 404
    actions = [e["action"] for e in journal.entries(db) if e["action"].startswith("vulnerable.")]
    assert {"vulnerable.add", "vulnerable.update", "vulnerable.remove"} <= set(actions)
    assert leaks(json.dumps(journal.entries(db), ensure_ascii=False)) == []   # never named in the log
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == records_before   # nothing for the radio


def test_the_register_never_leaks(app, admin_app, accounts, register, signing_key, tmp_path):
    """A busy kit in crisis mode with one person in the register: look everywhere else."""
    db = db_of(app)
    settings.put(db, "mode", "crise")
    fill(db, signing_key)
    register.add(FULL, "admin1")
    client = app.test_client()
    # 1. every resident page, in every language
    for lang in ("fr", "en", "falc"):
        for path, response in crawl(client, lang).items():
            assert leaks(response.get_data()) == [], path
    # 2. the public API, including a lookup by the person's exact name
    for path in ("/api/v1/status", "/api/v1/messages", "/api/v1/alerts", "/api/v1/risks",
                 "/api/v1/risks/canicule", "/api/v1/contacts", "/api/v1/sites", "/api/openapi.json"):
        assert leaks(client.get(path).get_data()) == [], path
    # a lookup by the exact name echoes what was typed, and finds nothing from the register
    looked_up = client.get("/api/v1/safe?name=Germaine%20Tartempion").get_json()
    assert looked_up["checkins"] == [] and leaks(json.dumps(looked_up | {"name": ""})) == []
    page = client.post("/securite/chercher", data={"name": "Germaine Tartempion"}).get_data(as_text=True)
    assert [s for s in leaks(page) if s not in ("Germaine", "Tartempion")] == []
    # 3. the operators' other pages and exports (the timeline is printed and handed around)
    operator = admin_app.test_client()
    login(operator, *accounts["operator"], lang="en")
    for path in ("/admin/", "/admin/donnees", "/admin/donnees/chronologie", "/admin/donnees/chronologie.csv",
                 "/admin/donnees/contacts.csv", "/admin/donnees/sites.csv", "/admin/donnees/contacts.vcf",
                 "/api/v1/journal"):
        assert leaks(operator.get(path).get_data()) == [], path
    assert leaks(timeline.to_csv(timeline.events(db))) == []
    # 4. bundles and backups, unless asked for
    key = load_key(signing_key)
    plain = bundle.seal(bundle.payload(db, data_dir=app.config["DATA_DIR"]), key)
    assert leaks(plain) == [] and leaks(base64.b64decode(json.loads(plain)["payload"])) == []
    made = operator.post("/admin/donnees/paquet", data={"csrf_token": csrf_token(operator, "/admin/donnees"),
                                                       "with_vulnerable": "1"})
    assert made.status_code == 403                      # an operator cannot ask for the register
    made = operator.post("/admin/donnees/paquet", data={"csrf_token": csrf_token(operator, "/admin/donnees")})
    assert made.status_code == 200 and leaks(base64.b64decode(json.loads(made.data)["payload"])) == []
    assert leaks(json.dumps(backup.build(db), ensure_ascii=False)) == []
    path = tmp_path / "copie.db"
    backup.snapshot(db, path, with_vulnerable=True)
    assert leaks(path.read_bytes()) == []               # even asked for, the binary copy is sealed
    (tmp_path / "autre").mkdir()
    receiver = own_key.load(tmp_path / "autre")         # asked for: sealed to the receiving kit only
    asked = bundle.seal(bundle.payload(db, with_vulnerable=True, data_dir=app.config["DATA_DIR"],
                                       recipients=[bytes(receiver.verify_key)]), key)
    inner = base64.b64decode(json.loads(asked)["payload"])
    assert leaks(inner) == []
    assert "Tartempion" in sealed.open_for(json.loads(inner)["personal"], receiver).decode()   # the control
    # 5. the sync log and every radio frame of the outbox
    assert leaks(json.dumps(db.execute("SELECT * FROM records").fetchall(), ensure_ascii=False)) == []
    store = SqliteStore(db.conn)
    outbox = db.execute("SELECT origin, seq FROM outbox").fetchall()
    assert len(outbox) == db.execute("SELECT count(*) FROM records").fetchone()[0] > 0
    decoder = codec.Decoder()
    for uid in outbox:
        record = store.get(r.Uid(*uid))
        for frame in codec.encode(record, sender=kit_origin(db)):
            assert leaks(frame) == []
            decoded = decoder.decode(frame, kit_origin(db), time.time())
            if isinstance(decoded, r.Record):
                assert leaks(repr(decoded)) == [], decoded
    assert not [k for k in records.BOARD_KINDS if k == "vulnerable"]
