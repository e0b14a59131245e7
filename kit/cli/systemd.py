"""systemd notifications with the standard library: READY, STOPPING, and a watchdog that is
fed only while the kit is healthy (its web servers turn, its app and its database answer).

Without $NOTIFY_SOCKET (not under systemd) every call does nothing.
"""
from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable

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


def healthy(app, servers, database: str, timeout: float = 5.0) -> bool:
    """The kit is healthy when each web server's event loop has turned lately and its worker
    threads take the requests that wait, the app answers /healthz and the database answers.

    /healthz is asked in this thread, straight from the app (Flask's test client), not over a
    socket: clients can fill the listeners (one phone's slow connections, a crowd), and a
    watchdog that queued behind them would restart a kit that works — radio included — in a
    loop. A hung event loop, app or database still stops the feed.
    """
    try:
        for server in servers:
            stale = time.monotonic() - server.last_turn
            if stale > timeout:
                log.warning("health check failed: a web server's loop has not turned for %.0f s", stale)
                return False
            stalled = server.stalled_for()
            if stalled > timeout:
                log.warning("health check failed: requests have waited %.0f s for a worker thread", stalled)
                return False
        response = app.test_client().get("/healthz")
        if response.status_code != 200:
            log.warning("health check failed: /healthz answered %s", response.status)
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
    """Sends WATCHDOG=1 every period/3 while check() holds; silence makes systemd restart the kit."""

    def __init__(self, check: Callable[[float], bool], period: float):
        super().__init__(name="kit-watchdog", daemon=True)
        self.check = check
        self.interval = max(period / 3, 0.5)
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            if self.check(self.interval):
                notify("WATCHDOG=1")

    def stop(self) -> None:
        self.stop_event.set()


def start_watchdog(app, servers, database: str) -> Watchdog | None:
    """Feed systemd's watchdog while healthy(app, servers, database)."""
    period = watchdog_seconds()
    if period is None or not os.environ.get("NOTIFY_SOCKET"):
        return None
    watchdog = Watchdog(lambda timeout: healthy(app, servers, database, timeout), period)
    watchdog.start()
    return watchdog
