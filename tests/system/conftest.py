"""The system test's parts: the cached Debian root, the wheelhouse built from this checkout
(`pip wheel`, as a municipality builds it), and a kit profile made from deploy/example-kit.toml
the way deploy/README.md tells a technician to (its example keys replaced by fresh ones)."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from machine import CLEAN_ENV, Container, Network
from phone import curl, dhcp_lease, nm_dnsmasq

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
CACHE = Path(os.environ.get("KIT_SYSTEM_TEST_CACHE", Path.home() / ".cache" / "kit-system-test"))
KIT = [sys.executable, "-m", "kit"]


@pytest.fixture(scope="session")
def root_tarball() -> Path:
    out = subprocess.run([HERE / "build-root.sh", CACHE], capture_output=True, text=True, check=True)
    sys.stderr.write(out.stderr)
    return Path(out.stdout.strip())


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """The kit's wheel and its dependencies' (pip's cache spares the downloads next time)."""
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", out, ROOT],
                   check=True, capture_output=True)
    return out


def kit_command(*args) -> str:
    return subprocess.run([*KIT, *args], check=True, capture_output=True, text=True, cwd=ROOT).stdout


def fresh_profile(folder: Path, replace: dict[str, str] | None = None) -> Path:
    """deploy/example-kit.toml with fresh keys (channel key, mairie key pair, territory kit key)
    and the mairie's signing key beside it: a crisis-cell kit. `replace` changes more lines."""
    folder.mkdir(parents=True, exist_ok=True)
    channel_key = kit_command("radio-config", "--new-key").strip()
    public = kit_command("keys", "new", "--out", str(folder / "mairie.key")).strip().splitlines()[-1]
    kit_key = kit_command("keys", "new-kit-key").strip().splitlines()[-1]
    text = (ROOT / "deploy" / "example-kit.toml").read_text()
    lines = {
        'channel_key = "RVhBTVBMRS1LRVktTk9ULVNFQ1JFVC1ORVZFUi1VU0U="': f'channel_key = "{channel_key}"',
        'trust = ["7Fx+ZrB2kBbmZsetJT4I0/NIX9KTTEDbvTGGBEUPsls="]': f'trust = ["{public}"]',
        '# kit_keys = ["1:..."]': f'kit_keys = ["{kit_key}"]',
        '# signing_key = "mairie.key"': 'signing_key = "mairie.key"',
        **(replace or {}),
    }
    for old, new in lines.items():
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "kit.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="session")
def fresh_root(root_tarball, tmp_path_factory):
    """A new copy of the cached root per call, with a Pi's boot partition folder."""
    def make(name: str) -> Path:
        root = tmp_path_factory.mktemp(name) / "root"
        root.mkdir()
        subprocess.run(["tar", "-C", root, "-xf", root_tarball], check=True)
        (root / "boot" / "firmware").mkdir(parents=True, exist_ok=True)
        return root
    yield make


def copy_in(src: Path, root: Path, dest: str) -> Path:
    target = root / dest.lstrip("/")
    if src.is_dir():
        shutil.copytree(src, target)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return target


