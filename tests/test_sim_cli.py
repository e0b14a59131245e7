"""The `meshtastic` command line against a simulated radio (as a user would run it)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kit.sim import Mesh
from kit.sim.testing import connect

CLI = Path(sys.executable).parent / "meshtastic"


@pytest.fixture(scope="module")
def mesh():
    with Mesh(1, "line", preset="SHORT_FAST", speed=10, nodeinfo_delay=1) as m:
        yield m


def run_cli(mesh, *args):
    result = subprocess.run([str(CLI), "--host", f"127.0.0.1:{mesh.port(0)}", *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_info(mesh):
    out = run_cli(mesh, "--info")
    for section in ("Connected to radio", "Owner:", "My info:", "Nodes in mesh:", "Preferences:"):
        assert section in out
    assert f"!{mesh.node_num(0):08x}" in out


def test_set_owner_then_export_config(mesh):
    run_cli(mesh, "--set-owner", "Kit 01 - Mairie", "--set-owner-short", "K01")
    iface = connect(mesh, 0)
    try:
        assert iface.getLongName() == "Kit 01 - Mairie"
        assert iface.getShortName() == "K01"
    finally:
        iface.close()
    out = run_cli(mesh, "--export-config")
    assert re.search(r"^owner: Kit 01 - Mairie$", out, re.M)
    assert re.search(r"^owner_short: K01$", out, re.M)
    assert "channel_url: https://meshtastic.org/e/#" in out


def test_get_lora_hop_limit(mesh):
    assert "lora.hop_limit: 3" in run_cli(mesh, "--get", "lora.hop_limit")
