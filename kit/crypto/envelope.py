"""A signed file: a small JSON envelope holding a payload's exact bytes and an Ed25519
signature over a purpose tag and those bytes. Bundles and backups use it.

    {"format": ..., "version": N, "signer": base64 public key, "signature": base64 64 bytes,
     "payload": base64 of the payload's exact bytes}

The tag keeps a signature made for one purpose (a bundle) from passing for another (a backup).
"""
from __future__ import annotations

import base64
import binascii
import json

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import SigningKey, VerifyKey

from kit.crypto.signing import public_key_text


class EnvelopeError(ValueError):
    """`reason` says what is wrong: 'damaged' (not an envelope, or unreadable) or 'signature'."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def seal(fmt: str, version: int, tag: bytes, body: bytes, key: SigningKey) -> bytes:
    envelope = {"format": fmt, "version": version, "signer": public_key_text(key),
                "signature": base64.b64encode(key.sign(tag + body).signature).decode(),
                "payload": base64.b64encode(body).decode()}
    return json.dumps(envelope).encode("ascii")


def fields(envelope: dict) -> tuple[bytes, bytes, bytes]:
    """(signer, signature, body) of a parsed envelope, not yet verified."""
    try:
        signer = base64.b64decode(envelope["signer"], validate=True)
        signature = base64.b64decode(envelope["signature"], validate=True)
        body = base64.b64decode(envelope["payload"], validate=True)
    except (KeyError, TypeError, binascii.Error):
        raise EnvelopeError("damaged") from None
    return signer, signature, body


def verify(tag: bytes, signer: bytes, signature: bytes, body: bytes) -> None:
    try:
        VerifyKey(signer).verify(tag + body, signature)
    except (BadSignatureError, CryptoError, ValueError, TypeError):
        raise EnvelopeError("signature") from None
