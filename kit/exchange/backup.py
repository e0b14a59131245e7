"""Full JSON backup of a kit and restore into an empty kit; a binary snapshot as well.

The JSON backup holds every table (found in sqlite_master, so tables added later are
included) except secrets: operators' password hashes are left out (restored accounts get
an unusable password: `kit user passwd`), and the register of vulnerable people is left out
unless asked for, and then in clear (re-sealed with the new kit's key on restore): such a
file is as confidential as the register itself.

Restore trusts nothing in the file it could not check itself: the tables the pages read
are made again from the records (so a `verified = 1` in the file means nothing), records
are parsed like a bundle's, accounts arrive with whitelisted columns and no usable
password, and a key or a column written twice refuses the file.

Restore never clones an identity: the kit keeps its own origin id and trusted keys. Two
kits numbering records under one origin would corrupt every kit's sync, and the old kit
may well still be running somewhere.
"""
from __future__ import annotations

import base64
import json
import os
import sqlite3
import time
from pathlib import Path

from kit.core.auth import AccountError, check_name
from kit.core.messages import _
from kit.crypto import envelope
from kit.exchange.vulnerable import Register, RegisterError
from kit.mesh.records import Uid
from kit.storage import db as kit_db
from kit.storage import json_records
from kit.storage.db import transaction
from kit.storage.projections import project, reverify_alerts
from kit.storage.sqlite_store import SqliteStore

FORMAT = "kit-tous-risques/backup"
VERSION = 2                 # signed by the kit that made it (kit/crypto/envelope.py)
UNSIGNED_VERSION = 1        # before signed backups: restored only when the operator says so
TAG = b"kit-tous-risques/backup/v2\0"
PRIVATE_TABLES = {"vulnerable_people"}          # only through Register.export, only when asked
SECRET_COLUMNS = {"users": {"password_hash"}}
IDENTITY_SETTINGS = {"kit_origin", "kit_id", "trusted_keys"}
LOCAL_SETTINGS = {"airtime_history"}            # this kit's radio, not the old one's
# What the pages read, projected from the records (kit/storage/projections.py): made again
# on restore, never read from the file. `verified`, `hidden`, `superseded` live here.
DERIVED_TABLES = {"messages", "checkins", "alerts", "field_reports", "kit_health", "origins",
                  "site_exercise_status"}
RECORD_COLUMNS = ("kind", "origin", "seq", "created_at", "exercise", "body")
USER_COLUMNS = ("name", "role", "created_at", "disabled")   # never a password hash
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


