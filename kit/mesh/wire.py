"""Byte-level primitives of the mesh wire format: varints, zigzag, fixed32, bounded reads.

The reader raises `Malformed` on any inconsistency; the decoders turn it into a counted
`Rejected` so nothing malformed ever escapes as an exception.
"""
from __future__ import annotations


class Malformed(Exception):
    """A frame does not follow the wire format; `reason` is the counted rejection reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# Varints longer than this are refused: 10 bytes hold any 64-bit value, and nothing in
# the format needs more, so a longer run is garbage (and would let a frame cost CPU).
MAX_VARINT_BYTES = 10


def write_uvarint(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError("uvarint must be >= 0")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def zigzag(value: int) -> int:
    return value * 2 if value >= 0 else -value * 2 - 1


def unzigzag(value: int) -> int:
    return value // 2 if value % 2 == 0 else -(value + 1) // 2


def write_fixed32(out: bytearray, value: int) -> None:
    out += value.to_bytes(4, "big")


class Reader:
    def __init__(self, data: bytes, pos: int = 0):
        self.data = data
        self.pos = pos

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise Malformed("truncated")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise Malformed("truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return bytes(chunk)

    def uvarint(self) -> int:
        value = 0
        for i in range(MAX_VARINT_BYTES):
            b = self.byte()
            value |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                # The encoder never writes a redundant 0x00 group, so one is corruption.
                if i > 0 and b == 0:
                    raise Malformed("non_canonical_varint")
                return value
        raise Malformed("varint_too_long")

    def fixed32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def rest(self) -> bytes:
        return self.take(self.remaining)
