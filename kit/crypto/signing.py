"""Ed25519 signatures of official alerts (and of bundles): the mairie signs, every kit
verifies against the keys it trusts. Meshtastic itself authenticates nobody — anyone with
the channel key can send anything — so trust comes only from these signatures.

What an alert signature covers: a domain tag, the alert's global id (origin, seq), its
exercise flag and its encoded content without the signature. Replaying the frames under
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


def alert_message(alert: Alert) -> bytes:
    content = codec.encode_content(replace(alert, signature=b""))
    return ALERT_TAG + struct.pack(">IIB", alert.origin, alert.seq, int(alert.exercise)) + content


def sign_alert(alert: Alert, key: SigningKey) -> Alert:
    return replace(alert, signature=key.sign(alert_message(alert)).signature)


def verify_alert(alert: Alert, trusted: list[bytes]) -> bool:
    if len(alert.signature) != 64:
        return False
    message = alert_message(alert)
    for public in trusted:
        try:
            VerifyKey(public).verify(message, alert.signature)
            return True
        except (BadSignatureError, CryptoError, ValueError):
            continue
    return False
