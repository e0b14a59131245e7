"""systemd notifications with the standard library: READY, STOPPING, and a watchdog that is
fed only while the kit is healthy (its loopback /healthz and its database answer).

Without $NOTIFY_SOCKET (not under systemd) every call does nothing.
"""
from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import urllib.request

log = logging.getLogger(__name__)


def notify(message: str) -> bool:
    """Send one sd_notify message; False when not run by systemd (or the socket fails)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
        return True
    except OSError as exc:
        log.warning("sd_notify failed: %s", exc)
        return False


def ready(status: str = "") -> bool:
    return notify("READY=1" + (f"\nSTATUS={status}" if status else ""))


def stopping() -> bool:
    return notify("STOPPING=1")


def watchdog_seconds() -> float | None:
    """The watchdog period systemd asked for (WatchdogSec=), or None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1e6


def healthy(health_url: str, database: str, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(health_url, timeout=timeout) as response:  # loopback only
            if response.status != 200:
                return False
        conn = sqlite3.connect(database, timeout=timeout)
        try:
            conn.execute("SELECT 1").fetchone()
        finally:
            conn.close()
        return True
    except Exception as exc:  # any failure: do not feed the watchdog
        log.warning("health check failed: %s", exc)
        return False


class Watchdog(threading.Thread):
    """Sends WATCHDOG=1 every period/3 while healthy(); silence makes systemd restart the kit."""

    def __init__(self, health_url: str, database: str, period: float):
        super().__init__(name="kit-watchdog", daemon=True)
        self.health_url, self.database = health_url, database
        self.interval = max(period / 3, 0.5)
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            if healthy(self.health_url, self.database, timeout=self.interval):
                notify("WATCHDOG=1")

    def stop(self) -> None:
        self.stop_event.set()


def start_watchdog(host: str, port: int, database: str) -> Watchdog | None:
    """Feed systemd's watchdog while http://HOST:PORT/healthz (loopback for 0.0.0.0) answers."""
    period = watchdog_seconds()
    if period is None or not os.environ.get("NOTIFY_SOCKET"):
        return None
    host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    host = f"[{host}]" if ":" in host else host
    watchdog = Watchdog(f"http://{host}:{port}/healthz", database, period)
    watchdog.start()
    return watchdog