def seal(data: dict, key) -> bytes:
    """The backup as a file, signed with the kit's own key (kit/crypto/own_key.py)."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return envelope.seal(FORMAT, VERSION, TAG, body, key)


def read(data: bytes, *, from_kit: bytes | None = None, allow_unsigned: bool = False) -> dict:
    """The backup in a file, once its signature says it is the one the kit `from_kit` (its
    public key, noted by the operator when `kit backup` printed it) made. A file from
    before signed backups (version 1) only with `allow_unsigned` (the CLI's --unsigned)."""
    outer = _parse(data)
    if not isinstance(outer, dict) or outer.get("format") != FORMAT:
        raise BackupError(_("This file is not a kit backup."))
    if outer.get("version") == UNSIGNED_VERSION:
        if not allow_unsigned:
            raise BackupError(_("This backup is not signed (made by an older kit): restore it from the "
                                "command line with kit restore --unsigned, only if you know where it comes from."))
        backup = outer
    elif outer.get("version") == VERSION:
        backup = _parse(_verified(outer, from_kit))
    else:
        raise BackupError(_("This backup's format version is not supported."))
    if not isinstance(backup, dict) or backup.get("format") != FORMAT:
        raise BackupError(_("This file is not a kit backup."))
    if backup.get("version") != outer["version"] or not isinstance(backup.get("tables"), dict) \
            or type(backup.get("schema_version")) is not int:
        raise BackupError(_("This backup's format version is not supported."))
    return backup


def _verified(outer: dict, from_kit: bytes | None) -> bytes:
    try:
        signer, signature, body = envelope.fields(outer)
    except envelope.EnvelopeError:
        raise BackupError(_("This backup is damaged.")) from None
    if signer != from_kit:
        # The key is shown so the operator can compare it with the one noted at backup time:
        # copying it from here without checking is exactly what this refusal is for.
        raise BackupError(_("This backup was signed by the kit key %(key)s. Restore it only if this is the "
                            "key of the kit you saved (printed by kit backup, shown on that kit's data "
                            "page): give it with --from-kit, or in the field of this page.",
                            key=base64.b64encode(signer).decode()))
    try:
        envelope.verify(TAG, signer, signature, body)
    except envelope.EnvelopeError:
        raise BackupError(_("The backup's signature does not match its content: it was changed or "
                            "damaged. Nothing was restored.")) from None
    return body


def _parse(data: bytes):
    try:
        return json.loads(data, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        raise BackupError(_("The key %(key)s appears twice in this file: it is not a kit's backup.",
                            key=str(exc))) from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BackupError(_("This file is not a kit backup (not JSON).")) from None


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs: list) -> dict:
    """json.loads keeps the last of two equal keys (RFC 8259 §4 leaves it open), so a
    reader that looked at the first would be fooled: a key written twice refuses the file."""
    out = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def is_empty(db) -> bool:
    present = set(tables(db))
    return not any(db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() for t in MUST_BE_EMPTY if t in present)


def restore(db, backup: dict, *, data_dir) -> dict:
    """Load a backup into this kit, all or nothing. Only into an empty kit (no records,
    posts or register), so no crisis data here is ever overwritten. This kit's own accounts
    stay (and win over restored ones of the same name); its own main courante lines follow
    the restored ones, so the log still tells who restored what and when.

    Nothing the file says about trust is believed (issue 13): the tables the pages read
    (DERIVED_TABLES: which alert is verified, which message hidden…) are made again from
    the records, each parsed like a bundle's and put through the store, exactly as if it
    had come over the radio; accounts get only USER_COLUMNS and an unusable password."""
    current = kit_db.schema_version(db)
    if backup["schema_version"] > current:
        raise BackupError(_("This backup comes from a newer kit (schema %(theirs)d, this kit %(ours)d): "
                            "update this kit first.", theirs=backup["schema_version"], ours=current))
    if not is_empty(db):
        raise BackupError(_("This kit is not empty: restore only into a new kit's data folder."))
    present = set(tables(db))
    restored = {t: _ours(db, t, *_checked_table(t, c)) for t, c in backup["tables"].items()
                if t in present and t not in PRIVATE_TABLES}
    records = _records(restored.pop("records", None))
    counts = {}
    try:
        with transaction(db):
            local_journal = db.execute("SELECT at, author, source, action, subject, detail, verification, "
                                       "exercise FROM journal ORDER BY id").fetchall()
            local_users = {name for (name,) in db.execute("SELECT name FROM users")}
            db.execute("PRAGMA defer_foreign_keys=ON")  # rows arrive table by table
            # Every table is emptied before any is filled: ON DELETE CASCADE would otherwise
            # empty a child table (checklist_items) already restored.
            for table in sorted((set(restored) | DERIVED_TABLES) & present):
                if table == "settings":
                    db.execute(f"DELETE FROM settings WHERE key NOT IN ({', '.join('?' * len(IDENTITY_SETTINGS))})",
                               sorted(IDENTITY_SETTINGS))
                elif table != "users":
                    db.execute(f"DELETE FROM {table}")
            for table, (columns, rows) in restored.items():
                if table in DERIVED_TABLES or table == "record_conflicts":
                    continue
                if table == "settings":
                    rows = [row for row in rows if _restorable_setting(row[columns.index("key")])]
                if table == "users":
                    columns, rows = _accounts(columns, rows, local_users)
                marks = ", ".join("?" * len(columns))
                db.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
                counts[table] = len(rows)
            # Site statuses are made again from the records below (newest report wins).
            db.execute("UPDATE sites SET status_at = 0")
            store = SqliteStore(db.conn)
            counts["records"] = sum(store.put(record) for record, _received in records)
            db.conn.executemany("UPDATE records SET received_at = ? WHERE origin = ? AND seq = ?",
                                [(received, *record.uid) for record, received in records])
            if "record_conflicts" in restored:
                counts["record_conflicts"] = _conflicts(store, *restored["record_conflicts"])
            db.conn.executemany("INSERT INTO journal (at, author, source, action, subject, detail, verification, "
                                "exercise) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", local_journal)
            reverify_alerts(db.conn)  # this kit's trusted keys decide what is official here
            if backup.get("vulnerable_people"):
                counts["vulnerable_people"] = Register(db, data_dir).merge(backup["vulnerable_people"])
    except (BackupError, RegisterError):
        raise
    except (sqlite3.DatabaseError, OverflowError, UnicodeError, ValueError, TypeError, KeyError, AttributeError,
            IndexError) as exc:  # a CHECK, a foreign key, a type: not what a kit writes. Rolled back.
        raise BackupError(_("This backup is not consistent (%(error)s); nothing was restored.",
                            error=str(exc)[:200])) from None
    return counts


def _conflicts(store, columns, rows) -> int:
    """Two versions heard for one uid hide it from the public pages: a row is kept only if
    the version it says was held is the record restored for that uid, so a file cannot
    hide a genuine alert by inventing a conflict for it."""
    kept = 0
    for row in rows:
        values = dict(zip(columns, row))
        try:
            uid = Uid(int(values["origin"]), int(values["seq"]))
        except (KeyError, TypeError, ValueError):
            raise BackupError(_("The table %(table)s of this backup is damaged.", table="record_conflicts")) from None
        held = store.get(uid)
        if held is None or json_records.dumps(held) != values.get("held"):
            continue
        store.conn.execute("INSERT INTO record_conflicts (origin, seq, held, heard, from_node, heard_at) "
                           "VALUES (?, ?, ?, ?, ?, ?)", (*uid, values["held"], str(values.get("heard", "")),
                                                         values.get("from_node"), int(values.get("heard_at") or 0)))
        project(store, held)
        kept += 1
    return kept


def _checked_table(table: str, content) -> tuple[list[str], list[list]]:
    """(columns, typed rows) of one table of the file, its shape checked: a column named
    twice would let the file choose which of two values SQLite keeps."""
    columns = content.get("columns") if isinstance(content, dict) else None
    rows = content.get("rows") if isinstance(content, dict) else None
    if not isinstance(columns, list) or not isinstance(rows, list) or \
            not all(isinstance(c, str) for c in columns):
        raise BackupError(_("The table %(table)s of this backup is damaged.", table=table))
    if len(set(columns)) != len(columns):
        raise BackupError(_("A column appears twice in the table %(table)s of this backup.", table=table))
    if not all(isinstance(row, list) and len(row) == len(columns) and all(map(_scalar, row)) for row in rows):
        raise BackupError(_("The table %(table)s of this backup is damaged.", table=table))
    try:
        return columns, [[_typed(v) for v in row] for row in rows]
    except ValueError:  # base64 that is not
        raise BackupError(_("The table %(table)s of this backup is damaged.", table=table)) from None


def _ours(db, table: str, columns: list[str], rows: list[list]) -> tuple[list[str], list[list]]:
    """Only the columns this kit's table has: a column dropped since the backup was made is
    left out, and a name from the file never reaches the SQL text unless it is one of ours."""
    ours = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    keep = [i for i, c in enumerate(columns) if c in ours]
    return [columns[i] for i in keep], [[row[i] for i in keep] for row in rows]


def _scalar(value) -> bool:
    """What SQLite can store: a 64-bit integer, a float, UTF-8 text (no lone surrogate), bytes."""
    if isinstance(value, int):
        return -2**63 <= value < 2**63
    if isinstance(value, str):
        return _utf8(value)
    return value is None or isinstance(value, float) or (
        isinstance(value, dict) and set(value) == {"$b64"} and isinstance(value["$b64"], str))


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _restorable_setting(key) -> bool:
    """This kit's identity and its own counters and airtime stay this kit's."""
    return key not in IDENTITY_SETTINGS and key not in LOCAL_SETTINGS and not str(key).startswith("own_seq:")


def _accounts(columns, rows, local_users) -> tuple[list[str], list[list]]:
    """Restored accounts: the whitelisted columns, a checked name, an unusable password."""
    missing = [c for c in ("name", "role") if c not in columns]
    if missing:
        raise BackupError(_("The table %(table)s of this backup is damaged.", table="users"))
    keep = [c for c in USER_COLUMNS if c in columns]
    out = []
    for row in rows:
        values = dict(zip(columns, row))
        try:
            name = check_name(str(values["name"]))
        except AccountError:
            raise BackupError(_("An account of this backup has an invalid name.")) from None
        if name not in local_users:
            out.append([name if c == "name" else values[c] for c in keep] + [_unusable()])
    return keep + ["password_hash"], out


def _records(content) -> list:
    """Every record of the file, parsed before anything is written (one bad record refuses
    the backup), in the order a kit would have made them."""
    if content is None:
        return []
    columns, rows = content
    if not set(RECORD_COLUMNS) <= set(columns):
        raise BackupError(_("The table %(table)s of this backup is damaged.", table="records"))
    at = [columns.index(c) for c in RECORD_COLUMNS]
    received_at = columns.index("received_at") if "received_at" in columns else None
    parsed = []
    for row in rows:
        kind, origin, seq, created_at, exercise, body = (row[i] for i in at)
        try:
            record = json_records.loads(str(kind), int(origin), int(seq), int(created_at), bool(exercise),
                                        str(body))
            parsed.append((record, int(row[received_at]) if received_at is not None else int(time.time())))
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
            raise BackupError(_("A record in the backup is not valid: %(error)s", error=str(exc))) from None
    return sorted(parsed, key=lambda pair: (pair[0].origin, pair[0].seq))


def _unusable() -> str:
    """A password hash no password matches: an admin sets a new one with `kit user passwd`."""
    return "restored$" + base64.b64encode(os.urandom(24)).decode()


def snapshot(db, path: str | Path, *, with_vulnerable: bool = False) -> None:
    """The binary form: `VACUUM INTO` a consistent copy of kit.db, then drop the register
    from the copy unless asked (it is sealed anyway; its key file is never copied)."""
    path = Path(path)
    if path.exists():
        raise BackupError(_("%(path)s exists; a snapshot never overwrites a file.", path=str(path)))
    # VACUUM INTO fills an empty file it is given: made 0600 first, it is never readable by
    # others, not even for a moment, whatever the umask.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    db.execute("VACUUM INTO ?", [str(path)])
    if not with_vulnerable:
        copy = kit_db.connect(path)
        try:
            copy.execute("DELETE FROM vulnerable_people")
            copy.execute("PRAGMA journal_mode=DELETE")
            copy.execute("VACUUM")  # the deleted pages are gone from the file, not just unlinked
        finally:
            copy.conn.close()
