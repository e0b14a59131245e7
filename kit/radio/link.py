"""Opening a Meshtastic interface through the real `meshtastic` package, with the hooks
the kit needs to know the radio is alive.

Library traps handled here or in the service: pypubsub keeps only weak references
(listeners must be bound methods of a long-lived object: pypubsub docs, "Listener
lifetime"); the library may call sys.exit() on some paths (meshtastic/mesh_interface.py,
`_disconnected` and the reader thread), so every call into it goes through `guarded`; a
lost link must always be closed, or its heartbeat timer lives on and raises in its own
thread.
"""
from __future__ import annotations

import logging
import time

from meshtastic.serial_interface import SerialInterface
from meshtastic.tcp_interface import TCPInterface

from kit.core.radio_port import RadioSpec

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


def guarded(call, *args, **kwargs):
    """One call into the meshtastic library: (result, None), or (None, the exception) —
    whatever it raised on a dead link, SystemExit included. Ctrl-C still stops the kit."""
    try:
        return call(*args, **kwargs), None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001
        return None, exc


def open_interface(spec: RadioSpec):
    """Connect and wait for the radio's configuration. Raises LinkError."""
    if spec.kind == "tcp":
        iface, exc = guarded(KitTCPInterface, hostname=spec.host, portNumber=spec.port)
    elif spec.kind == "serial":
        iface, exc = guarded(KitSerialInterface, devPath=spec.path)
    else:
        raise LinkError(f"no radio link for {spec.describe()}")
    if exc is not None:
        raise LinkError(f"{spec.describe()}: {type(exc).__name__}: {exc}")
    if iface.myInfo is None:
        close_quietly(iface)
        raise LinkError(f"{spec.describe()}: the radio sent no node information")
    iface.kit_last_answer = time.monotonic()
    return iface


def close_quietly(iface) -> None:
    """Close an interface whatever state it is in (its threads and timers must stop)."""
    if iface is None:
        return
    _, exc = guarded(iface.close)
    if exc is not None:
        log.debug("closing the radio interface: %s", exc)
