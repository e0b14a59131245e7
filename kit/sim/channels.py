"""Channel identity on air: the 1-byte hash and the expanded key (fw src/mesh/Channels.cpp).

The simulator does not encrypt; a receiver decodes a packet only when one of its channels has
the same hash *and* the same key, which is what decryption success means on a real radio.
"""
from __future__ import annotations

from meshtastic.protobuf import channel_pb2

# fw Channels.h defaultpsk; a 1-byte PSK n selects this key with its last byte + (n - 1).
DEFAULT_KEY = bytes.fromhex("d4f1bb3a20290759f0bcffabcf4e6901")

# Channel name shown when the primary channel's name is empty (fw DisplayFormatters).
PRESET_DISPLAY_NAMES = {
    "LONG_FAST": "LongFast",
    "LONG_SLOW": "LongSlow",
    "LONG_MODERATE": "LongMod",
    "LONG_TURBO": "LongTurbo",
    "MEDIUM_FAST": "MediumFast",
    "MEDIUM_SLOW": "MediumSlow",
    "SHORT_FAST": "ShortFast",
    "SHORT_SLOW": "ShortSlow",
    "SHORT_TURBO": "ShortTurbo",
}


def expanded_key(psk: bytes) -> bytes:
    if len(psk) == 1:
        if psk[0] == 0:
            return b""
        return DEFAULT_KEY[:-1] + bytes([(DEFAULT_KEY[-1] + psk[0] - 1) & 0xFF])
    return bytes(psk)


def _xor(data: bytes) -> int:
    h = 0
    for b in data:
        h ^= b
    return h


def display_name(settings: channel_pb2.ChannelSettings, preset_name: str) -> str:
    return settings.name or PRESET_DISPLAY_NAMES.get(preset_name, "Custom")


def channel_hash(settings: channel_pb2.ChannelSettings, preset_name: str) -> int:
    """xorHash(name) ^ xorHash(key), as Channels::generateHash."""
    return _xor(display_name(settings, preset_name).encode()) ^ _xor(expanded_key(settings.psk))


def identity(settings: channel_pb2.ChannelSettings, preset_name: str) -> tuple[int, bytes]:
    return channel_hash(settings, preset_name), expanded_key(settings.psk)
