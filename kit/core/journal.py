"""The main courante: a chronological, append-only log of actions and messages."""
from __future__ import annotations

import time

STATES = ("a_verifier", "en_cours", "verifiee")


def log(db, author: str, source: str, action: str, subject: str = "", detail: str = "",
        *, exercise: bool = False, verification: str = "a_verifier", at: int | None = None) -> int:
    cursor = db.execute(
        "INSERT INTO journal (at, author, source, action, subject, detail, verification, exercise) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [int(time.time()) if at is None else at, author, source, action, subject, detail[:1000],
         verification, int(exercise)])
    return cursor.lastrowid


def set_verification(db, entry: int, state: str) -> bool:
    if state not in STATES:
        raise ValueError(f"verification must be one of {STATES}")
    return db.execute("UPDATE journal SET verification = ? WHERE id = ?", [state, entry]).rowcount == 1


def entries(db, *, since: int = 0, limit: int = 500) -> list[dict]:
    cursor = db.execute("SELECT * FROM journal WHERE at >= ? ORDER BY id DESC LIMIT ?", [since, limit])
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]
