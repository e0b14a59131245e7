"""The one module that owns the SQLite database: connections, pragmas, migrations.

Every connection gets the same pragmas: WAL so readers never block the writer,
synchronous=FULL so an acknowledged write survives a power cut (NORMAL in WAL mode can
lose the last commits), a busy timeout instead of "database is locked", foreign keys on.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from importlib import resources
from pathlib import Path

import sqlite_utils

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)


def make_private(path: str | Path) -> None:
    """The database and its -wal/-shm files 0600 whatever the umask. A new database file is
    made 0600 before SQLite opens it; SQLite gives its -wal and -shm files the database
    file's own mode (os_unix.c, findCreateFileMode), so they follow. Files of an older kit
    are tightened here too."""
    path = Path(path)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        try:
            if name.stat().st_mode & 0o077:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            pass
        except PermissionError:  # someone else's file (root ran the kit once): SQLite will say so
            pass


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open the kit's database with the kit's pragmas (autocommit; use `transaction`)."""
    conn = sqlite3.connect(str(path), timeout=5, isolation_level=None, check_same_thread=False)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return sqlite_utils.Database(conn)


class transaction:
    """`with transaction(db):` — BEGIN IMMEDIATE … COMMIT, ROLLBACK on error.

    IMMEDIATE takes the write lock up front, so two writers never deadlock on upgrade.
    Nested uses join the outer transaction: only the outermost commits or rolls back.
    """

    def __init__(self, db: sqlite_utils.Database):
        self.conn = db.conn
        self.outermost = False

    def __enter__(self):
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")
            self.outermost = True
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if self.outermost:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def migration_scripts() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every bundled migration, in order: `NNNN_name.sql`."""
    folder = resources.files("kit.storage") / "migrations"
    scripts = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            scripts.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(scripts)


def schema_version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply the migrations newer than the database's user_version; return their names.

    Each migration runs in its own transaction together with the version bump, so a
    crash leaves the database at a whole version.
    """
    applied = []
    current = schema_version(db)
    for version, name, sql in migration_scripts():
        if version <= current:
            continue
        with transaction(db) as conn:
            for statement in split_statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version:d}")
        applied.append(name)
    return applied


def split_statements(sql: str) -> list[str]:
    """Split a migration script into statements (executescript would COMMIT on its own)."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL statement at the end of a migration: {buffer[:60]!r}")
    return statements


# Each server thread keeps its connections open between requests: opening one and
# setting its pragmas costs about a millisecond, more than a cached page takes to serve.
# A few paths per thread at most (tests make many kits in one thread).
_local = threading.local()
KEPT_PER_THREAD = 4


def thread_connection(path: str) -> sqlite_utils.Database:
    kept = getattr(_local, "connections", None)
    if kept is None:
        kept = _local.connections = OrderedDict()
    database = kept.get(path)
    if database is None:
        database = kept[path] = connect(path)
        while len(kept) > KEPT_PER_THREAD:
            kept.popitem(last=False)[1].conn.close()
    kept.move_to_end(path)
    return database
