"""The profile's [network]: the residents on the Pi's Wi-Fi, a USB Wi-Fi adapter or Ethernet to
an external access point, and the crisis cell on its own interface or VLAN (kit/deploy/network.py).
The booted-container test of the Ethernet layout is tests/system/test_layouts.py."""
import configparser
from pathlib import Path

import pytest

from kit.deploy import profile as kit_profile
from kit.deploy import render

EXAMPLE = Path(__file__).parent.parent / "deploy" / "example-kit.toml"

SHELTER = {'residents = "wlan0"': 'residents = "eth0"', '# crisis_cell = "eth1"': 'crisis_cell = "eth1"',
           'admin_listen = "127.0.0.1:8081"': 'admin_listen = "192.168.50.1:8081"'}


def profile(changes: dict[str, str]):
    text = EXAMPLE.read_text()
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    return kit_profile.loads(text)


def keyfile(root, name):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(root / "etc/NetworkManager/system-connections" / name)
    return parser


def test_the_example_keeps_the_pis_wifi_and_no_crisis_cell_link(tmp_path):
    render.render(kit_profile.load(EXAMPLE), tmp_path)
    assert keyfile(tmp_path, "kit-hotspot.nmconnection")["connection"]["type"] == "wifi"
    assert not (tmp_path / "etc/NetworkManager/system-connections/kit-crisis-cell.nmconnection").exists()


def test_a_usb_wifi_adapter_runs_the_access_point(tmp_path):
    render.render(profile({'residents = "wlan0"': 'residents = "wlan1"'}), tmp_path)
    hotspot = keyfile(tmp_path, "kit-hotspot.nmconnection")
    assert hotspot["connection"]["interface-name"] == "wlan1" and hotspot["wifi"]["mode"] == "ap"
    nft = (tmp_path / "etc/nftables.d/kit.nft").read_text()
    assert 'iifname "wlan1" tcp dport 80 ip daddr != 10.42.0.1 redirect to :80' in nft
    assert '"wlan0"' not in nft


def test_an_external_access_point_on_ethernet_and_the_crisis_cell_on_its_own_port(tmp_path):
    render.render(profile(SHELTER), tmp_path)
    hotspot = keyfile(tmp_path, "kit-hotspot.nmconnection")
    assert hotspot["connection"]["type"] == "ethernet" and hotspot["connection"]["interface-name"] == "eth0"
    assert hotspot["ipv4"]["method"] == "shared" and hotspot["ipv4"]["address1"] == "10.42.0.1/24"
    assert "wifi" not in hotspot
    cell = keyfile(tmp_path, "kit-crisis-cell.nmconnection")
    assert cell["connection"]["type"] == "ethernet" and cell["connection"]["interface-name"] == "eth1"
    assert dict(cell["ipv4"]) == {"address1": "192.168.50.1/24", "method": "manual", "never-default": "true"}
    nft = (tmp_path / "etc/nftables.d/kit.nft").read_text()
    assert 'iifname "eth0" tcp dport 80 ip daddr != 10.42.0.1 redirect to :80' in nft
    assert 'iifname "eth0" tcp dport 8081 drop' in nft
    assert 'iifname != { "lo", "eth1" } tcp dport 8081 drop' in nft
    assert 'iifname "eth0" drop' in nft  # no forwarding from the residents


def test_the_crisis_cell_on_a_vlan(tmp_path):
    render.render(profile({**SHELTER, 'crisis_cell = "eth1"': 'crisis_cell = "eth0.20"'}), tmp_path)
    cell = keyfile(tmp_path, "kit-crisis-cell.nmconnection")
    assert cell["connection"]["type"] == "vlan" and cell["connection"]["interface-name"] == "eth0.20"
    assert dict(cell["vlan"]) == {"parent": "eth0", "id": "20"}
    assert 'iifname != { "lo", "eth0.20" } tcp dport 8081 drop' in (tmp_path / "etc/nftables.d/kit.nft").read_text()


@pytest.mark.parametrize("changes, field", [
    ({'residents = "wlan0"': 'residents = "eth 0"'}, "network.residents"),
    ({'residents = "wlan0"': 'residents = "a-very-long-interface"'}, "network.residents"),
    ({'# crisis_cell = "eth1"': 'crisis_cell = "wlan0"'}, "network.crisis_cell"),
    ({'# crisis_cell = "eth1"': 'crisis_cell = "eth0.5000"'}, "network.crisis_cell"),
    ({'# crisis_cell = "eth1"': 'crisis_cell = "eth1"'}, "kit.admin_listen"),  # still 127.0.0.1
    ({'residents = "wlan0"': 'residents = "eth0"\nuplink = "eth1"'}, "network.uplink"),
])
def test_a_wrong_network_says_which_field(changes, field):
    with pytest.raises(kit_profile.ProfileError) as error:
        profile(changes)
    assert field in {p.field for p in error.value.problems}, error.value

