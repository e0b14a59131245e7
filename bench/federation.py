"""Territory federation: N kits (default 100) on one real Mosquitto (TLS, one account per
kit, the rendered ACL), every kit with IP, in this one process (one Kit and its SQLite file,
one broker link thread and one paho thread per kit).

Measured:
- alerts: a signed alert every `--alert-gap` s from kit 0; delay from its signing until it
  is stored (and verified: the projection checks the signature as it stores) on each of the
  other kits: p50 / p95 / max over every (alert, kit). Target: p95 within 5 s.
- burst: 10 kits post `--burst` board records each at once; records delivered per second
  (kit-records stored across all kits / time until every kit holds every one).
- CPU (user + system seconds) and peak memory of the broker and of this process holding the
  N kits, over the whole run.

Run: .venv/bin/python bench/federation.py [--kits 100] [--alerts 20]   (needs mosquitto, openssl)
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from broker_bench import HAVE_BROKER, WHY, Broker  # noqa: E402

from kit.core import alerts  # noqa: E402
from kit.core.config import new_kit_key  # noqa: E402
from kit.core.kit import Kit  # noqa: E402
from kit.crypto import signing  # noqa: E402
from kit.mesh import records as r  # noqa: E402
from kit.radio.broker import BrokerConfig, BrokerService  # noqa: E402

TARGET_P95_S = 5.0


def proc_cpu_rss(pid: int) -> tuple[float, int]:
    """(user + system CPU seconds, peak RSS in KiB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    peak = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("VmHWM"))
    return cpu, peak


class Stamps:
    """When each kit first stored each uid (Kit.heard_record is called once per new record)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.at: dict = {}

    def hook(self, kit: Kit, index: int) -> None:
        original = kit.heard_record

        def heard(via, uid, _original=original):
            with self.lock:
                self.at.setdefault((uid, index), time.monotonic())
            _original(via, uid)
        kit.heard_record = heard

    def count(self, uids) -> int:
        with self.lock:
            return sum(1 for (uid, _i) in self.at if uid in uids)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kits", type=int, default=100)
    parser.add_argument("--alerts", type=int, default=20)
    parser.add_argument("--alert-gap", type=float, default=1.0)
    parser.add_argument("--burst", type=int, default=50)
    args = parser.parse_args()
    if not HAVE_BROKER:
        print(f"skipped: {WHY}")
        return 0
    folder = Path(tempfile.mkdtemp(prefix="kit-federation-bench-"))
    key_path = folder / "cellule.key"
    public = signing.new_key(key_path)
    kit_key = new_kit_key()
    broker = Broker(folder / "broker").start()
    stamps = Stamps()
    kits, links = [], []
    started = time.monotonic()
    for i in range(args.kits):
        extra = {"SIGNING_KEY": str(key_path)} if i == 0 else {}
        kit = Kit.open(folder / f"kit{i:03d}", KIT_KEYS=[kit_key], TRUST_KEYS=[public], **extra)
        stamps.hook(kit, i)
        link = BrokerService(kit, broker.spec(f"kit-{i:03d}"), BrokerConfig(), seed=i)
        kit.attach_link(link)
        kits.append(kit)
        links.append(link)
    for link in links:
        link.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(link.status()["state"] == "connected" for link in links):
        time.sleep(0.2)
    setup_s = time.monotonic() - started
    time.sleep(3)  # the first digests settle

    # alerts, one every alert_gap seconds
    signed: dict = {}
    for n in range(args.alerts):
        fields = alerts.fields_from({"event": "Crue", "headline": f"Alerte {n}", "severity": "Extreme"})
        t0 = time.monotonic()
        alert = kits[0].create_alert(fields, "cellule", "cli")
        signed[alert.uid] = t0
        time.sleep(args.alert_gap)
    wait_until = time.monotonic() + 30
    while time.monotonic() < wait_until and stamps.count(signed) < len(signed) * (args.kits - 1):
        time.sleep(0.1)
    delays = sorted(stamps.at[(uid, i)] - t0 for uid, t0 in signed.items() for i in range(1, args.kits)
                    if (uid, i) in stamps.at)
    missing = len(signed) * (args.kits - 1) - len(delays)
    unverified = sum(1 for kit in kits[1:] for uid in signed
                     if not (kit.db().execute("SELECT verified FROM alerts WHERE origin = ? AND seq = ?",
                                              list(uid)).fetchone() or [0])[0])

    # burst: 10 kits post `burst` records each at once
    burst: set = set()
    t0 = time.monotonic()
    for i in range(10):
        for n in range(args.burst):
            burst.add(kits[i].publish(r.Board, text=f"kit {i} message {n}").uid)
    need = len(burst) * (args.kits - 1)
    wait_until = time.monotonic() + 120
    while time.monotonic() < wait_until and stamps.count(burst) < need:
        time.sleep(0.1)
    held = stamps.count(burst)
    burst_s = max(stamps.at[key] for key in stamps.at if key[0] in burst) - t0 if held else float("nan")

    broker_cpu, broker_peak = proc_cpu_rss(broker.proc.pid)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    kits_cpu = usage.ru_utime + usage.ru_stime
    kits_peak = usage.ru_maxrss
    for link in links:
        link.stop(timeout=2)
    broker.stop()

    p50 = statistics.median(delays) if delays else float("nan")
    p95 = delays[int(0.95 * (len(delays) - 1))] if delays else float("nan")
    ok = bool(delays) and p95 <= TARGET_P95_S and missing == 0 and unverified == 0
    print(f"`python bench/federation.py --kits {args.kits} --alerts {args.alerts} --burst {args.burst}`: "
          f"{args.kits} kits, each its own SQLite file, broker link thread and paho thread, in one process; "
          f"one Mosquitto {('TLS, ' if True else '')}one account per kit, the rendered ACL; loopback.")
    print()
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| alert signed → stored and verified on each other kit, p50 | {p50 * 1000:.0f} ms | |")
    print(f"| same, p95 | {p95 * 1000:.0f} ms | ≤ {TARGET_P95_S:.0f} s: {'PASS' if ok else 'FAIL'} |")
    print(f"| same, max | {max(delays) * 1000 if delays else float('nan'):.0f} ms | |")
    print(f"| (alert, kit) pairs missing / not verified after 30 s | {missing} / {unverified} | 0 / 0 |")
    print(f"| burst: {len(burst)} records from 10 kits to {args.kits - 1} kits each | "
          f"{held}/{need} stored in {burst_s:.1f} s = {held / burst_s:.0f} kit-records/s | |")
    print(f"| broker CPU (whole run) / peak memory | {broker_cpu:.2f} s / {broker_peak / 1024:.0f} MiB | |")
    print(f"| {args.kits} kits' process CPU (whole run) / peak memory | {kits_cpu:.1f} s / {kits_peak / 1024:.0f} MiB | |")
    print(f"| set-up: {args.kits} kits opened and connected | {setup_s:.1f} s | |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
