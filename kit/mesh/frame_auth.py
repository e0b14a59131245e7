"""Frame authentication: only kits can make frames that kits accept.

Meshtastic authenticates nobody, and every volunteer's handheld holds the channel key, so
anyone in range can send any PRIVATE_APP payload. Every kit frame therefore ends with a
tag made with the *kit key*: a 32-byte secret that kits hold (in their profile) and
handhelds never do (it is not in the handheld YAML).

    frame = body || key_id (1 byte) || tag (8 bytes)
    tag   = BLAKE2b-64 keyed with kit_keys[key_id], personalised "kit-frame-v1",
            over uint32 big-endian sender node || body

BLAKE2b in keyed mode is a MAC (RFC 7693 §2.9; Python's hashlib.blake2b `key=`, the same
primitive as libsodium's crypto_generichash). The sender node is covered because a frame
whose origin is its radio's `from` does not repeat it (FLAG_ORIGIN_IS_SENDER). A 64-bit tag
makes a blind forgery succeed once in 2^64 tries; the radio's airtime caps tries at a few
thousand an hour. The key id lets a territory rotate its key: during the overlap a kit
holds both keys, signs with the new one and accepts either.

Replaying a genuine frame later changes nothing (records are stored once by uid; alerts
carry their own expiry). What the kit key does not stop: someone holding it (a stolen kit)
can make frames every kit accepts. The crisis cell's Ed25519 keys still decide what is an
official alert and which corrections or deletions of another kit's records take effect.
"""
from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

TAG_BYTES = 8
OVERHEAD = 1 + TAG_BYTES
KEY_BYTES = 32
PERSON = b"kit-frame-v1"


class BadFrame(ValueError):
    """The frame is not from a kit holding one of our keys; `reason` says which check failed."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class FrameKeys:
    """The kit key ring: id → 32-byte key. `current` signs; every key in the ring verifies."""

    keys: dict[int, bytes]
    current: int

    def __post_init__(self):
        if self.current not in self.keys:
            raise ValueError("the current kit key is not in the ring")
        for key_id, key in self.keys.items():
            if not 0 <= key_id <= 255 or len(key) != KEY_BYTES:
                raise ValueError("a kit key is 32 bytes with an id 0–255")

    def _tag(self, key_id: int, sender: int, body: bytes) -> bytes:
        mac = hashlib.blake2b(digest_size=TAG_BYTES, key=self.keys[key_id], person=PERSON)
        mac.update(struct.pack(">I", sender & 0xFFFFFFFF))
        mac.update(body)
        return mac.digest()

    def seal(self, body: bytes, sender: int, key_id: int | None = None) -> bytes:
        """Sealed with the current key, or with `key_id` (an older key of the ring)."""
        key_id = self.current if key_id is None else key_id
        return body + bytes((key_id,)) + self._tag(key_id, sender, body)

    def open(self, frame: bytes, sender: int) -> bytes:
        """The body of a frame made with one of our keys; raises BadFrame otherwise."""
        if len(frame) <= OVERHEAD:
            raise BadFrame("unauthenticated")
        body, key_id, tag = frame[:-OVERHEAD], frame[-OVERHEAD], frame[-TAG_BYTES:]
        if key_id not in self.keys:
            raise BadFrame("unknown_key")
        if not hmac.compare_digest(tag, self._tag(key_id, sender, body)):
            raise BadFrame("bad_tag")
        return body


def key_id_of(frame: bytes) -> int | None:
    return frame[-OVERHEAD] if len(frame) > OVERHEAD else None


def strip(frame: bytes) -> bytes:
    """The body of a sealed frame this kit made itself (no check)."""
    return frame[:-OVERHEAD]
