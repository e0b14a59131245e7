"""Typed mesh records ⇄ JSON bodies for the `records` table and for exports.

The identity fields (origin, seq, created_at, exercise) are table columns; the body holds
the kind's own fields: enums as their names (readable in a RETEX export), uids as
"origin-seq" strings, bytes as hex.
"""
from __future__ import annotations

import json
import re
from dataclasses import fields
from enum import Enum, IntFlag
from functools import cache
from typing import get_type_hints

from kit.mesh.records import RECORD_TYPES, Record, Uid
from kit.storage import strict_json

IDENTITY = ("origin", "seq", "created_at", "exercise")
TYPE_OF_KIND = {cls.KIND: cls for cls in RECORD_TYPES}


def format_uid(uid: Uid) -> str:
    return f"{uid.origin:08x}-{uid.seq}"


UID_TEXT = re.compile(r"([0-9a-fA-F]{8})-([0-9]{1,19})", re.ASCII)


def parse_uid(text: str) -> Uid:
    """'0a1b2c3d-12' → Uid(0x0a1b2c3d, 12); ValueError on anything else."""
    # ASCII only and within SQLite's integers: int() would also read "１２", " 1_2" or 10**20.
    match = UID_TEXT.fullmatch(text) if isinstance(text, str) else None
    if match is None or int(match[2]) >= 2**63:
        raise ValueError(f"not a record id: {str(text)[:40]!r}")
    return Uid(int(match[1], 16), int(match[2]))


def _to_plain(value):
    if isinstance(value, IntFlag):
        return int(value)
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, Uid):
        return format_uid(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def body(record: Record) -> dict:
    return {f.name: _to_plain(getattr(record, f.name)) for f in fields(record) if f.name not in IDENTITY}


def dumps(record: Record) -> str:
    return json.dumps(body(record), ensure_ascii=False, separators=(",", ":"))


@cache
def _converters(cls: type[Record]) -> dict:
    converters = {}
    for name, hint in get_type_hints(cls).items():
        if name in IDENTITY or name.isupper():
            continue
        options = getattr(hint, "__args__", (hint,))
        kind = next((o for o in options if o is not type(None)), hint)
        if isinstance(kind, type) and issubclass(kind, IntFlag):
            converters[name] = kind
        elif isinstance(kind, type) and issubclass(kind, Enum):
            converters[name] = kind.__getitem__
        elif kind is Uid:
            converters[name] = parse_uid
        elif kind is bytes:
            converters[name] = bytes.fromhex
    return converters


def loads(kind: str, origin: int, seq: int, created_at: int, exercise: bool, text: str) -> Record:
    cls = TYPE_OF_KIND[kind]
    values = strict_json.loads(text)  # bundles bring bodies from outside
    for name, convert in _converters(cls).items():
        if values.get(name) is not None:
            values[name] = convert(values[name])
    return cls(origin=origin, seq=seq, created_at=created_at, exercise=bool(exercise), **values)
