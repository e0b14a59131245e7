"""Opening a Meshtastic interface through the real `meshtastic` package, with the hooks
the kit needs to know the radio is alive.

Library traps handled here or in the service (meshtastic.md §10): pypubsub keeps only weak
references (listeners are bound methods of a long-lived object); the library may call
sys.exit() on some paths (SystemExit is caught at this boundary); a lost link must always
be closed, or its heartbeat timer lives on and raises in its own thread.
"""
from __future__ import annotations

import logging
import time

from meshtastic.serial_interface import SerialInterface
from meshtastic.tcp_interface import TCPInterface

from kit.radio.spec import RadioSpec

log = logging.getLogger(__name__)


class _LivenessHooks:
    """Remember when the radio last answered: a QueueStatus follows every heartbeat and
    every packet we send, so its age tells whether the radio is still there."""

    kit_last_answer: float = 0.0

    def _handleQueueStatusFromRadio(self, queueStatus) -> None:
        self.kit_last_answer = time.monotonic()
        super()._handleQueueStatusFromRadio(queueStatus)


class KitTCPInterface(_LivenessHooks, TCPInterface):
    pass


class KitSerialInterface(_LivenessHooks, SerialInterface):
    pass


class LinkError(Exception):
    """The radio could not be opened; the message says why."""


def open_interface(spec: RadioSpec):
    """Connect and wait for the radio's configuration. Raises LinkError."""
    try:
        if spec.kind == "tcp":
            iface = KitTCPInterface(hostname=spec.host, portNumber=spec.port)
        elif spec.kind == "serial":
            iface = KitSerialInterface(devPath=spec.path)
        else:
            raise LinkError(f"no radio link for {spec.describe()}")
    except LinkError:
        raise
    except BaseException as exc:  # noqa: BLE001 — includes SystemExit from the library
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise LinkError(f"{spec.describe()}: {type(exc).__name__}: {exc}") from None
    if iface.myInfo is None:
        close_quietly(iface)
        raise LinkError(f"{spec.describe()}: the radio sent no node information")
    iface.kit_last_answer = time.monotonic()
    return iface


def close_quietly(iface) -> None:
    """Close an interface whatever state it is in (its threads and timers must stop)."""
    if iface is None:
        return
    try:
        iface.close()
    except BaseException as exc:  # noqa: BLE001
        if isinstance(exc, KeyboardInterrupt):
            raise
        log.debug("closing the radio interface: %s", exc)