class Pi:
    """An installed, rebooted kit in a container on its bridges, a phone and the crisis cell's PC."""

    def __init__(self, tmp: Path, root: Path, net, box, profile_dir: Path):
        self.tmp, self.root, self.net, self.box = tmp, root, net, box
        text = (profile_dir / "kit.toml").read_text()
        self.secrets = {"channel_key": re.search(r'channel_key = "([^"]+)"', text).group(1),
                        "signing_key": (profile_dir / "mairie.key").read_bytes()}
        self.install_log = ""
        self.lease: dict[str, str] = {}
        self.servers: list[subprocess.Popen] = []
        self.hotspot_if = ""

    def phone(self, *args, **kwargs):
        return self.net.run(self.net.phone, *args, **kwargs)

    def cell(self, *args, **kwargs):
        return self.net.run(self.net.cell, *args, **kwargs)

    def hotspot(self, iface: str, address: str = "10.42.0.1") -> None:
        """What NetworkManager's shared mode does once its access point is up (there is no Wi-Fi
        device here): the address on the interface and dnsmasq with the kit's drop-in."""
        self.hotspot_if = iface
        self.box.run("ip", "addr", "replace", f"{address}/24", "dev", iface)
        state = "/run/kit-system-test"
        self.box.run("mkdir", "-p", state)
        args = nm_dnsmasq(address, "/etc/NetworkManager/dnsmasq-shared.d", state)
        log = open(self.tmp / f"dnsmasq-{iface}.log", "a")
        self.servers.append(subprocess.Popen(
            ["nsenter", "--target", str(self.box.pid1()), "--all", "--wd", "--", *CLEAN_ENV, *args],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def restart(self, power_cut: bool = False) -> float:
        """Reboot (or cut the power and boot again), bring the hotspot back, and return the
        seconds from power-on until a phone gets the kit's /healthz."""
        self.stop_servers()
        if power_cut:
            self.box.power_cut()
        else:
            self.box.shutdown()
        return self.power_on()

    def power_on(self) -> float:
        """Boot, bring the hotspot back; the seconds until a phone gets the kit's /healthz."""
        started = time.monotonic()
        self.box.boot()
        wait_active(self.box, "kit.service", 90)
        if self.hotspot_if:
            self.hotspot(self.hotspot_if)
        deadline = started + 120
        while curl(self.phone, "http://10.42.0.1/healthz", timeout=2)[1] != 200:
            assert time.monotonic() < deadline, "the kit did not answer the phone again"
            time.sleep(0.2)
        return time.monotonic() - started

    def sql(self, query: str) -> list[str]:
        """A query on the kit's database, inside the kit (sqlite3 from Debian)."""
        # As the kit's user: a WAL file root made would lock the kit out of its database.
        return self.box.run("runuser", "-u", "kit", "--", "sqlite3", "/data/kit/kit.db", query).stdout.splitlines()

    def stop_servers(self) -> None:
        for proc in self.servers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(10)
        self.servers.clear()


def install(make_root, wheelhouse: Path, tmp: Path, name: str, kit_ifs: dict[str, str],
            replace: dict[str, str] | None = None, unmanaged: tuple[str, ...] = (),
            binds: tuple[str, ...] = (), install_args: tuple[str, ...] = ()) -> Pi:
    """A fresh root, booted, deploy/install.sh run in it with a fresh profile, rebooted.
    NetworkManager leaves the `unmanaged` interfaces to the test."""
    root = make_root(name)
    profile_dir = fresh_profile(tmp / "kits" / "mairie-01", replace).parent
    copy_in(wheelhouse, root, "/root/wheels")
    copy_in(profile_dir, root, "/root/kits/mairie-01")
    if unmanaged:
        conf = root / "etc/NetworkManager/conf.d/90-system-test.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text("[keyfile]\nunmanaged-devices=" + ";".join(f"interface-name:{i}" for i in unmanaged) + "\n")
    net = Network(f"{os.getpid() % 10000}{name[:3]}", kit_ifs)
    net.down()
    net.up()
    box = Container(root, net.kit, tmp / "console.log", binds=list(binds), ro_binds=[f"{ROOT}:/src"])
    pi = Pi(tmp, root, net, box, profile_dir)
    try:
        box.boot()
        out = box.run("/src/deploy/install.sh", "--wheelhouse", "/root/wheels",
                      "--profile", "/root/kits/mairie-01/kit.toml", *install_args, timeout=600)
        pi.install_log = out.stdout + out.stderr
        box.shutdown()
        box.boot()
    except BaseException:
        teardown(pi)
        raise
    return pi


def teardown(pi: Pi) -> None:
    pi.stop_servers()
    pi.box.shutdown()
    pi.net.down()
    shutil.rmtree(pi.root, ignore_errors=True)  # about 500 MB each; the logs stay


@pytest.fixture(scope="session")
def pi(fresh_root, wheelhouse, tmp_path_factory):
    """The example kit (residents on the Pi's Wi-Fi, wlan0), with a phone that took its lease."""
    tmp = tmp_path_factory.mktemp("pi")
    # No Wi-Fi device in a container: NetworkManager leaves the veth named wlan0 to the test,
    # which does what its access point's shared mode would (Pi.hotspot); eth0 stays NM's.
    kit = install(fresh_root, wheelhouse, tmp, "wifi", {"wlan0": "br-res", "eth0": "br-cell"},
                  unmanaged=("wlan0",))
    try:
        wait_active(kit.box, "kit.service", 90)
        kit.hotspot("wlan0")
        kit.lease = dhcp_lease(kit.phone, kit.net.phone_if, tmp, kit.net.phone)
        yield kit
    finally:
        teardown(kit)


def wait_active(box, unit: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if box.run("systemctl", "is-active", unit, check=False).stdout.strip() == "active":
            return
        time.sleep(0.5)
    raise AssertionError(f"{unit} is not active after {timeout} s")
