"""Full JSON backup of a kit and restore into an empty kit; a binary snapshot as well.

The JSON backup holds every table (found in sqlite_master, so tables added later are
included) except secrets: operators' password hashes are left out (restored accounts get
an unusable password: `kit user passwd`), and the register of vulnerable people is left out
unless asked for, and then in clear (re-sealed with the new kit's key on restore): such a
file is as confidential as the register itself.

Restore never clones an identity: the kit keeps its own origin id and trusted keys. Two
kits numbering records under one origin would corrupt every kit's sync, and the old kit
may well still be running somewhere.
"""
from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

from kit.core.messages import _
from kit.exchange.vulnerable import Register
from kit.storage import db as kit_db
from kit.storage.db import transaction
from kit.storage.projections import reverify_alerts

FORMAT = "kit-tous-risques/backup"
VERSION = 1
PRIVATE_TABLES = {"vulnerable_people"}          # only through Register.export, only when asked
SECRET_COLUMNS = {"users": {"password_hash"}}
IDENTITY_SETTINGS = {"kit_origin", "kit_id", "trusted_keys"}
# A kit is "empty" when it holds no crisis data yet. Its accounts and main courante may
# exist (the admin who restores through the pages logged in): they are kept, see restore.
MUST_BE_EMPTY = ("records", "messages", "pending_posts", "vulnerable_people")


class BackupError(ValueError):
    pass


def tables(db) -> list[str]:
    """Ordinary tables (no SQLite internals, no virtual tables or their shadow tables)."""
    rows = db.execute("PRAGMA table_list").fetchall()
    return sorted(name for _schema, name, kind, *_rest in rows
                  if kind == "table" and _schema == "main" and not name.startswith("sqlite_"))


def _plain(value):
    return {"$b64": base64.b64encode(value).decode()} if isinstance(value, bytes) else value


def _typed(value):
    return base64.b64decode(value["$b64"]) if isinstance(value, dict) and "$b64" in value else value


def build(db, *, with_vulnerable: bool = False, data_dir=None) -> dict:
    out = {"format": FORMAT, "version": VERSION, "schema_version": kit_db.schema_version(db),
           "created_at": int(time.time()), "tables": {}}
    for table in tables(db):
        if table in PRIVATE_TABLES:
            continue
        secret = SECRET_COLUMNS.get(table, set())
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})") if row[1] not in secret]
        rows = db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
        out["tables"][table] = {"columns": columns, "rows": [[_plain(v) for v in row] for row in rows]}
    if with_vulnerable:
        out["vulnerable_people"] = Register(db, data_dir).export()
    return out


def write(path: str | Path, data: dict) -> None:
    """Write atomically (a half-written backup is worse than none) and private (0600)."""
    path = Path(path)
    temporary = path.with_name(path.name + ".part")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
    os.replace(temporary, path)


def read(data: bytes) -> dict:
    try:
        backup = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise BackupError(_("This file is not a kit backup (not JSON).")) from None
    if not isinstance(backup, dict) or backup.get("format") != FORMAT:
        raise BackupError(_("This file is not a kit backup."))
    if backup.get("version") != VERSION or not isinstance(backup.get("tables"), dict):
        raise BackupError(_("This backup's format version is not supported."))
    return backup


def is_empty(db) -> bool:
    present = set(tables(db))
    return not any(db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() for t in MUST_BE_EMPTY if t in present)


def restore(db, backup: dict, *, data_dir) -> dict:
    """Load a backup into this kit, all or nothing. Only into an empty kit (no records,
    posts or register), so no crisis data here is ever overwritten. This kit's own accounts
    stay (and win over restored ones of the same name); its own main courante lines follow
    the restored ones, so the log still tells who restored what and when."""
    current = kit_db.schema_version(db)
    if backup["schema_version"] > current:
        raise BackupError(_("This backup comes from a newer kit (schema %(theirs)d, this kit %(ours)d): "
                            "update this kit first.", theirs=backup["schema_version"], ours=current))
    if not is_empty(db):
        raise BackupError(_("This kit is not empty: restore only into a new kit's data folder."))
    present = set(tables(db))
    restored = {t: c for t, c in backup["tables"].items() if t in present and t not in PRIVATE_TABLES}
    counts = {}
    with transaction(db):
        local_journal = db.execute("SELECT at, author, source, action, subject, detail, verification, exercise "
                                   "FROM journal ORDER BY id").fetchall()
        local_users = {name for (name,) in db.execute("SELECT name FROM users")}
        db.execute("PRAGMA defer_foreign_keys=ON")  # rows arrive table by table
        # Every table is emptied before any is filled: ON DELETE CASCADE would otherwise
        # empty a child table (checklist_items) already restored.
        for table in restored:
            if table == "settings":
                db.execute(f"DELETE FROM settings WHERE key NOT IN ({', '.join('?' * len(IDENTITY_SETTINGS))})",
                           sorted(IDENTITY_SETTINGS))
            elif table != "users":
                db.execute(f"DELETE FROM {table}")
        for table, content in restored.items():
            ours = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            keep = [i for i, c in enumerate(content["columns"]) if c in ours]
            columns = [content["columns"][i] for i in keep]
            rows = [[_typed(row[i]) for i in keep] for row in content["rows"]]
            if table == "settings":
                rows = [row for row in rows if row[columns.index("key")] not in IDENTITY_SETTINGS]
            if table == "users":
                rows = [row + [_unusable()] for row in rows if row[columns.index("name")] not in local_users]
                columns = columns + ["password_hash"]
            marks = ", ".join("?" * len(columns))
            db.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            counts[table] = len(rows)
        db.conn.executemany("INSERT INTO journal (at, author, source, action, subject, detail, verification, "
                            "exercise) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", local_journal)
        reverify_alerts(db.conn)  # this kit's trusted keys decide what is official here
        if backup.get("vulnerable_people"):
            counts["vulnerable_people"] = Register(db, data_dir).merge(backup["vulnerable_people"])
    return counts


def _unusable() -> str:
    """A password hash no password matches: an admin sets a new one with `kit user passwd`."""
    return "restored$" + base64.b64encode(os.urandom(24)).decode()


def snapshot(db, path: str | Path, *, with_vulnerable: bool = False) -> None:
    """The binary form: `VACUUM INTO` a consistent copy of kit.db, then drop the register
    from the copy unless asked (it is sealed anyway; its key file is never copied)."""
    path = Path(path)
    if path.exists():
        raise BackupError(_("%(path)s exists; a snapshot never overwrites a file.", path=str(path)))
    db.execute("VACUUM INTO ?", [str(path)])
    os.chmod(path, 0o600)
    if not with_vulnerable:
        copy = kit_db.connect(path)
        try:
            copy.execute("DELETE FROM vulnerable_people")
            copy.execute("PRAGMA journal_mode=DELETE")
            copy.execute("VACUUM")  # the deleted pages are gone from the file, not just unlinked
        finally:
            copy.conn.close()
