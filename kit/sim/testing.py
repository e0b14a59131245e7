"""Helpers for tests that drive a simulated mesh with the real `meshtastic` library."""
from __future__ import annotations

import threading
import time
from typing import Callable

from meshtastic.tcp_interface import TCPInterface
from pubsub import pub

from kit.sim.simulated_mesh import Mesh


def connect(mesh: Mesh, i: int, **kwargs) -> TCPInterface:
    return TCPInterface(hostname="127.0.0.1", portNumber=mesh.port(i), **kwargs)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class Received:
    """Collects packets published on a pubsub topic for one interface.

    pypubsub holds listeners weakly, so this object keeps its own bound method alive;
    call `close()` (or use it as a context manager) to unsubscribe.
    """

    def __init__(self, topic: str, interface=None):
        self.topic = topic
        self.interface = interface
        self.packets: list[dict] = []
        self._lock = threading.Lock()
        pub.subscribe(self._on_packet, topic)

    def _on_packet(self, packet, interface) -> None:
        if self.interface is None or interface is self.interface:
            with self._lock:
                self.packets.append(packet)

    def wait(self, predicate: Callable[[dict], bool] = lambda p: True, timeout: float = 10.0) -> dict | None:
        found: list[dict] = []

        def check() -> bool:
            with self._lock:
                found[:] = [p for p in self.packets if predicate(p)]
            return bool(found)

        return found[0] if wait_until(check, timeout) else None

    def close(self) -> None:
        pub.unsubscribe(self._on_packet, self.topic)

    def __enter__(self) -> "Received":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def close_all(*interfaces) -> None:
    for iface in interfaces:
        try:
            iface.close()
        except Exception:
            pass
