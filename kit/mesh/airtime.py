"""LoRa time on air for Meshtastic presets (Semtech AN1200.13).

Pure arithmetic, shared by the airtime scheduler and the simulated radio so that both
agree on what a frame costs. Figures are checked against the firmware's constants in
tests/test_airtime.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# Meshtastic puts a 16-byte header in front of the encoded Data protobuf on air.
MESH_HEADER_BYTES = 16
PREAMBLE_SYMBOLS = 16


@dataclass(frozen=True)
class Preset:
    name: str
    spreading_factor: int
    bandwidth_khz: float
    coding_rate: int  # denominator: 5 means 4/5

    @property
    def symbol_ms(self) -> float:
        return (2**self.spreading_factor) / self.bandwidth_khz


# Meshtastic's default preset (firmware src/mesh/MeshRadio.h, config.lora.modem_preset = 0).
DEFAULT_PRESET = "LONG_FAST"

# The presets allowed in EU_868 (fw MeshRadio.h); the 500 kHz TURBO ones are not.
PRESETS = {
    p.name: p
    for p in (
        Preset("SHORT_FAST", 7, 250, 5),
        Preset("SHORT_SLOW", 8, 250, 5),
        Preset("MEDIUM_FAST", 9, 250, 5),
        Preset("MEDIUM_SLOW", 10, 250, 5),
        Preset("LONG_FAST", 11, 250, 5),
        Preset("LONG_MODERATE", 11, 125, 8),
        Preset("LONG_SLOW", 12, 125, 8),
    )
}


def data_overhead(payload_len: int) -> int:
    """Bytes the Data protobuf adds around an application payload on a private port.

    portnum 256 (tag + 2-byte varint), payload tag + length varint, and the 2-byte
    bitfield the firmware always appends.
    """
    length_varint = 1 if payload_len < 128 else 2
    return 3 + 1 + length_varint + 2


def frame_bytes(payload_len: int) -> int:
    """Bytes on air for an application payload: header + encoded Data."""
    return MESH_HEADER_BYTES + data_overhead(payload_len) + payload_len


def airtime_ms(on_air_bytes: int, preset: str | Preset = DEFAULT_PRESET) -> float:
    """Time on air in milliseconds of a LoRa frame of `on_air_bytes` (explicit header, CRC on)."""
    p = PRESETS[preset] if isinstance(preset, str) else preset
    tsym = p.symbol_ms
    low_data_rate = 1 if tsym > 16 else 0
    sf = p.spreading_factor
    numerator = 8 * on_air_bytes - 4 * sf + 28 + 16
    symbols = 8 + max(math.ceil(numerator / (4 * (sf - 2 * low_data_rate))) * p.coding_rate, 0)
    return (PREAMBLE_SYMBOLS + 4.25) * tsym + symbols * tsym


def payload_airtime_ms(payload_len: int, preset: str | Preset = DEFAULT_PRESET) -> float:
    """Time on air of one Meshtastic packet carrying `payload_len` application bytes."""
    return airtime_ms(frame_bytes(payload_len), preset)


def busiest_window(log, window_s: float = 3600.0) -> float:
    """The largest sum of airtime over any rolling window, from (start time, airtime) pairs in
    time order: what a duty-cycle limit judges (one-hour windows in EU868)."""
    log = list(log)
    worst, lo, acc = 0.0, 0, 0.0
    for t, amount in log:
        acc += amount
        while log[lo][0] <= t - window_s:
            acc -= log[lo][1]
            lo += 1
        worst = max(worst, acc)
    return worst
