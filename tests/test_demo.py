"""`make demo` keeps its promise (issue 14): a resident's post waits for an operator's
approval, so the demo prints each kit's crisis cell and a login made for it, and the post,
once approved there, arrives on the other kits."""
import base64
import json
import os
import queue
import random
import re
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from helpers import wait_for

from kit.cli.serve import DEMO_CELL_OFFSET

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def free_base() -> int:
    """A port P with P, P+1, P+2 (residents) and P+10..P+12 (crisis cells) all free."""
    for _ in range(50):
        base = random.randrange(20000, 60000)
        wanted = [base + i for i in range(3)] + [base + DEMO_CELL_OFFSET + i for i in range(3)]
        socks = []
        try:
            for port in wanted:
                sock = socket.socket()
                sock.bind(("127.0.0.1", port))
                socks.append(sock)
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free ports")


def call(url, body=None, login=None):
    headers = {"Content-Type": "application/json"}
    if login:
        headers["Authorization"] = "Basic " + base64.b64encode(login.encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, method="POST" if data else "GET", data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.load(response)


def test_the_demo_shows_post_approve_arrive(tmp_path):
    base = free_base()
    process = subprocess.Popen([sys.executable, "-m", "kit", "demo", "--data", str(tmp_path), "--port", str(base),
                                "--preset", "MEDIUM_FAST"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        banner = []
        while not banner or "Ctrl-C stops." not in banner[-1]:
            banner.append(lines.get(timeout=60))
        text = "".join(banner)
        cells = re.findall(r"crisis cell: (http://\S+/admin/)", text)
        assert cells == [f"http://127.0.0.1:{base + DEMO_CELL_OFFSET + i}/admin/" for i in range(3)], text
        login = re.search(r"Crisis-cell login on every kit: (\S+) / (\S+)", text)
        assert login and "waits for an operator" in text and "approval" in text, text
        residents = [f"http://127.0.0.1:{base + i}/api/v1" for i in range(3)]
        assert wait_for(lambda: all(call(u + "/status")[1]["radio"]["state"] == "connected" for u in residents),
                        40, interval=0.25)
        status, posted = call(residents[0] + "/messages", {"kind": "board", "text": "Pont fermé, passez par la gare"})
        assert status == 201 and posted["pending"]
        cell = cells[0].replace("/admin/", "/api/v1")
        assert call(f"{cell}/moderation/1", {"decision": "approve"}, f"{login[1]}:{login[2]}")[0] == 200

        def arrived():
            return all("Pont fermé, passez par la gare" in [m["text"] for m in call(u + "/messages")[1]["messages"]]
                       for u in residents[1:])
        assert wait_for(arrived, 90, interval=0.5)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
