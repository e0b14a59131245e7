"""systemd's watchdog (kit/cli/systemd.py) is fed while the kit works and only then: its check
runs inside the process, so clients cannot starve it (tests/test_slow_clients.py), yet a
web server whose loop or worker threads hang stops the feed."""
import socket
import threading
import time

from helpers import NotifySocket, wait_for

from kit.cli import systemd
from kit.core import config as kit_config
from kit.web import wsgi_server


def start(app, **adjustments):
    server = wsgi_server.create(app, "127.0.0.1", 0, per_address=None, request_deadline=15,
                                **(kit_config.WAITRESS | adjustments))
    threading.Thread(target=server.run, daemon=True).start()
    return server


def database(app) -> str:
    return app.extensions["kit"].database


def test_a_working_kit_is_healthy(app):
    server = start(app)
    try:
        assert systemd.healthy(app, [server], database(app), timeout=1)
    finally:
        server.close()


def test_a_server_whose_loop_stopped_is_not(app):
    server = wsgi_server.create(app, "127.0.0.1", 0, per_address=None, request_deadline=15, **kit_config.WAITRESS)
    try:  # never run: its loop does not turn
        time.sleep(0.6)
        assert not systemd.healthy(app, [server], database(app), timeout=0.5)
    finally:
        server.close()


def test_hung_worker_threads_stop_the_feed(app, tmp_path, monkeypatch):
    release = threading.Event()

    def hanging(environ, start_response):  # every request hangs until released
        release.wait(30)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = start(hanging, threads=1)
    notify = NotifySocket(tmp_path / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", notify.path)
    monkeypatch.setenv("WATCHDOG_USEC", "1500000")  # a check every 0.5 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    watchdog = systemd.start_watchdog(app, [server], database(app))
    clients = []
    try:
        assert wait_for(lambda: notify.pings(0), 5), "fed while the kit works"
        for _ in range(2):  # the one worker takes the first, the second waits
            sock = socket.create_connection(("127.0.0.1", server.effective_port), timeout=2)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: kit.lan\r\n\r\n")
            clients.append(sock)
        hung = time.monotonic()
        time.sleep(2.5)
        assert not notify.pings(hung + 1.0), "still fed while requests wait for a hung worker"
        release.set()
        back = time.monotonic()
        assert wait_for(lambda: notify.pings(back), 5), "fed again once the worker is back"
    finally:
        release.set()
        watchdog.stop()
        for sock in clients:
            sock.close()
        server.close()
        notify.close()
