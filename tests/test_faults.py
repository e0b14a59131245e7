"""Fault tests (issue 6): power cuts in the middle of writes, a full disk, a crowd."""
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import csrf_token, free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent


def start_kit(data: Path, port: int, *extra) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kit", "serve", "--data", str(data), "--port", str(port),
                             "--radio", "none", "--admin-listen", "none", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)


def wait_port(port: int, timeout: float = 20) -> None:
    def listening() -> bool:
        socket.create_connection(("127.0.0.1", port), 0.2).close()  # OSError: not yet
        return True
    wait_for(listening, timeout, f"the kit to listen on {port}", interval=0.02)


def post_checkin(port: int, name: str, source: str) -> int | None:
    """One "I'm safe" check-in from its own loopback address (each phone has its own
    rate limit); the status, or None when the connection died (the kit was killed)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
        conn.request("POST", "/api/v1/safe", body=json.dumps({"name": name, "note": "test"}),
                     headers={"Content-Type": "application/json"})
        status = conn.getresponse().status
        conn.close()
        return status
    except (OSError, http.client.HTTPException):
        return None


@pytest.mark.slow
def test_sigkill_100_times_loses_no_acknowledged_write(tmp_path):
    data = tmp_path / "kit"
    acknowledged: list[str] = []
    rng = random.Random(42)
    counter = 0
    for round_ in range(100):
        port = free_port()
        kit = start_kit(data, port)
        try:
            wait_port(port)
            stop = threading.Event()

            def client(worker: int):
                nonlocal counter
                while not stop.is_set():
                    counter += 1
                    n = counter
                    name = f"Personne Numero{n}"
                    source = f"127.{(n >> 16) & 255}.{(n >> 8) & 255}.{(n & 255) or 1}"
                    if post_checkin(port, name, source) == 201:
                        acknowledged.append(name)

            workers = [threading.Thread(target=client, args=(w,)) for w in range(4)]
            for w in workers:
                w.start()
            time.sleep(rng.uniform(0.05, 0.6))  # kill at a random moment of the writes
            kit.send_signal(signal.SIGKILL)
            kit.wait(10)
            stop.set()
            for w in workers:
                w.join(10)
        finally:
            if kit.poll() is None:
                kit.kill()
        database = sqlite3.connect(data / "kit.db")
        try:
            assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok", f"round {round_}"
            stored = {row[0] for row in database.execute("SELECT name FROM checkins")}
        finally:
            database.close()
        missing = [name for name in acknowledged if name not in stored]
        assert not missing, f"round {round_}: acknowledged but lost: {missing[:5]}"
    assert len(acknowledged) > 200  # the test did exercise writes


needs_root = pytest.mark.requires(os.geteuid() == 0 and shutil.which("mount") is not None,
                                  "mounting a small tmpfs needs root (CI runs as root)")


@needs_root
def test_full_disk_gives_a_clear_error_loses_nothing_and_recovers(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True)
    try:
        from kit.core import config as kit_config
        from kit.web.app import create_app

        app = create_app(kit_config.build(mount / "kit", PAGE_CACHE=False))
        client = app.test_client()
        filler = mount / "filler"
        with open(filler, "wb") as f:  # take every byte left
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        token = csrf_token(client, "/securite")
        text = "Je suis au gymnase avec mes deux enfants et notre chien"
        response = client.post("/securite", data={"csrf_token": token, "name": "Aline Martin", "note": text})
        assert response.status_code == 503
        html = response.get_data(as_text=True)
        assert "place" in html or "room" in html
        assert "Je suis au gymnase avec mes deux enfants" in html  # what she typed is given back
        api = client.post("/api/v1/safe", json={"name": "Paul Martin"})
        assert api.status_code == 503 and api.json["error"]

        database = sqlite3.connect(mount / "kit" / "kit.db")
        assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        database.close()

        filler.unlink()  # space comes back
        assert client.post("/securite", data={"csrf_token": token, "name": "Aline Martin", "note": text}
                           ).status_code == 303
        assert client.get("/api/v1/safe?name=aline%20martin").json["checkins"][0]["note"] == text
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
@pytest.mark.requires(shutil.which("wrk") is not None, "wrk is not installed (.ci/run installs it)")
def test_200_concurrent_clients_for_60_seconds_get_no_error(tmp_path):
    port = free_port()
    # wrk's 200 clients share one address: the per-address cap (20) is for phones, off here.
    kit = start_kit(tmp_path / "kit", port, "--connections-per-address", "0")
    try:
        wait_port(port)
        out = subprocess.run(["wrk", "-t2", "-c200", "-d60s", "--timeout", "10s", "-H", "Accept-Encoding: gzip",
                              f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True).stdout
    finally:
        kit.terminate()
        kit.wait(10)
    requests = int(re.search(r"(\d+) requests in", out)[1])
    assert requests > 10_000, out
    assert "Socket errors" not in out and "Non-2xx" not in out, out
