"""`kit radio-config`: the rendered YAML applied with the real `meshtastic --configure` to a
simulated radio (kit.sim speaks the real TCP API), then read back with the real CLI."""
import base64
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from meshtastic.protobuf import apponly_pb2, config_pb2

from kit.deploy import profile as kit_profile
from kit.deploy import radio_config
from kit.sim import Mesh
from kit.sim.admin_module import DEFAULT_REBOOT_SECONDS

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "deploy" / "example-kit.toml"
CLI = Path(sys.executable).parent / "meshtastic"
KEY = base64.b64encode(bytes(range(32))).decode()  # a test key, never a real one


def meshtastic(mesh, *args):
    result = subprocess.run([str(CLI), "--host", f"127.0.0.1:{mesh.port(0)}", *args],
                            capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def decode_url(url: str) -> apponly_pb2.ChannelSet:
    b64 = url.split("/#", 1)[1]
    channel_set = apponly_pb2.ChannelSet()
    channel_set.ParseFromString(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)))
    return channel_set


def profile_variant(**radio):
    text = EXAMPLE.read_text().replace('channel_key = "RVhBTVBMRS1LRVktTk9ULVNFQ1JFVC1ORVZFUi1VU0U="',
                                       f'channel_key = "{KEY}"')
    for key, value in radio.items():
        text = re.sub(rf"^{key} = .*$", f'{key} = "{value}"', text, flags=re.M)
    return kit_profile.loads(text)


def test_yaml_is_what_the_cli_reads():
    profile = kit_profile.load(EXAMPLE)
    data = yaml.safe_load(radio_config.render(profile))
    assert data["owner"] == "Kit 01 - Mairie" and data["owner_short"] == "K01"
    assert data["config"]["lora"] == {"region": "EU_868", "modem_preset": "LONG_FAST", "use_preset": True,
                                      "hop_limit": 3, "tx_enabled": True}
    assert data["config"]["device"]["role"] == "CLIENT"
    assert data["config"]["device"]["rebroadcast_mode"] == "ALL"
    assert data["module_config"]["mqtt"] == {"enabled": False}
    channel = decode_url(data["channel_url"])
    assert channel.settings[0].name == "Exemple" and len(channel.settings[0].psk) == 32
    handheld = yaml.safe_load(radio_config.render(profile, handheld=True))
    assert "owner" not in handheld and handheld["channel_url"] == data["channel_url"]
    assert handheld["config"]["position"]["gps_mode"] == "ENABLED"


def test_committed_examples_are_rendered_from_the_example_profile():
    profile = kit_profile.load(EXAMPLE)
    assert (ROOT / "firmware-config/kit-radio.example.yaml").read_text() == radio_config.render(profile)
    assert (ROOT / "firmware-config/handheld.example.yaml").read_text() == \
        radio_config.render(profile, handheld=True)


@pytest.mark.slow
def test_apply_to_a_simulated_radio_and_read_back(tmp_path):
    profile = profile_variant(preset="MEDIUM_FAST", role="CLIENT_BASE", channel_name="Commune")
    path = tmp_path / "radio.yaml"
    path.write_text(radio_config.render(profile))
    with Mesh(1, preset="LONG_FAST", speed=10, nodeinfo_delay=1) as mesh:
        out = meshtastic(mesh, "--configure", str(path))
        assert "Writing modified configuration to device" in out
        # The radio reboots DEFAULT_REBOOT_SECONDS (simulated) after the transaction: jump there.
        # A call through the simulation thread returns once every timer due by then has run.
        mesh.advance(DEFAULT_REBOOT_SECONDS)
        assert mesh.call(lambda: mesh.node(0).state.reboot_count) >= 1
        exported = yaml.safe_load(meshtastic(mesh, "--export-config").split("\n", 1)[1])
        got = meshtastic(mesh, "--get", "lora.modem_preset", "--get", "device.role",
                         "--get", "device.rebroadcast_mode", "--get", "lora.region")

    assert exported["owner"] == "Kit 01 - Mairie" and exported["owner_short"] == "K01"
    assert exported["config"]["lora"]["region"] == "EU_868"
    assert exported["config"]["lora"]["modemPreset"] == "MEDIUM_FAST"
    assert exported["config"]["device"]["role"] == "CLIENT_BASE"
    assert exported["config"]["position"]["fixedPosition"] is True
    assert exported["config"]["bluetooth"]["enabled"] is False
    assert exported["location"] == {"lat": 47.9029, "lon": 1.9093, "alt": 100}
    channel = decode_url(exported["channel_url"])
    assert channel.settings[0].name == "Commune"
    assert channel.settings[0].psk == base64.b64decode(KEY)  # AES-256, the profile's key
    lora, device = config_pb2.Config.LoRaConfig, config_pb2.Config.DeviceConfig
    assert f"lora.modem_preset: {lora.ModemPreset.Value('MEDIUM_FAST')}" in got
    assert f"lora.region: {lora.RegionCode.Value('EU_868')}" in got
    assert f"device.role: {device.Role.Value('CLIENT_BASE')}" in got
    assert f"device.rebroadcast_mode: {device.RebroadcastMode.Value('ALL')}" in got
