"""`kit profile render`: golden files of the example kit, modes, idempotence, variants.

Regenerate the golden files after a deliberate template change:
    KIT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_deploy_render.py
"""
import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kit.core import config as kit_config
from kit.deploy import profile as kit_profile
from kit.deploy import render

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "deploy" / "example-kit.toml"
GOLDEN = Path(__file__).parent / "golden" / "example-kit"
# Verbatim copies of the scripts are checked by shellcheck, not kept twice.
NOT_GOLDEN = ("usr/local/sbin/",)
MODES = GOLDEN / "MODES"


def rendered_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not str(p.relative_to(root)).startswith(NOT_GOLDEN)}


def modes(root: Path) -> str:
    return "".join(f"{p.stat().st_mode & 0o777:o} {p.relative_to(root)}\n"
                   for p in sorted(root.rglob("*")) if p.is_file())


@pytest.fixture
def example():
    return kit_profile.load(EXAMPLE)


def test_render_matches_the_golden_files(tmp_path):
    out = tmp_path / "root"
    subprocess.run([sys.executable, "-m", "kit", "profile", "render", str(EXAMPLE), "--out", str(out)],
                   check=True, capture_output=True, cwd=ROOT)
    got = rendered_tree(out)
    if os.environ.get("KIT_UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for rel, content in got.items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_bytes(content)
        MODES.write_text(modes(out))
    want = {k: v for k, v in rendered_tree(GOLDEN).items() if k != "MODES"}
    assert sorted(got) == sorted(want)
    for rel in want:
        assert got[rel].decode() == want[rel].decode(), rel
    assert modes(out) == MODES.read_text()


def test_secrets_are_readable_by_root_only(tmp_path, example):
    render.render(example, tmp_path)
    for rel in ("etc/NetworkManager/system-connections/kit-hotspot.nmconnection", "etc/kit/radio.yaml"):
        assert (tmp_path / rel).stat().st_mode & 0o777 == 0o600


def test_render_is_idempotent(tmp_path, example):
    assert render.render(example, tmp_path)
    assert render.render(example, tmp_path) == []


def test_hotspot_keyfile(tmp_path, example):
    render.render(example, tmp_path)
    keyfile = configparser.ConfigParser(interpolation=None)
    keyfile.read(tmp_path / "etc/NetworkManager/system-connections/kit-hotspot.nmconnection")
    assert keyfile["connection"]["type"] == "wifi"
    assert keyfile["connection"]["interface-name"] == "wlan0"
    assert dict(keyfile["wifi"]) == {"ap-isolation": "1", "band": "bg", "channel": "6", "mode": "ap",
                                     "ssid": "Kit-Mairie-Exemple"}
    assert "wifi-security" not in keyfile  # open network
    assert keyfile["ipv4"]["method"] == "shared" and keyfile["ipv4"]["address1"] == "10.42.0.1/24"
    assert keyfile["ipv6"]["method"] == "disabled"


def test_dnsmasq_dropin(tmp_path, example):
    render.render(example, tmp_path)
    text = (tmp_path / "etc/NetworkManager/dnsmasq-shared.d/10-kit.conf").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    lease_max = int(next(line for line in lines if line.startswith("dhcp-lease-max=")).split("=")[1])
    assert lease_max >= 250
    assert "address=/#/192.0.2.1" in lines and "address=/kit.lan/10.42.0.1" in lines
    assert "no-resolv" in lines


def test_firewall_captures_http_resets_https_and_hides_the_admin_port(tmp_path, example):
    render.render(example, tmp_path)
    text = (tmp_path / "etc/nftables.d/kit.nft").read_text()
    assert 'iifname "wlan0" tcp dport 80 ip daddr != 10.42.0.1 redirect to :80' in text
    assert 'iifname "wlan0" tcp dport 443 reject with tcp reset' in text
    assert 'iifname "wlan0" tcp dport 8081 drop' in text
    assert 'chain forward' in text and 'iifname "wlan0" drop' in text


def test_firewall_caps_the_connections_of_each_address(tmp_path, example):
    # Slowloris from one phone: its connections beyond the cap are reset before the app.
    render.render(example, tmp_path)
    text = (tmp_path / "etc/nftables.d/kit.nft").read_text()
    cap = kit_config.CONNECTIONS_PER_ADDRESS
    assert (f'iifname "wlan0" tcp dport 80 ct state new add @web_clients {{ ip saddr ct count over {cap} }} counter '
            "reject with tcp reset") in text
    assert f"ip6 saddr ct count over {cap}" in text
    assert f"add @web_stations {{ ether saddr ct count over {cap} }} counter reject with tcp reset" in text


def test_internet_sharing_keeps_forwarding(tmp_path):
    text = EXAMPLE.read_text().replace("internet_sharing = false", "internet_sharing = true")
    render.render(kit_profile.loads(text), tmp_path)
    nft = (tmp_path / "etc/nftables.d/kit.nft").read_text()
    assert 'iifname "wlan0" drop' not in nft


def test_app_unit_is_hardened_and_uses_the_profile(tmp_path, example):
    render.render(example, tmp_path)
    unit = (tmp_path / "etc/systemd/system/kit.service").read_text()
    for line in ("Type=notify", "Restart=always", "WatchdogSec=30", "User=kit",
                 "AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/data/kit",
                 "DevicePolicy=closed", "StartLimitIntervalSec=0"):
        assert re.search(rf"^{re.escape(line)}$", unit, re.M), line
    assert "--profile /data/kit/kit.toml" in unit and "--admin-listen 127.0.0.1:8081" in unit
    assert "DynamicUser" not in unit


def test_watchdog_journald_udev(tmp_path, example):
    render.render(example, tmp_path)
    watchdog = (tmp_path / "etc/systemd/system.conf.d/kit-watchdog.conf").read_text()
    seconds = int(re.search(r"^RuntimeWatchdogSec=(\d+)$", watchdog, re.M).group(1))
    assert seconds <= 15  # the bcm2835 maximum
    assert "Storage=volatile" in (tmp_path / "etc/systemd/journald.conf.d/kit.conf").read_text()
    rule = (tmp_path / "etc/udev/rules.d/99-meshtastic.rules").read_text()
    assert 'SYMLINK+="meshtastic"' in rule
    for vid in ("10c4", "1a86", "239a", "303a"):
        assert vid in rule


def test_the_example_renders_an_example_only(example):
    assert {p.field for p in kit_profile.warnings(example)} == {"radio.channel_key", "keys.trust", "keys.kit_keys"}
