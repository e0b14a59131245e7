"""Personal data for named kits only: encrypted once with a fresh SecretBox key
(XSalsa20-Poly1305), that key sealed to each receiving kit with a libsodium sealed box
(crypto_box_seal: an ephemeral X25519 key pair, so only the holder of the recipient's
private key opens it; libsodium docs "Sealed boxes"). A kit's X25519 key is the Curve25519
form of its own Ed25519 key (kit/crypto/own_key.py), so the key an operator notes for
backups is the one others seal to.

    {"recipients": [base64 Ed25519 public key, ...], "keys": [base64 sealed data key, ...],
     "box": base64 SecretBox(data key).encrypt(plain)}
"""
from __future__ import annotations

import base64
import binascii

from nacl.exceptions import CryptoError
from nacl.public import SealedBox
from nacl.secret import SecretBox
from nacl.signing import SigningKey
from nacl.utils import random as random_bytes

from kit.crypto import own_key


class SealedError(ValueError):
    """The sealed part is addressed to this kit but cannot be opened (changed or damaged)."""


def seal_for(recipients: list[bytes], plain: bytes) -> dict:
    data_key = random_bytes(SecretBox.KEY_SIZE)
    return {"recipients": [base64.b64encode(r).decode() for r in recipients],
            "keys": [base64.b64encode(SealedBox(own_key.box_public(r)).encrypt(data_key)).decode()
                     for r in recipients],
            "box": base64.b64encode(SecretBox(data_key).encrypt(plain)).decode()}


def open_for(sealed: dict, key: SigningKey) -> bytes | None:
    """The plain bytes if this kit (`key`) is a recipient, else None."""
    mine = base64.b64encode(bytes(key.verify_key)).decode()
    try:
        recipients, keys = list(sealed["recipients"]), list(sealed["keys"])
        if mine not in recipients:
            return None
        data_key = SealedBox(own_key.box_private(key)).decrypt(base64.b64decode(keys[recipients.index(mine)]))
        return SecretBox(data_key).decrypt(base64.b64decode(sealed["box"]))
    except (KeyError, TypeError, IndexError, ValueError, binascii.Error, CryptoError):
        raise SealedError("damaged") from None
