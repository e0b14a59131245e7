"""Finding the Meshtastic radio that `kit serve --radio auto` means, on a Pi."""
from __future__ import annotations

import glob
import os

from kit.core.radio_port import RadioSpec

# USB vendor ids of Meshtastic boards (meshtastic/python supported_device.py): CP210x,
# CH34x/CH9102, Adafruit/RAK nRF52, Espressif.
MESHTASTIC_USB_VIDS = {0x10C4, 0x1A86, 0x239A, 0x303A}


def find_serial_radio() -> str | None:
    """The first Meshtastic USB radio: the udev name (deploy/), else a known vendor id,
    preferring its stable /dev/serial/by-id name."""
    if os.path.exists("/dev/meshtastic"):
        return "/dev/meshtastic"
    try:
        from serial.tools import list_ports
    except ImportError:
        return None
    by_id = {os.path.realpath(p): p for p in glob.glob("/dev/serial/by-id/*")}
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        if port.vid in MESHTASTIC_USB_VIDS:
            return by_id.get(os.path.realpath(port.device), port.device)
    return None


def resolve(spec: RadioSpec) -> RadioSpec:
    """`auto` becomes the serial radio found, or `none` when there is none."""
    if spec.kind != "auto":
        return spec
    path = find_serial_radio()
    return RadioSpec("serial", path=path) if path else RadioSpec("none")
