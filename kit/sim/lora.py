"""LoRa timing of one node: time on air, slot time and the contention-window delays.

Airtime comes from the shared `kit.mesh.airtime` arithmetic. The delays reproduce
fw src/mesh/RadioInterface.cpp (computeSlotTimeMsec, getTxDelayMsec,
getTxDelayMsecWeighted, getRetransmissionMsec).
"""
from __future__ import annotations

import random

from kit.mesh.airtime import MESH_HEADER_BYTES, PRESETS, Preset, airtime_ms

# The 500 kHz presets are illegal in EU_868 but the CLI can still select them
# (meshtastic --ch-shortturbo); the node must accept the setting and keep talking.
_ALL_PRESETS = dict(PRESETS)
_ALL_PRESETS["LONG_TURBO"] = Preset("LONG_TURBO", 11, 500, 8)
_ALL_PRESETS["SHORT_TURBO"] = Preset("SHORT_TURBO", 7, 500, 5)

MAX_LORA_PAYLOAD_LEN = 255  # fw RadioInterface.h
CW_MIN, CW_MAX = 3, 8  # contention window exponents, fw RadioInterface.h
SNR_MIN, SNR_MAX = -20, 10
PROCESSING_TIME_MSEC = 4500
PROPAGATION_TURNAROUND_MAC_MSEC = 0.2 + 0.4 + 7
NUM_SYM_CAD = 2


def preset(name: str) -> Preset:
    # A deprecated enum value (VERY_LONG_SLOW) falls back to the firmware default preset.
    return _ALL_PRESETS.get(name) or _ALL_PRESETS["LONG_FAST"]


def frame_airtime_s(encoded_data_len: int, preset_name: str) -> float:
    """Seconds on air of a packet whose encoded Data is `encoded_data_len` bytes."""
    return airtime_ms(MESH_HEADER_BYTES + encoded_data_len, preset(preset_name)) / 1000.0


def slot_time_s(preset_name: str) -> float:
    """CAD duration + propagation + turnaround + MAC processing (computeSlotTimeMsec)."""
    p = preset(preset_name)
    cad_symbols = NUM_SYM_CAD + (2 * p.spreading_factor + 3) // 32
    return (cad_symbols * p.symbol_ms + PROPAGATION_TURNAROUND_MAC_MSEC) / 1000.0


def _arduino_map(x: float, in_min: float, in_max: float, out_min: int, out_max: int) -> int:
    return int((x - in_min) * (out_max - out_min) // (in_max - in_min) + out_min)


def tx_delay_s(rng: random.Random, preset_name: str, channel_util_percent: float) -> float:
    """Delay before sending something we originated: a busier channel widens the window."""
    cw = _arduino_map(channel_util_percent, 0, 100, CW_MIN, CW_MAX)
    return rng.randrange(0, 2**cw) * slot_time_s(preset_name)


def relay_delay_s(rng: random.Random, preset_name: str, snr: float, is_router: bool) -> float:
    """Delay before relaying: far (low SNR) nodes get a small window and relay first;
    routers skip the 2*CW_MAX slots every other role waits out first."""
    cw = _arduino_map(min(max(snr, SNR_MIN), SNR_MAX), SNR_MIN, SNR_MAX, CW_MIN, CW_MAX)
    slot = slot_time_s(preset_name)
    if is_router:
        return rng.randrange(0, 2 * cw) * slot
    return (2 * CW_MAX + rng.randrange(0, 2**cw)) * slot


def retransmission_s(airtime_s: float, preset_name: str, channel_util_percent: float) -> float:
    """How long the sender waits for an (implicit) ACK before sending again."""
    cw = _arduino_map(channel_util_percent, 0, 100, CW_MIN, CW_MAX)
    slots = 2**cw + 2 * CW_MAX + 2 ** ((CW_MAX + CW_MIN) // 2)
    return 2 * airtime_s + slots * slot_time_s(preset_name) + PROCESSING_TIME_MSEC / 1000.0
