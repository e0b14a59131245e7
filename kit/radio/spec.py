"""`kit serve --radio SPEC`: which radio to use, and finding a USB radio on a Pi."""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass

DEFAULT_TCP_PORT = 4403
# USB vendor ids of Meshtastic boards (meshtastic/python supported_device.py): CP210x,
# CH34x/CH9102, Adafruit/RAK nRF52, Espressif.
MESHTASTIC_USB_VIDS = {0x10C4, 0x1A86, 0x239A, 0x303A}


@dataclass(frozen=True)
class RadioSpec:
    kind: str                 # none | auto | serial | tcp | sim
    path: str | None = None   # serial device
    host: str | None = None   # tcp
    port: int = DEFAULT_TCP_PORT

    def describe(self) -> str:
        if self.kind == "serial":
            return f"serial:{self.path}"
        if self.kind == "tcp":
            return f"tcp:{self.host}:{self.port}"
        return self.kind


def parse(text: str) -> RadioSpec:
    """'none', 'auto', 'sim', 'serial:/dev/ttyACM0', 'tcp:host[:port]' → RadioSpec."""
    kind, _, rest = text.strip().partition(":")
    if kind in ("none", "auto", "sim") and not rest:
        return RadioSpec(kind)
    if kind == "serial" and rest:
        return RadioSpec("serial", path=rest)
    if kind == "tcp" and rest:
        host, _, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
        if not port:
            return RadioSpec("tcp", host=rest)
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"bad TCP port in radio spec {text!r}")
        return RadioSpec("tcp", host=host, port=int(port))
    raise ValueError(
        f"unknown radio {text!r}: use auto, none, sim, serial:PATH or tcp:HOST[:PORT]")


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
