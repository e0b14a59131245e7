"""The node's TCP stream API, like meshtasticd on port 4403 (fw src/mesh/api/ServerAPI.cpp).

One client at a time: a new connection force-closes the previous one. Frames are decoded on
the connection's reader thread and handed to the node's PhoneAPI on the scheduler thread.
`stop()` closes the listener and every connection (the radio is "unplugged"); `start()`
brings it back on the same port.

Force-closing keeps the firmware's order of events. meshtasticd is one cooperative loop:
StreamAPI::readStream reads a client's bytes as they arrive (every 5 ms while the client is
talking, 250 ms at most) and PhoneAPI::handleToRadio handles each frame there and then (an admin
message is saved to flash before the next byte is read); APIServerPort::runOnce looks for a new
connection only every 100 ms, and only then deletes the previous ServerAPI. So a frame that
reached the node before the next client connected has been handled - a one-shot CLI command
(`meshtastic --set-owner ...`) that wrote its admin message and disconnected is never undone by
whoever connects next. Here the accept runs on its own thread, so it must not close the old
socket under the old reader's feet: it stops the old connection from reading (SHUT_RD keeps what
the kernel already received), waits until the old reader has handed every frame to the
scheduler, and only then attaches the new client.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass

from kit.sim.clock import Scheduler
from kit.sim.framing import FrameDecoder, encode_frame
from kit.sim.phone_api import PhoneAPI

CLIENT_TIMEOUT_S = 15 * 60  # fw PhoneAPI: a client silent for 15 min is dropped
SEND_TIMEOUT_S = 5.0
DRAIN_TIMEOUT_S = 5.0  # how long a new connection waits for the previous reader to drain

log = logging.getLogger(__name__)


@dataclass
class ServerStats:
    connections: int = 0
    frames_in: int = 0
    garbage_bytes: int = 0
    oversize_headers: int = 0


class ClientConnection:
    def __init__(self, sock: socket.socket, peer):
        self.sock = sock
        self.peer = peer
        self.closed = False
        self.reader: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, payload: bytes) -> None:
        with self._lock:
            if self.closed:
                return
            try:
                self.sock.sendall(encode_frame(payload))
            except OSError:
                self._close_locked()

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def stop_reading(self) -> None:
        """No more reading after what has arrived: recv returns the buffered bytes, then EOF."""
        with self._lock:
            if self.closed:
                return
            try:
                self.sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    def _close_locked(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class StreamServer:
    def __init__(self, api: PhoneAPI, scheduler: Scheduler, host: str = "127.0.0.1", port: int = 4403):
        self.api = api
        self.scheduler = scheduler
        self.host = host
        self.port = port  # 0 picks a free port at the first start, then keeps it
        self.stats = ServerStats()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._connections: list[ClientConnection] = []
        self._running = False
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        if self._running:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(4)
        listener.settimeout(0.2)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._running = True
        self._spawn(self._accept_loop, f"sim-api-{self.port}-accept")

    def stop(self) -> None:
        self._running = False
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
            self.scheduler.call_soon(self.api.detach, conn)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(5)
        self._threads = []

    def _spawn(self, target, name: str, *args) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()
        return thread

    def _accept_loop(self) -> None:
        while self._running:
            try:
                sock, peer = self._listener.accept()
            except socket.timeout:
                continue
            except (OSError, AttributeError):
                return
            sock.settimeout(1.0)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = ClientConnection(sock, peer)
            self.stats.connections += 1
            with self._lock:
                previous, self._connections = self._connections, [conn]
            log.debug("client %s connected%s", peer,
                      f", force-closing {previous[0].peer}" if previous else "")
            for old in previous:  # "Force close previous TCP connection"
                self._force_close(old)
            self.scheduler.call_soon(self.api.attach, conn)
            conn.reader = self._spawn(self._read_loop, f"sim-api-{self.port}-read", conn)

    def _force_close(self, old: ClientConnection) -> None:
        """Delete the previous ServerAPI - after it has handled what its client already sent.

        The old reader drains the socket (bytes already received, then EOF) and queues every
        frame, then its detach, on the scheduler: all of them run before the new client's attach.
        """
        old.stop_reading()
        reader = old.reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(DRAIN_TIMEOUT_S)
        old.close()

    def _read_loop(self, conn: ClientConnection) -> None:
        decoder = FrameDecoder()
        last_contact = time.monotonic()
        try:
            while self._running and not conn.closed:
                try:
                    data = conn.sock.recv(4096)
                except socket.timeout:
                    if time.monotonic() - last_contact > CLIENT_TIMEOUT_S:
                        break
                    continue
                except OSError:
                    break
                if not data:
                    break
                last_contact = time.monotonic()
                garbage, oversize = decoder.garbage_bytes, decoder.oversize_headers
                frames = decoder.feed(data)
                self.stats.garbage_bytes += decoder.garbage_bytes - garbage
                self.stats.oversize_headers += decoder.oversize_headers - oversize
                for frame in frames:
                    self.stats.frames_in += 1
                    self.scheduler.call_soon(self.api.handle_to_radio, conn, frame)
        finally:
            log.debug("client %s gone", conn.peer)
            conn.close()
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)
            self.scheduler.call_soon(self.api.detach, conn)
