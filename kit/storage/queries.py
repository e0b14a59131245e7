"""The queries the pages make on the records: board, check-ins, active alerts.

A record is a typed mesh record (kit/mesh/records.py) with a global id (origin, seq):
`origin` is the 32-bit id of the kit that created it, `seq` its per-origin sequence. It is
stored once in the sync log and projected into the tables the pages read; receiving the
same record twice is a no-op (kit/storage/sqlite_store.py).
"""
from __future__ import annotations

import time

from kit.mesh.records import Uid
from kit.storage.json_records import format_uid, parse_uid
from kit.storage.names import name_key

BOARD_KINDS = ("board", "need", "offer", "radio")

__all__ = ["BOARD_KINDS", "format_uid", "parse_uid", "board_messages", "lookup_checkins", "active_alerts",
           "name_key"]


def _uid_text(origin: int, seq: int) -> str:
    return format_uid(Uid(origin, seq))


def board_messages(db, kinds=BOARD_KINDS, *, since: int = 0, limit: int = 50,
                   pending: bool = True) -> list[dict]:
    """Visible public messages of the given kinds, newest first: the shared ones after the
    cursor `since`, then (with `pending`) residents' posts on this kit awaiting moderation."""
    marks = ", ".join("?" * len(kinds))
    rows = db.execute(
        f"SELECT id, origin, seq, kind, text, name, created_at, exercise FROM messages "
        f"WHERE kind IN ({marks}) AND hidden = 0 AND id > ? ORDER BY id DESC LIMIT ?",
        [*kinds, since, limit],
    )
    shared = [
        {"id": _uid_text(origin, seq), "cursor": cursor, "kind": kind, "text": text, "name": name,
         "origin": f"{origin:08x}", "created_at": created_at, "exercise": bool(exercise), "pending": False}
        for cursor, origin, seq, kind, text, name, created_at, exercise in rows.fetchall()
    ]
    if not pending:
        return shared
    waiting = pending_posts(db, kinds, limit=limit)
    return sorted(shared + waiting, key=lambda m: m["created_at"], reverse=True)[:limit]


def pending_posts(db, kinds=BOARD_KINDS, *, limit: int = 50) -> list[dict]:
    """Residents' posts on this kit that wait for an operator before going on the radio."""
    marks = ", ".join("?" * len(kinds))
    rows = db.execute(
        f"SELECT id, kind, text, name, created_at, exercise FROM pending_posts "
        f"WHERE state = 'pending' AND kind IN ({marks}) ORDER BY id DESC LIMIT ?", [*kinds, limit]).fetchall()
    return [
        {"id": f"local-{pid}", "cursor": 0, "kind": kind, "text": text, "name": name, "origin": "local",
         "created_at": created_at, "exercise": bool(exercise), "pending": True}
        for pid, kind, text, name, created_at, exercise in rows
    ]


def lookup_checkins(db, name: str, limit: int = 10) -> list[dict]:
    """Check-ins whose normalised name equals the one asked for, newest first."""
    key = name_key(name)
    if not key:
        return []
    rows = db.execute(
        "SELECT origin, seq, name, note, created_at, exercise FROM checkins "
        "WHERE name_key = ? AND hidden = 0 ORDER BY created_at DESC LIMIT ?",
        [key, limit],
    ).fetchall()
    return [
        {"id": _uid_text(o, s), "name": n, "note": note, "created_at": c,
         "origin": f"{o:08x}", "exercise": bool(e)}
        for o, s, n, note, c, e in rows
    ]


def active_alerts(db, now: int | None = None, *, verified_only: bool = False) -> list[dict]:
    """Alerts neither superseded, cancelled nor expired; most severe and newest first.
    Residents' pages ask for verified ones only: an unsigned or forged alert never shows
    there as official (the crisis cell sees the others, to check them)."""
    now = int(time.time()) if now is None else now
    rows = db.execute(
        "SELECT * FROM alerts WHERE superseded = 0 AND msg_type != 'Cancel' "
        "AND (expires_at IS NULL OR expires_at > ?) " + ("AND verified = 1 " if verified_only else "") +
        "ORDER BY CASE severity WHEN 'Extreme' THEN 0 WHEN 'Severe' THEN 1 "
        "WHEN 'Moderate' THEN 2 WHEN 'Minor' THEN 3 ELSE 4 END, sent_at DESC",
        [now],
    )
    columns = [d[0] for d in rows.description]
    alerts = []
    for row in rows.fetchall():
        alert = dict(zip(columns, row))
        alert["id"] = _uid_text(alert["origin"], alert["seq"])
        alerts.append(alert)
    return alerts
