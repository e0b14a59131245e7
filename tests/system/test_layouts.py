"""A shelter, not a café: the residents on Ethernet to an external access point in bridge mode
(eth0, one bridge) and the crisis cell on its own port (eth1, another bridge), as the profile's
[network] says. NetworkManager runs both links for real here (shared mode starts dnsmasq with the
kit's drop-in), unlike the Pi's Wi-Fi layout, whose access point needs a Wi-Fi device."""
from __future__ import annotations

import pytest
from conftest import install, teardown, wait_active
from phone import UA, curl, dhcp_lease

SHELTER = {'residents = "wlan0"': 'residents = "eth0"', '# crisis_cell = "eth1"': 'crisis_cell = "eth1"',
           'admin_listen = "127.0.0.1:8081"': 'admin_listen = "192.168.50.1:8081"'}


@pytest.fixture(scope="module")
def shelter(fresh_root, wheelhouse, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shelter")
    kit = install(fresh_root, wheelhouse, tmp, "eth", {"eth0": "br-res", "eth1": "br-cell"}, SHELTER)
    try:
        wait_active(kit.box, "kit.service", 90)
        kit.lease = dhcp_lease(kit.phone, kit.net.phone_if, tmp, kit.net.phone)
        kit.cell("ip", "addr", "add", "192.168.50.10/24", "dev", kit.net.cell_if)
        yield kit
    finally:
        teardown(kit)


def test_networkmanager_brings_up_both_links(shelter):
    active = shelter.box.run("nmcli", "-t", "-f", "NAME,DEVICE", "connection", "show", "--active").stdout
    assert "kit-hotspot:eth0" in active.split() and "kit-crisis-cell:eth1" in active.split(), active
    assert shelter.box.run("systemctl", "--failed", "--no-legend", "--plain").stdout.strip() == ""


def test_the_phone_flow_behind_an_external_access_point(shelter):
    assert shelter.lease["router"] == "10.42.0.1"
    probe = "http://captive.apple.com/hotspot-detect.html"
    assert curl(shelter.phone, probe, UA["ios"])[:3] == (0, 302, "http://kit.lan/welcome")
    assert curl(shelter.phone, "http://kit.lan/welcome/open", UA["ios"])[1:3] == (302, "http://kit.lan/")
    code, status, _, body = curl(shelter.phone, probe, UA["ios"])
    assert status == 200 and "Success" in body


def test_the_crisis_cells_port_answers_on_its_own_link_only(shelter):
    code, status, _, _ = curl(shelter.cell, "http://192.168.50.1:8081/healthz", timeout=5)
    assert status == 200
    for url in ("http://192.168.50.1:8081/healthz", "http://10.42.0.1:8081/healthz"):
        code, status, _, _ = curl(shelter.phone, url, timeout=2)
        assert code != 0 and status == 0, url
    # The residents' pages are the phones' only: the crisis cell's link gets no portal capture.
    assert shelter.cell("ip", "route", "get", "10.42.0.1", check=False).returncode != 0


def test_networkmanager_reads_the_vlan_variant(shelter, tmp_path):
    """A crisis cell on VLAN 20 (no 802.1Q in this kernel to bring it up): nmcli parses the keyfile."""
    box = shelter.box
    box.run("sh", "-c", "sed 's/^crisis_cell = .*/crisis_cell = \"eth0.20\"/' /data/kit/kit.toml >/tmp/vlan.toml")
    box.run("/opt/kit/venv/bin/kit", "profile", "render", "/tmp/vlan.toml", "--out", "/tmp/vlan")
    keyfile = "/tmp/vlan/etc/NetworkManager/system-connections/kit-crisis-cell.nmconnection"
    out = box.run("sh", "-c", f"nmcli --offline -g vlan.parent,vlan.id connection modify ipv4.dns '' <{keyfile}")
    assert "parent=eth0" in out.stdout and "id=20" in out.stdout, out.stdout
