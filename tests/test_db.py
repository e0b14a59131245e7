import sqlite3

from kit.core.kit import prepare_database
from kit.storage import db


def test_pragmas_are_set_on_every_connection(tmp_path):
    database = db.connect(tmp_path / "k.db")
    conn = database.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_migrations_apply_once_and_record_the_version(tmp_path):
    database = db.connect(tmp_path / "k.db")
    applied = db.migrate(database)
    latest = db.migration_scripts()[-1][0]
    assert applied and applied[0].startswith("0001_")
    assert db.schema_version(database) == latest
    assert db.migrate(database) == []  # idempotent on restart
    assert {"settings", "risks", "checklist_items", "contacts", "sites", "records",
            "messages", "checkins", "alerts"} <= set(database.table_names())


def test_failed_migration_leaves_database_at_previous_version(tmp_path, monkeypatch):
    database = db.connect(tmp_path / "k.db")
    db.migrate(database)
    version = db.schema_version(database)
    broken = db.migration_scripts() + [(version + 1, "9999_broken.sql",
                                        "CREATE TABLE half (x);\nINSERT INTO nowhere VALUES (1);\n")]
    monkeypatch.setattr(db, "migration_scripts", lambda: broken)
    try:
        db.migrate(database)
    except sqlite3.OperationalError:
        pass
    else:
        raise AssertionError("the broken migration should have failed")
    assert db.schema_version(database) == version
    assert "half" not in database.table_names()  # rolled back with the failed statement


def test_first_start_loads_content_once(tmp_path):
    path = tmp_path / "k.db"
    prepare_database(path)
    database = db.connect(path)
    risks = database["risks"].count
    items = database["checklist_items"].count
    assert risks >= 10 and items > 100
    database.execute("DELETE FROM checklist_items WHERE risk = 'canicule'")
    prepare_database(path)  # a restart must not reload (it would undo the mairie's edits)
    assert database["checklist_items"].count < items


def test_kit_identity_is_stable_across_restarts(tmp_path):
    path = tmp_path / "k.db"
    prepare_database(path)
    database = db.connect(path)
    origin = database.execute("SELECT value FROM settings WHERE key='kit_origin'").fetchone()[0]
    prepare_database(path)
    assert database.execute("SELECT value FROM settings WHERE key='kit_origin'").fetchone()[0] == origin
    assert 0 < int(origin) < 0xFFFFFFFF
