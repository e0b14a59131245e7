"""Stream API framing: 0x94 0xC3, 16-bit big-endian length, protobuf (fw src/mesh/StreamAPI.cpp).

The decoder mirrors the firmware's byte-at-a-time state machine: bytes outside a frame are
skipped (on serial they are the debug log), and a header announcing more than 512 bytes is
dropped so the reader hunts for 0x94 again.
"""
from __future__ import annotations

START1 = 0x94
START2 = 0xC3
HEADER_LEN = 4
MAX_PAYLOAD = 512  # MAX_TO_FROM_RADIO_SIZE


def encode_frame(payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"frame payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return bytes((START1, START2, len(payload) >> 8, len(payload) & 0xFF)) + payload


class FrameDecoder:
    """Incremental decoder; counts what it had to throw away."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.garbage_bytes = 0  # bytes skipped while hunting for a header
        self.oversize_headers = 0  # headers dropped because the length was > 512

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        for byte in data:
            buf = self._buf
            buf.append(byte)
            if len(buf) == 1:
                if byte != START1:
                    buf.clear()
                    self.garbage_bytes += 1
            elif len(buf) == 2:
                if byte != START2:
                    buf.clear()
                    self.garbage_bytes += 2
            elif len(buf) < HEADER_LEN:
                continue
            elif len(buf) == HEADER_LEN:
                length = (buf[2] << 8) | buf[3]
                if length > MAX_PAYLOAD:
                    buf.clear()
                    self.oversize_headers += 1
                elif length == 0:
                    frames.append(b"")
                    buf.clear()
            elif len(buf) == HEADER_LEN + ((buf[2] << 8) | buf[3]):
                frames.append(bytes(buf[HEADER_LEN:]))
                buf.clear()
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame (a truncated frame waits here for the rest)."""
        return len(self._buf)
