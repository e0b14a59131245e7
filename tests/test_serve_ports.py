"""`kit serve` on a port already taken (a second kit on the same machine, anything on 8081):
one clear line naming the flag to change, a non-zero exit, no traceback (issue 13)."""
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def taken():
    """A port another program listens on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def run(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


def one_line(result) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_the_residents_port_in_use(tmp_path, taken):
    result = run("serve", "--data", str(tmp_path / "kit"), "--radio", "none", "--port", str(taken),
                 "--admin-listen", "none")
    line = one_line(result)
    assert f"127.0.0.1:{taken} is already in use" in line and "--port" in line


def test_the_crisis_cells_port_in_use(tmp_path, taken):
    result = run("serve", "--data", str(tmp_path / "kit"), "--radio", "none", "--port", str(free_port()),
                 "--admin-listen", f"127.0.0.1:{taken}")
    line = one_line(result)
    assert f"127.0.0.1:{taken} is already in use" in line and "--admin-listen" in line


def test_the_demos_ports_in_use(tmp_path, taken):
    result = run("demo", "--data", str(tmp_path / "demo"), "--port", str(taken))
    line = one_line(result)
    assert f"127.0.0.1:{taken} is already in use" in line and "--port" in line


def test_admin_listen_on_a_host_name_is_refused(tmp_path):
    result = run("serve", "--data", str(tmp_path / "kit"), "--radio", "none", "--port", str(free_port()),
                 "--admin-listen", "kit.lan:8081")
    line = one_line(result)
    assert result.returncode == 2 and "--admin-listen" in line and "not an IP address" in line
