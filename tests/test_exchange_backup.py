"""Full JSON backup and restore into an empty kit; the binary snapshot."""
import base64
import json
import re
import sqlite3

import pytest
from helpers import kit_origin
from test_exchange_support import PERSON, db_of, english, fill, make_kit, new_key  # noqa: F401 (fixture)

from kit.cli import main as cli
from kit.core import auth
from kit.crypto import own_key
from kit.exchange import backup, vulnerable
from kit.storage import settings

pytestmark = pytest.mark.usefixtures("english")

COMPARED = ("records", "messages", "checkins", "alerts", "field_reports", "sites", "contacts", "risks",
            "checklist_items", "journal", "pending_posts", "origins", "outbox")


@pytest.fixture
def kit_a(tmp_path):
    key, pub = new_key(tmp_path / "a.key")
    app = make_kit(tmp_path / "a", key_path=key)
    db = db_of(app)
    fill(db, key)
    auth.add_user(db, "marie", "admin")
    vulnerable.Register(db, app.config["DATA_DIR"]).add(PERSON, "marie")
    return app, db, pub


def rows(db, table):
    return db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()


def test_round_trip_into_an_empty_kit(tmp_path, kit_a):
    _app_a, db_a, pub = kit_a
    data = json.loads(json.dumps(backup.build(db_a)))       # through JSON, as in the file
    assert data["schema_version"] >= 3 and "vulnerable_people" not in data["tables"]
    assert "password_hash" not in data["tables"]["users"]["columns"]
    assert "Tartempion" not in json.dumps(data)
    app_b = make_kit(tmp_path / "b", trust=[pub])
    db_b = db_of(app_b)
    origin_b = kit_origin(db_b)
    backup.restore(db_b, data, data_dir=app_b.config["DATA_DIR"])
    for table in COMPARED:
        assert rows(db_b, table) == rows(db_a, table), table
    assert kit_origin(db_b) == origin_b != kit_origin(db_a)   # an identity is never cloned
    assert db_b.execute("SELECT name, role FROM users").fetchall() == [("marie", "admin")]
    assert auth.verify(db_b, "marie", "") is None              # restored without a usable password
    assert vulnerable.Register(db_b, app_b.config["DATA_DIR"]).entries() == []
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(db_b, data, data_dir=app_b.config["DATA_DIR"])


def test_alerts_are_verified_again_with_the_new_kits_keys(tmp_path, kit_a):
    _app_a, db_a, _pub = kit_a
    app_c = make_kit(tmp_path / "c")                          # does not trust kit A's key
    backup.restore(db_of(app_c), backup.build(db_a), data_dir=app_c.config["DATA_DIR"])
    assert db_of(app_c).execute("SELECT verified FROM alerts").fetchall() == [(0,)]


def test_register_only_when_asked_and_resealed_with_the_new_key(tmp_path, kit_a):
    app_a, db_a, _pub = kit_a
    data = backup.build(db_a, with_vulnerable=True, data_dir=app_a.config["DATA_DIR"])
    assert data["vulnerable_people"][0]["fields"]["full_name"] == "Germaine Tartempion"
    app_b = make_kit(tmp_path / "b")
    backup.restore(db_of(app_b), data, data_dir=app_b.config["DATA_DIR"])
    entries = vulnerable.Register(db_of(app_b), app_b.config["DATA_DIR"]).entries()
    assert [e["full_name"] for e in entries] == ["Germaine Tartempion"]
    key_a = vulnerable.key_path(tmp_path / "a").read_bytes()
    assert vulnerable.key_path(tmp_path / "b").read_bytes() != key_a


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(schema_version=999), "newer kit"),
    (lambda d: d.update(format="zip"), "not a kit backup"),
    (lambda d: d.update(version=3), "version"),
])
def test_refusals(tmp_path, kit_a, change, message):
    app_a, db_a, _pub = kit_a
    data = backup.build(db_a)
    change(data)
    key = own_key.load(app_a.config["DATA_DIR"])
    app_b = make_kit(tmp_path / "b")
    with pytest.raises(backup.BackupError, match=message):
        backup.restore(db_of(app_b), backup.read(backup.seal(data, key), from_kit=bytes(key.verify_key)),
                       data_dir=app_b.config["DATA_DIR"])
    assert db_of(app_b).execute("SELECT count(*) FROM records").fetchone()[0] == 0


def test_cli_backup_and_restore(tmp_path, kit_a, capsys):
    app_a, db_a, _pub = kit_a
    path = tmp_path / "sauvegarde.json"
    assert cli.main(["backup", str(path), "--data", app_a.config["DATA_DIR"]]) == 0
    assert path.stat().st_mode & 0o077 == 0                    # private file
    kit_key = own_key.public_text(app_a.config["DATA_DIR"])
    assert f"--from-kit {kit_key}" in capsys.readouterr().out  # the operator notes it apart
    assert cli.main(["restore", str(path), "--data", str(tmp_path / "new")]) == 2
    assert kit_key in capsys.readouterr().err                  # shown, to compare with the note
    assert cli.main(["restore", str(path), "--data", str(tmp_path / "new"), "--from-kit", kit_key]) == 0
    restored = db_of(make_kit(tmp_path / "new"))
    assert rows(restored, "records") == rows(db_a, "records")
    assert cli.main(["restore", str(path), "--data", str(tmp_path / "new"), "--from-kit", kit_key]) == 2
    assert "not empty" in capsys.readouterr().err


