"""Typed mesh records ⇄ JSON bodies for the `records` table and for exports.

The identity fields (origin, seq, created_at, exercise) are table columns; the body holds
the kind's own fields: enums as their names (readable in a RETEX export), uids as
"origin-seq" strings, bytes as hex.
"""
from __future__ import annotations

import json
from dataclasses import fields
from enum import Enum, IntFlag
from functools import cache
from typing import get_type_hints

from kit.mesh.records import RECORD_TYPES, Record, Uid

IDENTITY = ("origin", "seq", "created_at", "exercise")
TYPE_OF_KIND = {cls.KIND: cls for cls in RECORD_TYPES}


def format_uid(uid: Uid) -> str:
    return f"{uid.origin:08x}-{uid.seq}"


def parse_uid(text: str) -> Uid:
    """'0a1b2c3d-12' → Uid(0x0a1b2c3d, 12); ValueError on anything else."""
    origin, _, seq = text.partition("-")
    if len(origin) != 8 or not seq.isdigit():
        raise ValueError(f"not a record id: {text!r}")
    return Uid(int(origin, 16), int(seq))


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
    values = json.loads(text)
    for name, convert in _converters(cls).items():
        if values.get(name) is not None:
            values[name] = convert(values[name])
    return cls(origin=origin, seq=seq, created_at=created_at, exercise=bool(exercise), **values)
