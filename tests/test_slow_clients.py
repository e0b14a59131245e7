"""One phone cannot starve the others (issue 13, slowloris), on loopback with the real
`kit serve`: 300 half-sent requests from one address, other addresses still get pages
within 1 s, and systemd's watchdog is still fed. The same with the hotspot's nftables rules
in network namespaces: tests/test_captive_netns.py."""
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from helpers import NotifySocket, free_port, wait_for

from kit.core import config as kit_config
from kit.web import wsgi_server

ROOT = Path(__file__).resolve().parent.parent
SLOWLORIS = Path(__file__).parent / "slowloris.py"


def page_time(port: int, source: str, path: str = "/") -> float:
    """Seconds for a whole page from `source` (another phone's address); fails on a timeout."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"Host": "kit.lan"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
    finally:
        conn.close()
    return time.monotonic() - started


def reset_at_once(port: int, source: str) -> bool:
    """A new connection from `source` is reset (at connect, or at its first read) with no answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2, source_address=(source, 0)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: kit.lan\r\n\r\n")
            return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_one_address_with_300_slow_connections_starves_no_one(tmp_path):
    notify = NotifySocket(tmp_path / "notify")
    port = free_port()
    # WATCHDOG_USEC=3 s: the kit pings every second; systemd would restart it after 3 s silent.
    env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="3000000")
    kit = subprocess.Popen([sys.executable, "-m", "kit", "serve", "--data", str(tmp_path / "data"),
                            "--port", str(port), "--radio", "none", "--admin-listen", "none"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    attacker = None
    try:
        wait_for(lambda: any("READY=1" in m for _, m in notify.messages), 30, "the kit to be ready")
        page_time(port, "127.0.0.2")  # warm the page cache
        attacker = subprocess.Popen([sys.executable, str(SLOWLORIS), "127.0.0.1", str(port), "300", "5",
                                     "127.0.0.1"], stdout=subprocess.PIPE, text=True)
        ready = attacker.stdout.readline()
        assert ready.startswith("ready"), ready
        attack_started = time.monotonic()
        times = []
        for i in range(6):  # other phones, during the attack
            times.append(page_time(port, f"127.0.0.{10 + i}"))
            times.append(page_time(port, f"127.0.0.{10 + i}", "/healthz"))
            time.sleep(0.5)
        summary = json.loads(attacker.stdout.readline())
        attacker.wait(10)
        attack_ended = time.monotonic()
        assert max(times) < 1.0, times
        # The kit held at most its cap for the attacker's address and refused the rest.
        assert summary["held"] <= kit_config.CONNECTIONS_PER_ADDRESS, summary
        # The watchdog was fed all along: never 3 s (WatchdogSec) without a ping.
        pings = [attack_started, *notify.pings(attack_started), attack_ended]
        assert max(b - a for a, b in zip(pings, pings[1:])) < 3.0, pings
        assert kit.poll() is None
    finally:
        if attacker and attacker.poll() is None:
            attacker.kill()
        kit.terminate()
        kit.wait(10)
        notify.close()


def test_a_request_trickled_byte_by_byte_is_closed_at_its_deadline(app):
    """waitress's channel_timeout counts from the last byte received, so one header line a
    second kept a connection forever; the kit's deadline counts from the request's first byte."""
    server = wsgi_server.create(app, "127.0.0.1", 0, per_address=None, request_deadline=2,
                                **(kit_config.WAITRESS | {"cleanup_interval": 1}))
    threading.Thread(target=server.run, daemon=True).start()
    try:
        sock = socket.create_connection(("127.0.0.1", server.effective_port), timeout=1)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: kit.lan\r\n")
        started, closed_after = time.monotonic(), None
        while time.monotonic() - started < 10:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.3)
                sock.settimeout(0.01)
                if sock.recv(1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - started
                break
        sock.close()
        assert closed_after is not None and 2 <= closed_after < 4.5, closed_after
    finally:
        server.close()


def test_the_cap_is_per_address(app):
    """The cap's N+1th connection from one address is reset at once; another address is served."""
    cap = 3
    server = wsgi_server.create(app, "127.0.0.1", 0, per_address=cap, request_deadline=15,
                                **kit_config.WAITRESS)
    threading.Thread(target=server.run, daemon=True).start()
    port = server.effective_port
    held = []
    try:
        for _ in range(cap):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=1, source_address=("127.0.0.1", 0)))
        wait_for(lambda: len(server.active_channels) == cap, 5, "the kit to accept the first connections")
        assert reset_at_once(port, "127.0.0.1")
        assert page_time(port, "127.0.0.3") < 1.0
    finally:
        for sock in held:
            sock.close()
        server.close()



def test_at_the_connection_limit_the_oldest_waiting_connection_makes_room(app):
    """Many addresses holding half-sent requests fill the connection limit; a new phone is still
    served at once (before: it waited in the backlog until a slow one timed out)."""
    limit = 12  # waitress counts its own listening socket and trigger: 10 clients
    server = wsgi_server.create(app, "127.0.0.1", 0, per_address=None, request_deadline=15,
                                **(kit_config.WAITRESS | {"connection_limit": limit}))
    threading.Thread(target=server.run, daemon=True).start()
    port = server.effective_port
    slow = []
    try:
        for i in range(2 * limit):
            sock = socket.create_connection(("127.0.0.1", port), timeout=1, source_address=(f"127.0.1.{i + 1}", 0))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: kit.lan\r\n")
            slow.append(sock)
            time.sleep(0.02)
        assert page_time(port, "127.0.0.3") < 1.0
        assert page_time(port, "127.0.0.4", "/healthz") < 1.0
    finally:
        for sock in slow:
            sock.close()
        server.close()
