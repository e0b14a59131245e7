"""End to end captive portal in Linux network namespaces (root only; CI runs it).

A "kit" namespace runs the real dnsmasq with the rendered drop-in (started with the options
NetworkManager's shared mode uses), the real nftables rules rendered for the kit (wlan0
replaced by the veth's name) and the real kit app (`kit serve --profile`) on port 80. A
"phone" namespace gets a DHCP lease with busybox udhcpc, resolves names through the kit,
and behaves like each OS: probe → 302 to the welcome page, tap "Open the kit", probe → the
OS's own success answer, HTTPS → reset at once, the kit's home page by name and by address.
One phone's slowloris (300 half-sent requests) is capped by the rendered rules and starves
neither the other phones nor systemd's watchdog (the kit reports to a notify socket here).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import NotifySocket, wait_for
from phone import UA, dhcp_lease, nm_dnsmasq
from phone import curl as phone_curl

from kit.core import config as kit_config
from kit.deploy import profile as kit_profile
from kit.deploy import render

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "deploy" / "example-kit.toml"
TOOLS = ("ip", "dnsmasq", "nft", "busybox", "curl", "dig")

APPLE = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
# (os, url, status after the tap, body after the tap)
PROBES = [
    ("android", "http://connectivitycheck.gstatic.com/generate_204", 204, ""),
    ("android", "http://www.google.com/gen_204", 204, ""),
    ("android", "http://clients3.google.com/generate_204", 204, ""),
    ("ios", "http://captive.apple.com/hotspot-detect.html", 200, APPLE),
    ("windows", "http://www.msftconnecttest.com/connecttest.txt", 200, "Microsoft Connect Test"),
    ("windows", "http://www.msftncsi.com/ncsi.txt", 200, "Microsoft NCSI"),
    ("firefox", "http://detectportal.firefox.com/success.txt", 200, "success\n"),
    ("gnome", "http://nmcheck.gnome.org/check_network_status.txt", 200, "NetworkManager is online\n"),
]


def _why_not() -> str | None:
    if sys.platform != "linux":
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "needs root (ip netns, veth, nftables, port 80); CI runs it as root"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing tools: {', '.join(missing)} (apt-get install dnsmasq-base nftables busybox " \
               f"bind9-dnsutils curl iproute2; .ci/run does)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True)
    if probe.returncode != 0:
        return f"`ip netns` is unavailable: {probe.stderr.decode().strip()}"
    return None


WHY_NOT = _why_not()
pytestmark = [pytest.mark.netns, pytest.mark.requires(WHY_NOT is None, WHY_NOT)]


def sh(*args, check=True, timeout=30, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} → {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


class Bench:
    def __init__(self, tmp: Path):
        tag = f"{os.getpid() % 100000}"
        self.kit, self.phone = f"kit{tag}", f"phone{tag}"
        self.kif, self.pif = f"kv{tag}", f"pv{tag}"
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.netns_etc = Path("/etc/netns") / self.phone

    # -- set up ------------------------------------------------------------------------------
    def up(self):
        sh("ip", "netns", "add", self.kit)
        sh("ip", "netns", "add", self.phone)
        sh("ip", "link", "add", self.kif, "netns", self.kit, "type", "veth", "peer", "name", self.pif,
           "netns", self.phone)
        self.in_kit("ip", "link", "set", "lo", "up")
        self.in_phone("ip", "link", "set", "lo", "up")
        self.in_kit("ip", "addr", "add", "10.42.0.1/24", "dev", self.kif)
        self.in_kit("ip", "link", "set", self.kif, "up")
        self.in_phone("ip", "link", "set", self.pif, "up")

    def in_kit(self, *args, **kwargs):
        return sh("ip", "netns", "exec", self.kit, *args, **kwargs)

    def in_phone(self, *args, **kwargs):
        return sh("ip", "netns", "exec", self.phone, *args, **kwargs)

    def spawn(self, ns, *args, log, env=None):
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *args], stdout=open(log, "w"),
                                stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True, env=env)
        self.procs.append(proc)
        return proc

    # -- tear down (always) ------------------------------------------------------------------
    def down(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
        for ns in (self.phone, self.kit):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(self.netns_etc, ignore_errors=True)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("netns")
    b = Bench(tmp)
    try:
        b.up()
        # The kit's rendered system files.
        text = EXAMPLE.read_text().replace('device = "auto"', 'device = "none"')
        (tmp / "kit.toml").write_text(text)
        profile = kit_profile.loads(text)
        rootfs = tmp / "root"
        render.render(profile, rootfs)

        # nftables: the rendered rules, on the veth instead of wlan0.
        rules = (rootfs / "etc/nftables.d/kit.nft").read_text().replace('"wlan0"', f'"{b.kif}"')
        (tmp / "kit.nft").write_text(rules)
        b.in_kit("nft", "-f", str(tmp / "kit.nft"))

        # dnsmasq as NetworkManager's shared mode starts it (nm-dnsmasq-manager.c), + our conf-dir.
        b.spawn(b.kit, *nm_dnsmasq("10.42.0.1", rootfs / "etc/NetworkManager/dnsmasq-shared.d", tmp),
                log=tmp / "dnsmasq.log")

        # The real kit app on port 80, the crisis cell on the kit's loopback only, under a
        # watchdog as systemd runs it (WatchdogSec=3 here: a ping every second).
        b.notify = NotifySocket(tmp / "notify")
        b.spawn(b.kit, sys.executable, "-m", "kit", "serve", "--profile", str(tmp / "kit.toml"),
                "--data", str(tmp / "data"), "--host", "0.0.0.0", "--port", "80",
                "--portal-url", "http://kit.lan/", "--admin-listen", "127.0.0.1:8081",
                log=tmp / "kit.log", env=dict(os.environ, NOTIFY_SOCKET=b.notify.path, WATCHDOG_USEC="3000000"))
        wait_for(lambda: "Kit tous risques:" in (tmp / "kit.log").read_text(), 60, "the kit app to start")

        # The phone: a DHCP lease from the kit.
        b.lease = dhcp_lease(b.in_phone, b.pif, tmp, b.phone)
        yield b
    except BaseException:
        for name in ("kit.log", "dnsmasq.log"):
            path = tmp / name
            if path.exists():
                print(f"--- {name}\n{path.read_text()[-4000:]}")
        raise
    finally:
        b.down()
        if getattr(b, "notify", None):
            b.notify.close()


def curl(bench, url, ua="", *extra, timeout=5):
    return phone_curl(bench.in_phone, url, ua, *extra, timeout=timeout)


def test_dhcp_lease_from_the_kit(bench):
    lease = bench.lease
    assert lease["ip"].startswith("10.42.0.")
    assert lease["router"] == "10.42.0.1"
    assert lease["dns"].split()[0] == "10.42.0.1"
    assert int(lease["lease"]) == 3600


@pytest.mark.parametrize("name, want", [
    ("connectivitycheck.gstatic.com", "192.0.2.1"), ("captive.apple.com", "192.0.2.1"),
    ("www.msftconnecttest.com", "192.0.2.1"), ("detectportal.firefox.com", "192.0.2.1"),
    ("example.org", "192.0.2.1"), ("kit.lan", "10.42.0.1"),
])
def test_dns_answers(bench, name, want):
    assert bench.in_phone("dig", "+short", "+time=2", "+tries=1", name).stdout.split() == [want]


def test_dns_to_another_server_is_answered_by_the_kit(bench):
    out = bench.in_phone("dig", "@9.9.9.9", "+short", "+time=2", "+tries=1", "captive.apple.com").stdout
    assert out.split() == ["192.0.2.1"]


def test_https_is_reset_at_once(bench):
    for url in ("https://captive.apple.com/", "https://192.0.2.1/", "https://10.42.0.1/"):
        started = time.monotonic()
        code, status, _, _ = curl(bench, url, timeout=5)
        assert code != 0 and status == 0, url
        assert time.monotonic() - started < 1.0, f"{url} was not refused at once"


def test_admin_port_is_closed_from_the_wifi(bench):
    code, status, _, _ = curl(bench, "http://10.42.0.1:8081/admin/", timeout=2)
    assert code != 0 and status == 0


def test_portal_flow(bench):
    # Before the tap: every probe goes to the welcome page.
    for os_name, url, _, _ in PROBES:
        code, status, location, _ = curl(bench, url, UA[os_name])
        assert (code, status, location) == (0, 302, "http://kit.lan/welcome"), url
    code, status, location, _ = curl(bench, "http://93.184.216.34/some/page")  # a hard-coded address
    assert (status, location) == (302, "http://kit.lan/welcome")

    code, status, _, body = curl(bench, "http://kit.lan/welcome", UA["ios"])
    assert status == 200 and 'href="/welcome/open"' in body
    code, status, location, _ = curl(bench, "http://kit.lan/welcome/open", UA["ios"])
    assert status == 302 and location == "http://kit.lan/"

    # After: each OS's own success answer, so the phone keeps the network.
    for os_name, url, want_status, want_body in PROBES:
        code, status, _, body = curl(bench, url, UA[os_name])
        assert (status, body) == (want_status, want_body), url

    # The kit's pages, by name and by address.
    for url in ("http://kit.lan/", "http://10.42.0.1/"):
        code, status, _, body = curl(bench, url)
        assert status == 200 and "Kit 01 - Mairie" in body, url


def test_one_phone_with_300_slow_connections_starves_no_one(bench):
    """Slowloris from one phone, which also gives itself more addresses on the open Wi-Fi: the
    rendered rules reset its connections beyond the cap, another phone (its own MAC address)
    still gets pages within 1 s, and the kit's watchdog is fed throughout."""
    extra = ["10.42.0.2", "10.42.0.3", "10.42.0.4"]  # outside the DHCP range (from .10)
    for address in extra:
        bench.in_phone("ip", "addr", "add", f"{address}/24", "dev", bench.pif)
    # The other phone: its own station (a macvlan has its own MAC), outside the DHCP range too.
    # Each interface answers ARP for its own addresses only, and curl --interface other uses the
    # route through it (the attacker's sockets, bound to no device, keep the veth's).
    bench.in_phone("sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2")
    bench.in_phone("ip", "link", "add", "other", "link", bench.pif, "type", "macvlan", "mode", "bridge")
    bench.in_phone("ip", "addr", "add", "10.42.0.9/32", "dev", "other")
    bench.in_phone("ip", "link", "set", "other", "up")
    bench.in_phone("ip", "route", "add", "10.42.0.0/24", "dev", "other", "src", "10.42.0.9", "metric", "100")
    attacker = subprocess.Popen(["ip", "netns", "exec", bench.phone, sys.executable,
                                 str(Path(__file__).parent / "slowloris.py"), "10.42.0.1", "80", "300", "5",
                                 ",".join([bench.lease["ip"], *extra])], stdout=subprocess.PIPE, text=True)
    try:
        ready = attacker.stdout.readline()
        assert ready.startswith("ready"), ready
        started = time.monotonic()
        times = []
        for _ in range(6):
            begin = time.monotonic()
            code, status, _, body = curl(bench, "http://10.42.0.1/", "", "--interface", "other", timeout=3)
            times.append(time.monotonic() - begin)
            assert status == 200 and "Kit 01 - Mairie" in body
            time.sleep(0.5)
        summary = json.loads(attacker.stdout.readline())
        attacker.wait(10)
        ended = time.monotonic()
    finally:
        if attacker.poll() is None:
            attacker.kill()
        bench.in_phone("ip", "link", "del", "other", check=False)
        for address in extra:
            bench.in_phone("ip", "addr", "del", f"{address}/24", "dev", bench.pif, check=False)
    cap = kit_config.CONNECTIONS_PER_ADDRESS
    assert max(times) < 1.0, times
    # One station holds at most the cap, whatever its addresses; the firewall refused the rest
    # (its counters) before the app saw them.
    assert summary["held"] <= cap and summary["refused"] >= 300 - cap, summary
    chain = bench.in_kit("nft", "list", "chain", "inet", "kit", "input").stdout
    refused = sum(int(n) for n in re.findall(r"ct count over \d+ } counter packets (\d+)", chain))
    assert refused >= 300 - cap, chain
    pings = [started, *bench.notify.pings(started), ended]
    assert max(b - a for a, b in zip(pings, pings[1:])) < 3.0, pings


def test_the_cap_does_not_count_closed_connections(bench):
    """An honest phone opens and closes many connections: 3 × the cap, one after the other, all served."""
    for _ in range(3 * kit_config.CONNECTIONS_PER_ADDRESS):
        code, status, _, _ = curl(bench, "http://10.42.0.1/healthz", timeout=3)
        assert status == 200
