"""What the kit's rules know of a radio: a port they can tell about new records and ask
for its status, and the spec that names it. The radio edge (kit/radio) implements the port
with the meshtastic package; without a radio the kit uses `NoRadio`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kit.core.config import DEFAULT_TCP_PORT


class RadioPort(Protocol):
    def published(self, record, source: str = "local") -> None:
        """A local record was stored with its outbox row: send it when the airtime allows.
        `source` (a phone's address, "radio", "local") gets its fair share of airtime."""

    def bridged(self, uid) -> None:
        """The kit stored another kit's record from another link (radio ↔ broker): carry it
        on over this one, within this link's budget (no loop: a kit stores a uid once)."""

    def status(self) -> dict:
        """state (connected / connecting / reconnecting / absent / none), node, queue,
        airtime_pct, last_sync, and the counters the dashboard shows."""


class NoRadio:
    """The kit runs without a radio (`--radio none`): records wait in the outbox."""

    def status(self) -> dict:
        return {"state": "none", "node": None, "queue": 0, "airtime_pct": 0.0, "last_sync": None}

    def published(self, record, source: str = "local") -> None:
        pass

    def bridged(self, uid) -> None:
        pass


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