def test_a_backup_is_authenticated_by_the_kit_that_made_it(tmp_path, kit_a):
    """Issue 13: a backup is signed with the kit's own Ed25519 key; restoring needs that
    kit's public key, noted apart; a changed byte, another signer or no signature refuse it."""
    app_a, db_a, _pub = kit_a
    key = own_key.load(app_a.config["DATA_DIR"])
    assert (tmp_path / "a" / own_key.KEY_FILE).stat().st_mode & 0o777 == 0o600
    kit_a_key = bytes(key.verify_key)
    blob = backup.seal(backup.build(db_a), key)
    assert backup.read(blob, from_kit=kit_a_key)["tables"]["records"]["rows"]
    with pytest.raises(backup.BackupError, match=re.escape(own_key.public_text(tmp_path / "a"))):
        backup.read(blob)
    outer = json.loads(blob)
    changed = base64.b64decode(outer["payload"]).replace("Route coupée".encode(), "Route ouverte".encode())
    forged = json.dumps(outer | {"payload": base64.b64encode(changed).decode()}).encode()
    with pytest.raises(backup.BackupError, match="does not match its content"):
        backup.read(forged, from_kit=kit_a_key)
    (tmp_path / "b").mkdir()
    other = own_key.load(tmp_path / "b")                        # a file made by someone else
    with pytest.raises(backup.BackupError, match="signed by the kit key"):
        backup.read(backup.seal(backup.build(db_a), other), from_kit=kit_a_key)
    unsigned = json.dumps(backup.build(db_a) | {"version": 1}).encode()    # from before signed backups
    with pytest.raises(backup.BackupError, match="--unsigned"):
        backup.read(unsigned, from_kit=kit_a_key)
    assert backup.read(unsigned, allow_unsigned=True)["version"] == 1


@pytest.mark.parametrize("with_vulnerable", [False, True])
def test_binary_snapshot(tmp_path, kit_a, with_vulnerable):
    _app, db_a, _pub = kit_a
    path = tmp_path / "kit-copie.db"
    backup.snapshot(db_a, path, with_vulnerable=with_vulnerable)
    copy = sqlite3.connect(path)
    assert copy.execute("SELECT count(*) FROM records").fetchone() == db_a.execute(
        "SELECT count(*) FROM records").fetchone()
    assert copy.execute("SELECT count(*) FROM vulnerable_people").fetchone() == (int(with_vulnerable),)
    assert b"Tartempion" not in path.read_bytes()             # sealed, and its key is not in the file
    with pytest.raises(backup.BackupError, match="never overwrites"):
        backup.snapshot(db_a, path)
    assert settings.get(db_a, "kit_origin")


# --- a tampered backup (issue 13, High #2 and #3) ------------------------------------------

def _table(data, name):
    content = data["tables"][name]
    return content["columns"], content["rows"]


def test_an_alert_row_paired_with_a_board_record_is_not_planted(tmp_path, kit_a):
    """Issue 13 #2: an `alerts` row on the uid of a board record, `verified = 1`, was shown
    to residents as official (re-verification only looked at alert records)."""
    _app_a, db_a, pub = kit_a
    data = json.loads(json.dumps(backup.build(db_a)))
    origin, seq = db_a.execute("SELECT origin, seq FROM records WHERE kind = 'board' LIMIT 1").fetchone()
    columns, alerts = _table(data, "alerts")
    forged = dict(zip(columns, alerts[0])) | {"origin": origin, "seq": seq, "headline": "Évacuez vers la gare",
                                              "verified": 1, "superseded": 0, "expires_at": None}
    alerts.append([forged[c] for c in columns])
    columns, messages = _table(data, "messages")              # a derived row with no record behind it
    checkin = db_a.execute("SELECT origin, seq FROM records WHERE kind = 'checkin'").fetchone()
    fake = dict(zip(columns, messages[0])) | {"id": 999, "origin": checkin[0], "seq": checkin[1], "text": "faux"}
    messages.append([fake[c] for c in columns])
    genuine = db_a.execute("SELECT origin, seq FROM alerts").fetchone()   # an invented conflict would hide it
    data["tables"]["record_conflicts"]["rows"].append([1, *genuine, '{"headline":"autre"}', "{}", None, 0])
    app_b = make_kit(tmp_path / "b", trust=[pub])
    db_b = db_of(app_b)
    backup.restore(db_b, data, data_dir=app_b.config["DATA_DIR"])
    assert db_b.execute("SELECT headline FROM alerts WHERE verified = 1").fetchall() == [
        ("Montée rapide des eaux",)]                           # the genuine signed alert only
    assert db_b.execute("SELECT count(*) FROM record_conflicts").fetchone() == (0,)
    assert db_b.execute("SELECT count(*) FROM messages WHERE text = 'faux'").fetchone() == (0,)
    for table in ("records", "messages", "checkins", "alerts", "field_reports", "origins"):
        assert rows(db_b, table) == rows(db_a, table), table   # every derived row made again


