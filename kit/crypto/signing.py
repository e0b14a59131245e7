"""Ed25519 signatures of the crisis cell: official alerts, corrections and deletions of
another kit's records, and bundles. The mairie signs, every kit verifies against the keys
it trusts. The kit key (kit/mesh/frame_auth.py) says a frame comes from a kit; only these
signatures say a crisis cell stands behind it.

What a record signature covers: a domain tag for its kind, its global id (origin, seq),
its exercise flag and its encoded content without the signature. Replaying it under
another id, flipping the exercise flag or changing a byte all fail verification.
"""
from __future__ import annotations

import base64
import os
import struct
from dataclasses import replace
from pathlib import Path

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import SigningKey, VerifyKey

from kit.mesh import codec
from kit.mesh.records import Alert

KEY_PREFIX = "ed25519-private:"
ALERT_TAG = b"kit-tous-risques/alert/v1\0"
TOMBSTONE_TAG = b"kit-tous-risques/tombstone/v1\0"


class KeyError_(ValueError):
    """A key file or public key that cannot be used; the message says why."""


def new_key(path: str | Path) -> str:
    """Write a new private key (mode 0600, never overwriting) and return its public key."""
    key = SigningKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(KEY_PREFIX + base64.b64encode(bytes(key)).decode() + "\n")
    return public_key_text(key)


def load_key(path: str | Path) -> SigningKey:
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise KeyError_(f"cannot read the signing key {path}: {exc.strerror}") from None
    if not text.startswith(KEY_PREFIX):
        raise KeyError_(f"{path} is not a kit signing key (made by `kit keys new`)")
    try:
        seed = base64.b64decode(text[len(KEY_PREFIX):], validate=True)
        return SigningKey(seed)
    except (ValueError, TypeError, CryptoError):
        raise KeyError_(f"{path}: the key is damaged") from None


def public_key_text(key: SigningKey) -> str:
    return base64.b64encode(bytes(key.verify_key)).decode()


def parse_public_key(text: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise KeyError_(f"not an Ed25519 public key (base64 of 32 bytes): {text!r}")
    return raw


def signed_message(record) -> bytes:
    """What a record's signature covers: its kind's tag, its id, its exercise flag and its
    encoded content without the signature."""
    tag = ALERT_TAG if isinstance(record, Alert) else TOMBSTONE_TAG + record.KIND.encode() + b"\0"
    content = codec.encode_content(replace(record, signature=b""))
    return tag + struct.pack(">IIB", record.origin, record.seq, int(record.exercise)) + content



def sign_record(record, key: SigningKey):
    """An Alert, Correction or Deletion signed with a crisis cell's key."""
    return replace(record, signature=key.sign(signed_message(record)).signature)



def verify_record(record, trusted: list[bytes]) -> bool:
    if len(record.signature) != 64:
        return False
    message = signed_message(record)
    for public in trusted:
        try:
            VerifyKey(public).verify(message, record.signature)
            return True
        except (BadSignatureError, CryptoError, ValueError):
            continue
    return False
