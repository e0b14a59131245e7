"""The kit's waitress server: waitress, plus what keeps one phone from starving the others.

Waitress alone (3.0) has one connection limit for everyone and an idle timeout that every
byte received resets, so one address trickling ~300 half-sent requests (slowloris) fills
the limit and nobody else is answered. This server adds, on top of waitress's own limits:

- a cap on open connections per client address (refused with a reset at accept time;
  the hotspot's nftables rules cap them earlier, this is the same rule for a kit without
  them — a laptop, a test);
- a deadline for each request: headers and body must arrive in full within
  `request_deadline` seconds of its first byte, however slowly the bytes keep coming;
- at the connection limit, the connection waiting longest without being served is closed
  to make room, instead of every new client queueing behind the ones that hold them;
- a heartbeat of its event loop (`last_turn`) and of its worker threads (`stalled_for`), so
  the systemd watchdog can tell a live server from a hung one without queueing behind the
  clients (kit/cli/systemd.py).

Waitress's own maintenance (server.py `maintenance`) only closes channels whose last
activity is older than `channel_timeout`; the deadline below is checked in the same pass.
"""
from __future__ import annotations

import logging
import socket
import struct
import time

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer

log = logging.getLogger(__name__)
WARN_EVERY_S = 60.0  # one journal line per refused address and minute, not one per connection


class DeadlineChannel(HTTPChannel):
    """An HTTP channel that remembers when the request it is receiving began, and tells its
    server when a worker thread starts serving it."""

    request_started = 0.0

    def received(self, data):
        if data and self.request is None:  # the first bytes of a new request
            self.request_started = time.time()
        return super().received(data)

    def service(self):  # run by a worker thread (waitress task.py handler_thread)
        self.server.last_service = time.monotonic()
        return super().service()


class KitServer(TcpWSGIServer):
    channel_class = DeadlineChannel

    def __init__(self, application, *, per_address: int | None, request_deadline: float, **adjustments):
        self.per_address = per_address
        self.request_deadline = request_deadline
        self.last_turn = self.last_service = self.waiting_since = time.monotonic()
        self._warned: dict[str, float] = {}
        super().__init__(application, adj=Adjustments(**adjustments))

    # -- heartbeats, for the watchdog ------------------------------------------------------------
    def readable(self):
        # wasyncore's poll loop asks every dispatcher readable() on each turn (at least once per
        # asyncore_loop_timeout, 1 s), whatever the clients do.
        self.last_turn = time.monotonic()
        if self.accepting and len(self._map) >= self.adj.connection_limit:
            self._make_room()
        return super().readable()

    def stalled_for(self) -> float:
        """Seconds complete requests have waited while no worker thread took one (0 when none
        waits). Slow senders never reach the workers (waitress queues only complete requests),
        so this grows only when the workers hang."""
        if not self.task_dispatcher.queue:
            return 0.0
        return time.monotonic() - max(self.last_service, self.waiting_since)

    def add_task(self, task):
        if not self.task_dispatcher.queue:  # the first request to wait since the queue was empty
            self.waiting_since = time.monotonic()
        super().add_task(task)

    # -- at the connection limit -----------------------------------------------------------------
    def _make_room(self) -> None:
        """At its connection limit waitress stops accepting: every new phone then waits behind
        whoever holds the connections. Instead, close the connection that has waited longest
        without being served — the oldest half-sent request or idle keep-alive connection;
        a request being answered is never cut. A slow sender is older than any honest request
        (which arrives in milliseconds), and a browser reopens an idle keep-alive connection."""
        waiting, closing = [], 0
        for channel in list(self.active_channels.values()):
            if channel.will_close:
                closing += 1
            elif not channel.requests and not channel.total_outbufs_len:
                waiting.append(channel)
        if waiting and len(self._map) - closing >= self.adj.connection_limit:
            oldest = min(waiting, key=lambda c: c.request_started if c.request is not None else c.last_activity)
            oldest.will_close = True  # closed on this turn of the loop (writable → handle_write)

    # -- per-address cap -------------------------------------------------------------------------
    def accept(self):
        pair = super().accept()
        if pair is None or self.per_address is None:
            return pair
        conn, addr = pair
        host = addr[0] if isinstance(addr, tuple) else str(addr)
        open_now = sum(1 for channel in list(self.active_channels.values())
                       if isinstance(channel.addr, tuple) and channel.addr[0] == host)
        if open_now < self.per_address:
            return pair
        self._refuse(conn, host)
        return None  # waitress's handle_accept then makes no channel

    def _refuse(self, conn: socket.socket, host: str) -> None:
        # SO_LINGER 0: close with a reset, so a flood leaves no TIME_WAIT sockets behind (socket(7)).
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        conn.close()
        now = time.monotonic()
        if now - self._warned.get(host, -WARN_EVERY_S) >= WARN_EVERY_S:
            if len(self._warned) > 4096:
                self._warned.clear()
            self._warned[host] = now
            log.warning("%s holds %d connections (the cap per address): further ones refused",
                        host, self.per_address)

    # -- request deadline ------------------------------------------------------------------------
    def maintenance(self, now):
        super().maintenance(now)
        cutoff = now - self.request_deadline
        for channel in list(self.active_channels.values()):
            # A request still arriving (channel.request) past its deadline, with no earlier request
            # of the same connection being answered (channel.requests): close it.
            if channel.request is not None and not channel.requests and channel.request_started < cutoff:
                channel.will_close = True


def create(application, host: str, port: int, *, per_address: int | None, request_deadline: float,
           **adjustments) -> KitServer:
    """A listening server on HOST:PORT (raises OSError when it cannot bind: port in use…)."""
    return KitServer(application, host=host, port=port, per_address=per_address,
                     request_deadline=request_deadline, **adjustments)