def test_a_second_password_hash_column_does_not_plant_an_admin(tmp_path, kit_a):
    """Issue 13 #3: a `password_hash` column added to the backup's users won over the
    unusable password the restore sets; the attacker logged in as admin."""
    from werkzeug.security import generate_password_hash
    _app_a, db_a, _pub = kit_a
    data = json.loads(json.dumps(backup.build(db_a)))
    columns, rows_ = _table(data, "users")
    data["tables"]["users"]["columns"] = [*columns, "password_hash"]
    data["tables"]["users"]["rows"] = [[*row, generate_password_hash("mot-de-passe-pirate")] for row in rows_]
    pirate = list(rows_[0])
    pirate[columns.index("name")], pirate[columns.index("role")] = "pirate", "admin"
    data["tables"]["users"]["rows"].append([*pirate, generate_password_hash("mot-de-passe-pirate")])
    app_b = make_kit(tmp_path / "b")
    db_b = db_of(app_b)
    backup.restore(db_b, data, data_dir=app_b.config["DATA_DIR"])
    assert {n for (n,) in db_b.execute("SELECT name FROM users")} == {"marie", "pirate"}
    for name in ("marie", "pirate"):
        assert auth.verify(db_b, name, "mot-de-passe-pirate") is None
    assert not db_b.execute("SELECT 1 FROM users WHERE password_hash LIKE 'scrypt%'").fetchone()


def test_duplicate_keys_and_columns_are_refused(tmp_path, kit_a):
    data = json.dumps(backup.build(kit_a[1]), separators=(",", ":"))
    twice = data.replace('"tables":{', '"tables":{"users":{"columns":["name"],"rows":[]},', 1)
    assert twice != data
    with pytest.raises(backup.BackupError, match="twice"):
        backup.read(twice.encode())
    doubled = json.loads(data)
    doubled["tables"]["contacts"]["columns"][1] = doubled["tables"]["contacts"]["columns"][0]
    app_b = make_kit(tmp_path / "b")
    with pytest.raises(backup.BackupError, match="twice"):
        backup.restore(db_of(app_b), doubled, data_dir=app_b.config["DATA_DIR"])


def test_a_real_conflict_is_restored_and_keeps_its_uid_hidden(tmp_path, kit_a):
    _app_a, db_a, pub = kit_a
    data = json.loads(json.dumps(backup.build(db_a)))
    origin, seq, body = db_a.execute("SELECT origin, seq, body FROM records WHERE kind = 'board' LIMIT 1").fetchone()
    data["tables"]["record_conflicts"]["rows"].append([1, origin, seq, body, '{"text":"autre"}', 7, 0])
    app_b = make_kit(tmp_path / "b", trust=[pub])
    db_b = db_of(app_b)
    assert backup.restore(db_b, data, data_dir=app_b.config["DATA_DIR"])["record_conflicts"] == 1
    assert db_b.execute("SELECT hidden FROM messages WHERE origin = ? AND seq = ?", [origin, seq]).fetchone() == (1,)


@pytest.mark.parametrize("change", [
    lambda d: d["tables"]["users"]["rows"][0].__setitem__(2, 2**70),          # no SQLite integer
    lambda d: d["tables"]["contacts"]["rows"][0].__setitem__(3, "\ud800"),    # no UTF-8 text
    lambda d: d["tables"]["records"]["rows"][0].__setitem__(1, 2**70),
    lambda d: d["vulnerable_people"].__setitem__(0, 7),
    lambda d: d["vulnerable_people"][0].__setitem__("updated_at", "x"),
    lambda d: d["tables"].__setitem__("alerts", {"columns": ["origin"], "rows": [[1, 2]]}),
    lambda d: d["tables"]["contacts"]["rows"][0].__setitem__(3, {"$b64": "abc"}),   # not base64
])
def test_a_malformed_backup_is_refused_whole_never_a_crash(tmp_path, kit_a, change):
    app_a, db_a, _pub = kit_a
    data = json.loads(json.dumps(backup.build(db_a, with_vulnerable=True, data_dir=app_a.config["DATA_DIR"])))
    change(data)
    app_b = make_kit(tmp_path / "b")
    with pytest.raises(backup.BackupError):
        backup.restore(db_of(app_b), data, data_dir=app_b.config["DATA_DIR"])
    assert db_of(app_b).execute("SELECT count(*) FROM records").fetchone() == (0,)


def test_a_column_name_from_the_file_never_reaches_the_sql(tmp_path, kit_a):
    _app_a, db_a, _pub = kit_a
    data = json.loads(json.dumps(backup.build(db_a)))
    contacts = data["tables"]["contacts"]
    contacts["columns"].append("phone) VALUES (1); --")
    for row in contacts["rows"]:
        row.append("x")
    app_b = make_kit(tmp_path / "b")
    backup.restore(db_of(app_b), data, data_dir=app_b.config["DATA_DIR"])
    assert rows(db_of(app_b), "contacts") == rows(db_a, "contacts")
