"""The kit's identity: a 32-bit origin id for its records, a kit id and a name."""
from __future__ import annotations

import secrets

from kit.storage import settings


def ensure(db) -> int:
    """Make the kit's origin id on first start (random, never 0 or broadcast)."""
    origin = settings.get(db, "kit_origin")
    if origin is None:
        value = 0
        while value in (0, 0xFFFFFFFF):
            value = secrets.randbits(32)
        settings.put(db, "kit_origin", str(value))
        if not settings.get(db, "kit_id"):
            settings.put(db, "kit_id", f"kit-{value:08x}")
        return value
    return int(origin)
