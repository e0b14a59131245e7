"""The kit's own Ed25519 key pair (`identity.key` in its data folder, 0600, made on first
use): it signs the kit's backups, so a restore can tell the file was made by that kit and
not changed since, and its X25519 form (RFC 7748, the birational map libsodium's
crypto_sign_ed25519_sk_to_curve25519 computes) opens what other kits seal to it.

Not the crisis cell's key (kit/crypto/signing.py): no kit trusts an alert for this one.
Never copied into a backup or a bundle: a restored kit makes its own.
"""
from __future__ import annotations

from pathlib import Path

from nacl.public import PrivateKey, PublicKey
from nacl.signing import SigningKey, VerifyKey

from kit.crypto import signing

KEY_FILE = "identity.key"


def load(data_dir: str | Path) -> SigningKey:
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        try:
            signing.new_key(path)
        except FileExistsError:
            pass  # made meanwhile by another process: use it
    return signing.load_key(path)


def public_text(data_dir: str | Path) -> str:
    """What an operator notes and gives to another kit: base64 of the 32-byte public key."""
    return signing.public_key_text(load(data_dir))


def box_private(key: SigningKey) -> PrivateKey:
    return key.to_curve25519_private_key()


def box_public(ed25519_public: bytes) -> PublicKey:
    """A kit's sealing key, from the Ed25519 public key it publishes."""
    return VerifyKey(ed25519_public).to_curve25519_public_key()
