"""What the sync engine needs from storage, an in-memory implementation, and the read view.

The store keeps every well-formed record it is given, tombstoned or not: sequences must
stay contiguous for the digests to converge, and a deletion only changes what is *shown*
(`effective_record`), never what is held. That is also why a late or replayed original can
never come back: its deletion is held too, and the view checks it on every read.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from kit.mesh.records import CORRECTABLE_FIELD, Correction, Deletion, Record, Uid, VolunteerText


@dataclass(frozen=True)
class OriginState:
    contiguous: int  # every seq 1..contiguous is held
    highest: int  # highest seq held


class RecordStore(Protocol):
    def has(self, uid: Uid) -> bool: ...

    def get(self, uid: Uid) -> Record | None: ...

    def put(self, record: Record) -> bool:
        """Store `record`; True if it was new. Idempotent."""

    def vector(self) -> dict[int, OriginState]:
        """Per origin: contiguous max and highest seq held (the digest content)."""

    def missing(self, origin: int, upto: int, limit: int) -> list[int]:
        """Up to `limit` smallest seqs in 1..upto not held for `origin`."""

    def range(self, origin: int, first: int, last: int) -> list[Record]:
        """Records held for `origin` with first <= seq <= last, by seq."""

    def tombstones_for(self, target: Uid) -> list[Correction | Deletion]: ...

    def first_with_key(self, key: tuple[int, int]) -> Uid | None:
        """Smallest uid of the volunteer texts with this (sender, packet id)."""


class MemoryStore:
    """RecordStore for tests and simulation."""

    def __init__(self) -> None:
        self._records: dict[Uid, Record] = {}
        self._seqs: dict[int, set[int]] = {}
        self._state: dict[int, OriginState] = {}
        self._tombstones: dict[Uid, list[Correction | Deletion]] = {}
        self._keys: dict[tuple[int, int], Uid] = {}

    def __len__(self) -> int:
        return len(self._records)

    def has(self, uid: Uid) -> bool:
        return uid in self._records

    def get(self, uid: Uid) -> Record | None:
        return self._records.get(uid)

    def put(self, record: Record) -> bool:
        uid = record.uid
        if uid in self._records:
            return False
        self._records[uid] = record
        seqs = self._seqs.setdefault(uid.origin, set())
        seqs.add(uid.seq)
        old = self._state.get(uid.origin, OriginState(0, 0))
        contiguous = old.contiguous
        while contiguous + 1 in seqs:
            contiguous += 1
        self._state[uid.origin] = OriginState(contiguous, max(old.highest, uid.seq))
        if isinstance(record, (Correction, Deletion)):
            self._tombstones.setdefault(record.target, []).append(record)
        if isinstance(record, VolunteerText):
            known = self._keys.get(record.dedup_key)
            self._keys[record.dedup_key] = min(known, uid) if known else uid
        return True

    def vector(self) -> dict[int, OriginState]:
        return dict(self._state)

    def missing(self, origin: int, upto: int, limit: int) -> list[int]:
        seqs = self._seqs.get(origin, set())
        start = self._state.get(origin, OriginState(0, 0)).contiguous + 1
        out: list[int] = []
        for seq in range(start, upto + 1):
            if seq not in seqs:
                out.append(seq)
                if len(out) >= limit:
                    break
        return out

    def range(self, origin: int, first: int, last: int) -> list[Record]:
        seqs = self._seqs.get(origin, set())
        return [self._records[Uid(origin, s)] for s in sorted(seqs) if first <= s <= last]

    def tombstones_for(self, target: Uid) -> list[Correction | Deletion]:
        return list(self._tombstones.get(target, ()))

    def first_with_key(self, key: tuple[int, int]) -> Uid | None:
        return self._keys.get(key)

    def uids(self) -> set[Uid]:
        return set(self._records)


def made_by_its_kit(tombstone: Correction | Deletion) -> bool:
    """A kit may always correct or delete its own records."""
    return tombstone.origin == tombstone.target.origin


def effective_record(store: RecordStore, uid: Uid) -> Record | None:
    """The record as it should be shown: None if deleted (or a duplicate volunteer text),
    else with the text of its latest correction. Same answer on every kit holding the same
    records (and trusting the same keys), whatever order they arrived in.

    A tombstone counts only if it has authority over its target: made by the target's own
    kit, or — `store.honours(tombstone)`, for a store that knows the crisis cells' keys —
    signed by one of them. Anyone else's correction or deletion is held (sequences stay
    contiguous) but changes nothing."""
    record = store.get(uid)
    if record is None or getattr(store, "conflicted", lambda _uid: False)(uid):
        return None
    honours = getattr(store, "honours", made_by_its_kit)
    tombstones = [t for t in store.tombstones_for(uid) if honours(t)]
    if any(isinstance(t, Deletion) for t in tombstones):
        return None
    if isinstance(record, VolunteerText) and store.first_with_key(record.dedup_key) != uid:
        return None
    field = CORRECTABLE_FIELD.get(type(record))
    corrections = [
        t
        for t in tombstones
        if isinstance(t, Correction)
        and not any(isinstance(d, Deletion) and honours(d) for d in store.tombstones_for(t.uid))
    ]
    if field and corrections:
        latest = max(corrections, key=lambda c: (c.created_at, c.origin, c.seq))
        record = replace(record, **{field: latest.text})
    return record
