"""A resident's phone in a network namespace, and the kit's DHCP/DNS server started the way
NetworkManager's shared mode starts it: shared by the captive-portal test (the kit's processes
in a namespace) and the system test (the kit booted in a container)."""
from __future__ import annotations

from pathlib import Path

UA = {
    "android": "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UQ1A.240205.004)",
    "ios": "CaptiveNetworkSupport-481.0.1 wispr",
    "windows": "Microsoft NCSI",
    "firefox": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "gnome": "NetworkManager/1.42.4",
}


def nm_dnsmasq(listen: str, conf_dir: str | Path, state: str | Path) -> list[str]:
    """dnsmasq's command line as NetworkManager's shared mode builds it (nm-dnsmasq-manager.c),
    plus the kit's drop-in folder (dnsmasq-shared.d) and logging to stdout."""
    net = listen.rsplit(".", 1)[0]
    return ["dnsmasq", "--conf-file=/dev/null", "--no-hosts", "--keep-in-foreground",
            "--bind-interfaces", "--except-interface=lo", "--clear-on-reload", "--strict-order",
            f"--listen-address={listen}", f"--dhcp-range={net}.10,{net}.254,60m",
            "--dhcp-lease-max=50", f"--dhcp-option=option:router,{listen}",
            f"--dhcp-leasefile={state}/leases", f"--pid-file={state}/dnsmasq.pid", "--user=root",
            f"--conf-dir={conf_dir}", "--log-dhcp", "--log-facility=-"]


def dhcp_lease(in_phone, iface: str, tmp: Path, netns: str) -> dict[str, str]:
    """Ask for a lease with busybox udhcpc and apply it by hand (udhcpc only reports it): the
    address, the default route, and the DNS server in /etc/netns/NETNS/resolv.conf."""
    script = tmp / "udhcpc.sh"
    script.write_text(f'#!/bin/sh\n[ "$1" = bound ] && env > {tmp}/lease.env\nexit 0\n')
    script.chmod(0o755)
    in_phone("busybox", "udhcpc", "-i", iface, "-f", "-q", "-n", "-t", "5", "-T", "2", "-s", str(script),
             timeout=60)
    lease = dict(line.split("=", 1) for line in (tmp / "lease.env").read_text().splitlines() if "=" in line)
    in_phone("ip", "addr", "add", f"{lease['ip']}/{lease.get('mask', '24')}", "dev", iface)
    in_phone("ip", "route", "add", "default", "via", lease["router"])
    etc = Path("/etc/netns") / netns
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "resolv.conf").write_text(f"nameserver {lease['dns'].split()[0]}\n")
    return lease


def curl(in_phone, url, ua="", *extra, timeout=5):
    """(curl's exit code, HTTP status, redirect URL, body) for one request from the phone."""
    result = in_phone("curl", "-s", "-S", "-o", "-", "-w", "\n%{http_code} %{redirect_url}",
                      "--max-time", str(timeout), "-A", ua or UA["firefox"], *extra, url,
                      check=False, timeout=timeout + 5)
    body, _, tail = result.stdout.rpartition("\n")
    status, _, location = tail.partition(" ")
    return result.returncode, int(status or 0), location, body
