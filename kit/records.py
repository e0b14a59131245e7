"""Records: what the kit creates or receives and shares with other kits.

Every record has a global id (origin, seq): `origin` is the 32-bit id of the kit that
created it, `seq` its per-origin sequence. A record is stored once in `records` (the sync
log) and applied to the table the pages read. Receiving the same record twice is a no-op.
"""
from __future__ import annotations

import json
import time
import unicodedata
from dataclasses import dataclass

from .db import transaction

BOARD_KINDS = ("board", "need", "offer")


@dataclass(frozen=True)
class Record:
    origin: int
    seq: int
    kind: str
    created_at: int
    exercise: bool
    body: dict

    @property
    def uid(self) -> str:
        return format_uid(self.origin, self.seq)


def format_uid(origin: int, seq: int) -> str:
    return f"{origin:08x}-{seq}"


def parse_uid(uid: str) -> tuple[int, int]:
    """'0a1b2c3d-12' → (0x0a1b2c3d, 12); ValueError on anything else."""
    origin, _, seq = uid.partition("-")
    if len(origin) != 8 or not seq.isdigit():
        raise ValueError(f"not a record id: {uid!r}")
    return int(origin, 16), int(seq)


def name_key(name: str) -> str:
    """Normalise a person's name for exact lookup: case, accents, hyphens and spacing fold.

    "  Jean-Pierre  DURAND " and "jean pierre durand" are the same person to a family
    typing on a phone; "Durand" alone is not (no prefix or partial matches).
    """
    # NFKD twice: compatibility forms (𝑨, ﬁ) may casefold into letters that decompose again.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", name).casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    cleaned = "".join(c if c.isalnum() else " " for c in letters)
    return " ".join(cleaned.split())


def publish(db, origin: int, kind: str, body: dict, *, exercise: bool, now: int | None = None) -> Record:
    """Create a local record with the next sequence number and apply it, atomically."""
    now = int(time.time()) if now is None else now
    with transaction(db) as conn:
        seq = conn.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM records WHERE origin = ?", [origin]
        ).fetchone()[0]
        record = Record(origin, seq, kind, now, exercise, body)
        _store(conn, record, now)
    return record


def ingest(db, record: Record, *, now: int | None = None) -> bool:
    """Store and apply a record from another kit. False when it was already here."""
    now = int(time.time()) if now is None else now
    with transaction(db) as conn:
        seen = conn.execute(
            "SELECT 1 FROM records WHERE origin = ? AND seq = ?", [record.origin, record.seq]
        ).fetchone()
        if seen:
            return False
        _store(conn, record, now)
    return True


def _store(conn, record: Record, now: int) -> None:
    conn.execute(
        "INSERT INTO records (origin, seq, kind, created_at, received_at, exercise, body) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [record.origin, record.seq, record.kind, record.created_at, now, int(record.exercise),
         json.dumps(record.body, ensure_ascii=False, separators=(",", ":"))],
    )
    APPLY[record.kind](conn, record)


def _apply_message(conn, r: Record) -> None:
    conn.execute(
        "INSERT INTO messages (origin, seq, kind, text, name, created_at, exercise) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [r.origin, r.seq, r.kind, r.body["text"], r.body.get("name", ""), r.created_at, int(r.exercise)],
    )


def _apply_checkin(conn, r: Record) -> None:
    conn.execute(
        "INSERT INTO checkins (origin, seq, name, name_key, note, created_at, exercise) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [r.origin, r.seq, r.body["name"], name_key(r.body["name"]), r.body.get("note", ""),
         r.created_at, int(r.exercise)],
    )


ALERT_FIELDS = (
    "status", "msg_type", "references_id", "category", "event", "urgency", "severity",
    "certainty", "response_type", "headline", "description", "instruction", "area", "expires_at",
)


def _apply_alert(conn, r: Record) -> None:
    fields = {k: r.body[k] for k in ALERT_FIELDS if k in r.body}
    columns = ["origin", "seq", "sent_at", "exercise", *fields]
    conn.execute(
        f"INSERT INTO alerts ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [r.origin, r.seq, r.created_at, int(r.exercise), *fields.values()],
    )
    if fields.get("references_id") and fields.get("msg_type") in ("Update", "Cancel"):
        ref_origin, ref_seq = parse_uid(fields["references_id"])
        conn.execute(
            "UPDATE alerts SET superseded = 1 WHERE origin = ? AND seq = ?", [ref_origin, ref_seq]
        )


APPLY = {
    "board": _apply_message,
    "need": _apply_message,
    "offer": _apply_message,
    "checkin": _apply_checkin,
    "alert": _apply_alert,
}


def board_messages(db, kinds=BOARD_KINDS, *, since: int = 0, limit: int = 50) -> list[dict]:
    """Visible public messages of the given kinds, newest first, after the cursor `since`."""
    marks = ", ".join("?" * len(kinds))
    rows = db.execute(
        f"SELECT id, origin, seq, kind, text, name, created_at, exercise FROM messages "
        f"WHERE kind IN ({marks}) AND hidden = 0 AND id > ? ORDER BY id DESC LIMIT ?",
        [*kinds, since, limit],
    )
    return [_message_dict(row) for row in rows.fetchall()]


def _message_dict(row) -> dict:
    cursor, origin, seq, kind, text, name, created_at, exercise = row
    return {
        "id": format_uid(origin, seq),
        "cursor": cursor,
        "kind": kind,
        "text": text,
        "name": name,
        "origin": f"{origin:08x}",
        "created_at": created_at,
        "exercise": bool(exercise),
    }


def lookup_checkins(db, name: str, limit: int = 10) -> list[dict]:
    """Check-ins whose normalised name equals the one asked for, newest first."""
    key = name_key(name)
    if not key:
        return []
    rows = db.execute(
        "SELECT origin, seq, name, note, created_at, exercise FROM checkins "
        "WHERE name_key = ? ORDER BY created_at DESC LIMIT ?",
        [key, limit],
    ).fetchall()
    return [
        {"id": format_uid(o, s), "name": n, "note": note, "created_at": c,
         "origin": f"{o:08x}", "exercise": bool(e)}
        for o, s, n, note, c, e in rows
    ]


def active_alerts(db, now: int | None = None) -> list[dict]:
    """Alerts neither superseded, cancelled nor expired; most severe and newest first."""
    now = int(time.time()) if now is None else now
    rows = db.execute(
        "SELECT * FROM alerts WHERE superseded = 0 AND msg_type != 'Cancel' "
        "AND (expires_at IS NULL OR expires_at > ?) "
        "ORDER BY CASE severity WHEN 'Extreme' THEN 0 WHEN 'Severe' THEN 1 "
        "WHEN 'Moderate' THEN 2 WHEN 'Minor' THEN 3 ELSE 4 END, sent_at DESC",
        [now],
    )
    columns = [d[0] for d in rows.description]
    alerts = []
    for row in rows.fetchall():
        alert = dict(zip(columns, row))
        alert["id"] = format_uid(alert["origin"], alert["seq"])
        alerts.append(alert)
    return alerts
