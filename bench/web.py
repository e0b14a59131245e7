"""Web benchmark: the kit's resident pages against a bare WSGI app answering the same
bytes on the same waitress settings, measured in the same run with wrk.

    python bench/web.py [--duration 10] [--out bench/results/web.md]

Targets (issue 6): home ≥ 0.8 × the bare ceiling in requests/s; p99 ≤ 100 ms at 50
connections; at 200 connections no errors beyond the bare server's and p99 ≤ 1.5 × its p99.
"""
from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = {"home": "/", "checklist": "/risques/inondation"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request) as response:
        return response.read()


def wrk(url: str, connections: int, duration: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-H", "Accept-Encoding: gzip", url],
        capture_output=True, text=True, check=True).stdout
    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        value, unit = float(match[1]), match[2]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        "p50": ms("50"), "p99": ms("99"),
        "errors": (sum(map(int, errors.groups())) if errors else 0) + (int(non2xx[1]) if non2xx else 0),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "bench/results/web.md"))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk; `make bench` does it)", file=sys.stderr)
        return 2
    data = tempfile.mkdtemp(prefix="kit-bench-")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    kit_port = free_port()
    kit = subprocess.Popen([sys.executable, "-m", "kit", "serve", "--data", data, "--port", str(kit_port),
                            "--radio", "none", "--admin-listen", "none",
                            "--connections-per-address", "0"], env=env,  # wrk's clients share one address
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    servers = [kit]
    rows = []
    try:
        wait_port(kit_port)
        for name, path in PAGES.items():
            body = fetch(f"http://127.0.0.1:{kit_port}{path}")
            body_file = Path(data) / f"{name}.gz"
            body_file.write_bytes(body)
            bare_port = free_port()
            bare = subprocess.Popen([sys.executable, str(ROOT / "bench/bare_wsgi.py"), str(bare_port),
                                     str(body_file), "gzip"], env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            servers.append(bare)
            wait_port(bare_port)
            for connections in (50, 200):
                k = wrk(f"http://127.0.0.1:{kit_port}{path}", connections, args.duration)
                b = wrk(f"http://127.0.0.1:{bare_port}/", connections, args.duration)
                rows.append((name, len(body), len(gzip.decompress(body)), connections, k, b))
            bare.terminate()
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
        shutil.rmtree(data, ignore_errors=True)

    lines = [
        f"Command: `python bench/web.py --duration {args.duration}` (wrk -t2, Accept-Encoding: gzip, "
        f"{os.cpu_count()} cores; the kit and the bare app on the same waitress settings)",
        "",
        "| page | bytes (gzip / raw) | conns | kit req/s | bare req/s | ratio | kit p50 ms | kit p99 ms "
        "| bare p99 ms | kit errors | bare errors | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    failed = False
    for name, wire, raw, conns, k, b in rows:
        ratio = k["rps"] / b["rps"]
        checks = []
        if name == "home":
            checks.append(ratio >= 0.8)
        if conns == 50:
            checks.append(k["p99"] <= 100)
        else:
            checks += [k["errors"] <= b["errors"], k["p99"] <= 1.5 * b["p99"]]
        verdict = "PASS" if all(checks) else "FAIL"
        failed |= verdict == "FAIL"
        lines.append(f"| {name} | {wire} / {raw} | {conns} | {k['rps']:.0f} | {b['rps']:.0f} | {ratio:.2f} | "
                     f"{k['p50']:.1f} | {k['p99']:.1f} | {b['p99']:.1f} | {k['errors']} | {b['errors']} | {verdict} |")
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
