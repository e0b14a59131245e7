"""The image path: deploy/pi-gen's stage runs `install.sh --image` in a chroot (no systemd, no
profile); a technician then copies kit.toml and the mairie's key onto the card's boot partition,
and the first boot applies them (kit-config). Done here as pi-gen does it: install.sh in the
root without booting it (systemd-nspawn without --boot), the card's files, then a boot."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest
from conftest import ROOT, Pi, copy_in, fresh_profile, teardown, wait_active
from machine import Container, Network
from test_boot import UNITS


@pytest.fixture(scope="module")
def first_boot(fresh_root, wheelhouse, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("image")
    root = fresh_root("img")
    # What deploy/pi-gen/stage-kit/01-kit/00-run.sh copies into the image.
    copy_in(wheelhouse, root, "/opt/kit/wheelhouse")
    for name in ("install.sh", "example-kit.toml", "README.md"):
        copy_in(ROOT / "deploy" / name, root, f"/opt/kit/{name}")
    built = subprocess.run(["systemd-nspawn", "--register=no", "--keep-unit", "--quiet", "-D", str(root), "--pipe",
                            "/opt/kit/install.sh", "--wheelhouse", "/opt/kit/wheelhouse", "--image"],
                           capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert built.returncode == 0, built.stdout + built.stderr
    (root / "etc/hostname").write_text("kit\n")  # pi-gen's TARGET_HOSTNAME (config.example)
    # The technician's card: kit.toml and the mairie's key on the boot partition.
    profile_dir = fresh_profile(tmp / "kits" / "mairie-01").parent
    for name in ("kit.toml", "mairie.key"):
        shutil.copy2(profile_dir / name, root / "boot/firmware" / name)
    conf = root / "etc/NetworkManager/conf.d/90-system-test.conf"
    conf.write_text("[keyfile]\nunmanaged-devices=interface-name:wlan0\n")
    net = Network(f"{os.getpid() % 10000}img", {"wlan0": "br-res", "eth0": "br-cell"})
    net.down()
    net.up()
    kit = Pi(tmp, root, net, Container(root, net.kit, tmp / "console.log"), profile_dir)
    kit.install_log = built.stdout + built.stderr
    try:
        kit.box.boot()
        wait_active(kit.box, "kit.service", 90)
        yield kit
    finally:
        teardown(kit)


def test_the_image_build_used_install_sh(first_boot):
    assert "6/6 Done." in first_boot.install_log
    # Once, its copy of the rendered files gave / the mode of a temporary folder (0700).
    assert stat.S_IMODE(first_boot.root.stat().st_mode) == 0o755


def test_the_first_boot_applies_the_cards_profile(first_boot):
    box = first_boot.box
    for unit, want in UNITS.items():
        got = (box.run("systemctl", "show", "-P", "ActiveState", unit).stdout.strip(),
               box.run("systemctl", "show", "-P", "SubState", unit).stdout.strip())
        assert got == want, unit
    assert box.run("systemctl", "--failed", "--no-legend", "--plain").stdout.strip() == ""
    assert box.run("hostname").stdout.strip() == "kit-mairie-01"


def test_the_secrets_left_the_card_at_first_boot(first_boot):
    card = (first_boot.root / "boot/firmware/kit.toml").read_text()
    assert first_boot.secrets["channel_key"] not in card and "moved into the kit" in card
    assert not (first_boot.root / "boot/firmware/mairie.key").exists()
    assert (first_boot.root / "data/kit/keys/mairie.key").read_bytes() == first_boot.secrets["signing_key"]
    journal = first_boot.box.run("journalctl", "-b", "--no-pager", "-o", "cat").stdout
    password = (first_boot.root / "data/kit/first-admin-password.txt").read_text().split()[1]
    assert password not in journal and first_boot.secrets["channel_key"] not in journal
