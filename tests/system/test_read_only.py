"""The read-only root: install.sh --read-only with /data on its own file system (a kitdata
partition: here a folder of the host bound on /data), then booted with the root under a tmpfs
overlay (nspawn --volatile=overlay stands in for overlayroot=tmpfs, which a Pi's initramfs
mounts). What is written outside /data is gone at the next boot; the kit's data survive.
raspi-config exists on Raspberry Pi OS only: a stand-in does what `nonint do_overlayfs 0` does
to cmdline.txt, so install.sh's own change to it (recurse=0, keeping /data writable) is checked.
"""
from __future__ import annotations

import json

import pytest
from conftest import install, teardown, wait_active

RASPI_CONFIG = """#!/bin/sh
# Test stand-in for Raspberry Pi OS's raspi-config: `nonint do_overlayfs 0` adds overlayroot=tmpfs.
[ "$1 $2 $3" = "nonint do_overlayfs 0" ] || exit 2
sed -i '1 s/$/ overlayroot=tmpfs/' /boot/firmware/cmdline.txt
"""
POST = ("import json, urllib.request as u; r = u.urlopen(u.Request('http://127.0.0.1/api/v1/safe', "
        "data=json.dumps({'name': 'Jeanne Martin', 'note': 'au gymnase'}).encode(), "
        "headers={'Content-Type': 'application/json'}), timeout=10); print(r.status)")


@pytest.fixture(scope="module")
def ro_kit(fresh_root, wheelhouse, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("readonly")
    data = tmp / "kitdata"
    data.mkdir()
    original = fresh_root

    def make_root(name):  # the Pi's boot files and raspi-config
        root = original(name)
        (root / "boot/firmware/cmdline.txt").write_text("console=tty1 root=PARTUUID=1234-02 rootwait\n")
        stand_in = root / "usr/bin/raspi-config"
        stand_in.write_text(RASPI_CONFIG)
        stand_in.chmod(0o755)
        return root

    kit = install(make_root, wheelhouse, tmp, "ro", {"wlan0": "br-res", "eth0": "br-cell"}, unmanaged=("wlan0",),
                  binds=(f"{data}:/data",), install_args=("--read-only",))
    try:
        kit.box.shutdown()
        kit.box.volatile = True
        kit.box.boot()
        wait_active(kit.box, "kit.service", 90)
        yield kit
    finally:
        teardown(kit)


def test_install_sh_keeps_data_and_boot_out_of_the_overlay(ro_kit):
    cmdline = (ro_kit.root / "boot/firmware/cmdline.txt").read_text()
    assert "overlayroot=tmpfs:recurse=0" in cmdline.split()


def test_writes_outside_data_vanish_and_the_kits_data_survive(ro_kit):
    box = ro_kit.box
    assert box.run("python3", "-c", POST).stdout.strip() == "201"
    box.run("sh", "-c", "echo scribble >/etc/scribble; echo scribble >/root/scribble")
    assert not (ro_kit.root / "etc/scribble").exists()  # the root folder itself is untouched
    for power_cut in (False, True):
        if power_cut:
            box.power_cut()
        else:
            box.shutdown()
        box.boot()
        wait_active(box, "kit.service", 90)
        assert box.run("test", "-e", "/etc/scribble", check=False).returncode != 0
        assert box.run("test", "-e", "/root/scribble", check=False).returncode != 0
        names = ro_kit.sql("SELECT name FROM checkins")
        assert "Jeanne Martin" in names
        assert ro_kit.sql("PRAGMA integrity_check") == ["ok"]
    assert box.run("systemctl", "--failed", "--no-legend", "--plain").stdout.strip() == ""
    status = json.loads(box.run("python3", "-c", "import urllib.request as u; "
                                "print(u.urlopen('http://127.0.0.1/healthz', timeout=5).read().decode())").stdout)
    assert status["ok"] is True
