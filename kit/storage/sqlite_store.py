"""The mesh core's RecordStore on the kit's SQLite database.

Every put also updates the tables the pages read (kit/storage/projections.py), in the
same transaction, so the sync log and the pages never disagree after a power cut.
"""
from __future__ import annotations

import time

from kit.crypto.signing import verify_record
from kit.mesh.records import Correction, Deletion, Record, Uid, VolunteerText
from kit.mesh.store import OriginState, made_by_its_kit
from kit.storage import json_records, projections

COLUMNS = "kind, origin, seq, created_at, exercise, body"


class SqliteStore:
    def __init__(self, conn, clock=time.time):
        self.conn = conn  # a sqlite3.Connection in autocommit mode (isolation_level=None)
        self.clock = clock

    # --- reads --------------------------------------------------------------------
    def has(self, uid: Uid) -> bool:
        return self.conn.execute(
            "SELECT 1 FROM records WHERE origin = ? AND seq = ?", uid
        ).fetchone() is not None

    def get(self, uid: Uid) -> Record | None:
        row = self.conn.execute(
            f"SELECT {COLUMNS} FROM records WHERE origin = ? AND seq = ?", uid
        ).fetchone()
        return json_records.loads(*row) if row else None

    def vector(self) -> dict[int, OriginState]:
        rows = self.conn.execute("SELECT origin, contiguous, highest FROM origins").fetchall()
        return {origin: OriginState(contiguous, highest) for origin, contiguous, highest in rows}

    def missing(self, origin: int, upto: int, limit: int) -> list[int]:
        contiguous = self._state(origin).contiguous
        held = {seq for (seq,) in self.conn.execute(
            "SELECT seq FROM records WHERE origin = ? AND seq > ? AND seq <= ?",
            (origin, contiguous, upto))}
        out = []
        seq = contiguous
        while len(out) < limit and seq < upto:
            seq += 1
            if seq not in held:
                out.append(seq)
        return out

    def range(self, origin: int, first: int, last: int) -> list[Record]:
        rows = self.conn.execute(
            f"SELECT {COLUMNS} FROM records WHERE origin = ? AND seq BETWEEN ? AND ? ORDER BY seq",
            (origin, first, last))
        return [json_records.loads(*row) for row in rows]

    def tombstones_for(self, target: Uid) -> list[Correction | Deletion]:
        rows = self.conn.execute(
            f"SELECT {COLUMNS} FROM records WHERE target_origin = ? AND target_seq = ?", target)
        return [json_records.loads(*row) for row in rows]

    def first_with_key(self, key: tuple[int, int]) -> Uid | None:
        row = self.conn.execute(
            "SELECT origin, seq FROM records WHERE dedup_sender = ? AND dedup_packet = ? "
            "ORDER BY origin, seq LIMIT 1", key).fetchone()
        return Uid(*row) if row else None

    def conflicted(self, uid: Uid) -> bool:
        return self.conn.execute("SELECT 1 FROM record_conflicts WHERE origin = ? AND seq = ? LIMIT 1",
                                 uid).fetchone() is not None

    def note_conflict(self, held: Record, heard: Record, from_node: int | None) -> None:
        """Two authenticated versions of one uid: recorded with both, and the uid shown
        nowhere public any more (`effective_record` hides a conflicted uid)."""
        self.conn.execute(
            "INSERT INTO record_conflicts (origin, seq, held, heard, from_node, heard_at) VALUES (?, ?, ?, ?, ?, ?)",
            (*held.uid, json_records.dumps(held), json_records.dumps(heard), from_node, int(self.clock())))
        projections.project(self, held)

    def honours(self, tombstone: Correction | Deletion) -> bool:
        """Authority over the target: its own kit, or a crisis cell this kit trusts."""
        return made_by_its_kit(tombstone) or verify_record(tombstone, projections.trusted_keys(self.conn))

    def next_seq(self, origin: int) -> int:
        return self._state(origin).highest + 1

    def _state(self, origin: int) -> OriginState:
        row = self.conn.execute(
            "SELECT contiguous, highest FROM origins WHERE origin = ?", (origin,)).fetchone()
        return OriginState(*row) if row else OriginState(0, 0)

    # --- writes -------------------------------------------------------------------
    def put(self, record: Record) -> bool:
        """Store and project `record` atomically; False if it was already held."""
        if self.conn.in_transaction:
            return self._put(record)
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            added = self._put(record)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return added

    def _put(self, record: Record) -> bool:
        target = getattr(record, "target", None) if isinstance(record, (Correction, Deletion)) else None
        key = record.dedup_key if isinstance(record, VolunteerText) else (None, None)
        cursor = self.conn.execute(
            "INSERT OR IGNORE INTO records (origin, seq, kind, created_at, received_at, exercise, body, "
            "target_origin, target_seq, dedup_sender, dedup_packet) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.origin, record.seq, record.KIND, record.created_at, int(self.clock()),
             int(record.exercise), json_records.dumps(record),
             *(target or (None, None)), *key))
        if cursor.rowcount == 0:
            return False
        self._advance(record.uid)
        projections.project(self, record)
        return True

    def _advance(self, uid: Uid) -> None:
        state = self._state(uid.origin)
        contiguous = state.contiguous
        if uid.seq == contiguous + 1:
            held = {seq for (seq,) in self.conn.execute(
                "SELECT seq FROM records WHERE origin = ? AND seq > ?", (uid.origin, contiguous))}
            while contiguous + 1 in held:
                contiguous += 1
        self.conn.execute(
            "INSERT INTO origins (origin, contiguous, highest) VALUES (?, ?, ?) "
            "ON CONFLICT (origin) DO UPDATE SET contiguous = excluded.contiguous, highest = excluded.highest",
            (uid.origin, contiguous, max(state.highest, uid.seq)))
