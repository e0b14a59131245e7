"""Footprint of the kit process: cold start to first page, resident memory idle and under
load, CPU used while idle.

    python bench/footprint.py [--idle-seconds 60]

Targets (issue 6): RSS ≤ 60 MB idle and under load; ≤ 2 s of CPU per idle hour (measured
over a shorter window and scaled); cold start in about a second.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data: str, port: int, *extra: str) -> tuple[subprocess.Popen, float]:
    began = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "kit", "serve", "--data", data, "--port", str(port),
                             "--admin-listen", "none", "--connections-per-address", "0",  # wrk: one address
                             *extra], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                response.read()
            return proc, time.monotonic() - began
        except OSError:
            if time.monotonic() - began > 30:
                raise
            time.sleep(0.01)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle-seconds", type=float, default=60)
    args = parser.parse_args()
    rows, failed = [], False

    starts = []
    for _ in range(5):
        data = tempfile.mkdtemp(prefix="kit-fp-")
        port = free_port()
        proc, took = start(data, port, "--radio", "none")
        starts.append(took)
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(data, ignore_errors=True)
    rows.append(("cold start to first page (median of 5, new data folder)", f"{statistics.median(starts):.2f} s",
                 "≈ 1 s", statistics.median(starts) <= 1.5))

    radio_port = free_port()  # a radio in another process, as a USB radio would be
    sim = subprocess.Popen([sys.executable, "-m", "kit.sim", "--nodes", "1", "--base-port", str(radio_port)],
                           cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for label, extra in (("no radio", ["--radio", "none"]), ("with a radio (TCP)", ["--radio", f"tcp:127.0.0.1:{radio_port}"])):
        data = tempfile.mkdtemp(prefix="kit-fp-")
        port = free_port()
        proc, _ = start(data, port, *extra)
        try:
            time.sleep(5)
            idle_rss = rss_mb(proc.pid)
            before = cpu_seconds(proc.pid)
            time.sleep(args.idle_seconds)
            per_hour = (cpu_seconds(proc.pid) - before) * 3600 / args.idle_seconds
            peak = idle_rss
            if shutil.which("wrk"):
                load = subprocess.Popen(["wrk", "-t2", "-c100", "-d15s", "-H", "Accept-Encoding: gzip",
                                         f"http://127.0.0.1:{port}/risques/inondation"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                while load.poll() is None:
                    peak = max(peak, rss_mb(proc.pid))
                    time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(10)
            shutil.rmtree(data, ignore_errors=True)
        note = ""
        rows.append((f"RSS idle, {label}", f"{idle_rss:.1f} MB", "≤ 60 MB", idle_rss <= 60))
        rows.append((f"RSS peak under 100 connections, {label}", f"{peak:.1f} MB", "≤ 60 MB", peak <= 60))
        rows.append((f"CPU while idle, {label}{note} (over {args.idle_seconds:.0f} s)",
                     f"{per_hour:.2f} s/h", "≤ 2 s/h", per_hour <= 2))

    sim.terminate()
    sim.wait(10)
    print(f"Command: `python bench/footprint.py --idle-seconds {args.idle_seconds:.0f}`\n")
    print("| measure | value | target | verdict |")
    print("|---|---|---|---|")
    for measure, value, target, ok in rows:
        failed |= not ok
        print(f"| {measure} | {value} | {target} | {'PASS' if ok else 'FAIL'} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
