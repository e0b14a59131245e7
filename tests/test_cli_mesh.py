"""End to end, as a mairie would run it: a simulated mesh in one process (like three
meshtasticd radios) and three `kit serve --radio tcp:…` processes; a post on one kit's API
shows on every kit's board."""
import base64
import json
import os
import socket
import subprocess
import sys
import urllib.request

import pytest
from helpers import free_ports, wait_for

pytestmark = pytest.mark.slow


def get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def kit_command(*args):
    return subprocess.run([sys.executable, "-m", "kit", *map(str, args)], check=True,
                          capture_output=True, text=True).stdout.strip().splitlines()[-1]


def call(url, body, auth=None):
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    request = urllib.request.Request(url, method="POST", data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.load(response)


def test_three_kits_on_tcp_radios_show_the_same_board_and_the_mairies_alert(tmp_path):
    """The whole chain: a resident posts on kit 1, the crisis cell approves it on kit 1's
    operator listener and sends a signed alert; kits 2 and 3, which trust the mairie's
    key, show both — through the middle radio for kit 3."""
    public_key = kit_command("keys", "new", "--out", tmp_path / "mairie.key")
    kit_keys = tmp_path / "kit-keys.txt"  # the territory's kit key, as `kit keys new-kit-key` prints it
    kit_keys.write_text(subprocess.run([sys.executable, "-m", "kit", "keys", "new-kit-key"], check=True,
                                       capture_output=True, text=True).stdout)
    password = kit_command("user", "add", "cellule", "--role", "operator", "--data", tmp_path / "k0")
    base = free_ports(1)[0]  # the simulator listens on base, base + 1, base + 2
    radio_ports = [base, base + 1, base + 2]
    web_ports = free_ports(3)
    admin_port = free_ports(1)[0]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    processes = [subprocess.Popen(
        [sys.executable, "-m", "kit.sim", "--nodes", "3", "--base-port", str(radio_ports[0]),
         "--preset", "MEDIUM_FAST"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)]
    try:
        assert wait_for(lambda: socket.create_connection(("127.0.0.1", radio_ports[2]), 1).close() is None, 20)
        for i in range(3):
            keys = ["--signing-key", str(tmp_path / "mairie.key")] if i == 0 else ["--trust-key", public_key]
            admin = f"127.0.0.1:{admin_port}" if i == 0 else "none"
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "kit", "serve", "--data", str(tmp_path / f"k{i}"),
                 "--port", str(web_ports[i]), "--radio", f"tcp:127.0.0.1:{radio_ports[i]}",
                 "--admin-listen", admin, "--kit-keys", str(kit_keys), *keys],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env))
        urls = [f"http://127.0.0.1:{p}/api/v1" for p in web_ports]
        assert wait_for(lambda: all(get(u + "/status")["radio"]["state"] == "connected" for u in urls), 40,
                        interval=0.25)
        status, posted = call(urls[0] + "/messages", {"kind": "board", "text": "Évacuation rue Basse"})
        assert status == 201 and posted["pending"]
        operator = f"http://127.0.0.1:{admin_port}/api/v1"
        assert call(f"{operator}/moderation/1", {"decision": "approve"}, f"cellule:{password}")[0] == 200
        assert call(f"{operator}/alerts", {"event": "Crue", "headline": "Montez à l'étage", "severity": "Extreme"},
                    f"cellule:{password}")[0] == 201

        def everywhere():
            return all([m["text"] for m in get(u + "/messages")["messages"]] == ["Évacuation rue Basse"]
                       and [(a["headline"], a["verified"]) for a in get(u + "/alerts")["alerts"]]
                       == [("Montez à l'étage", True)] for u in urls)
        assert wait_for(everywhere, 60, interval=0.25), [(get(u + "/messages"), get(u + "/alerts")) for u in urls]
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
