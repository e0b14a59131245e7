"""Full JSON backup and restore into an empty kit; the binary snapshot."""
import json
import sqlite3

import pytest
from helpers import kit_origin
from test_exchange_support import PERSON, db_of, english, fill, make_kit, new_key  # noqa: F401 (fixture)

from kit.cli import main as cli
from kit.core import auth
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
    key_a = (tmp_path / "a" / "vulnerable.key").read_bytes()
    assert (tmp_path / "b" / "vulnerable.key").read_bytes() != key_a


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(schema_version=999), "newer kit"),
    (lambda d: d.update(format="zip"), "not a kit backup"),
    (lambda d: d.update(version=2), "version"),
])
def test_refusals(tmp_path, kit_a, change, message):
    data = backup.build(kit_a[1])
    change(data)
    app_b = make_kit(tmp_path / "b")
    with pytest.raises(backup.BackupError, match=message):
        backup.restore(db_of(app_b), backup.read(json.dumps(data).encode()), data_dir=app_b.config["DATA_DIR"])
    assert db_of(app_b).execute("SELECT count(*) FROM records").fetchone()[0] == 0


def test_cli_backup_and_restore(tmp_path, kit_a, capsys):
    app_a, db_a, _pub = kit_a
    path = tmp_path / "sauvegarde.json"
    assert cli.main(["backup", str(path), "--data", app_a.config["DATA_DIR"]]) == 0
    assert path.stat().st_mode & 0o077 == 0                    # private file
    assert cli.main(["restore", str(path), "--data", str(tmp_path / "new")]) == 0
    restored = db_of(make_kit(tmp_path / "new"))
    assert rows(restored, "records") == rows(db_a, "records")
    assert cli.main(["restore", str(path), "--data", str(tmp_path / "new")]) == 2
    assert "not empty" in capsys.readouterr().err


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
