"""The peer suites under CPU load (issue 12, item 5).

Runs the `meshtastic` package's firmware smoke suites (test_smokemesh, 7 tests, and
test_smokevirt, 40 tests, side by side as tests/test_meshtasticd_peer.py does) against
`kit-meshtasticd`, N times in a row, each run while CPU-bound busy-loop processes run for its
whole duration. Prints per run the passed/total count of each suite, the tests that did not
pass and the wall time.

Run: .venv/bin/python bench/peer_under_load.py [--runs 5] [--load 1] [--keep DIR]

--load N starts N busy-loop processes (default 1: "another CPU-bound process"; the machine's
other work comes on top, so say what else ran). Exit status 0 only if every run is 7/7 and
40/40 (38/40 where the meshtastic[cli] extras pyqrcode/dotmap are missing, as the test allows).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kit.sim.peer_suites import (  # noqa: E402
    EXPECTED,
    SUITES,
    cpu_load,
    daemon_command,
    outcomes,
    run_suite,
    short,
    verdict,
)

SUITE_TIMEOUT_S = 1500


def one_run(workdir: Path, load: int) -> tuple[dict[str, dict[str, str]], float, float]:
    """Both suites beside `load` busy processes: outcomes per suite, wall time, load average."""
    binary = daemon_command(workdir)
    started = time.monotonic()
    with cpu_load(load):
        procs = [run_suite(module, binary, workdir) for module in SUITES]
        for proc in procs:
            try:
                proc.wait(timeout=SUITE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        loadavg = os.getloadavg()[0]
    wall = time.monotonic() - started
    return {short(m): outcomes(workdir / f"{short(m)}.xml") for m in SUITES}, wall, loadavg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--load", type=int, default=1, help="busy-loop processes beside the suites")
    parser.add_argument("--keep", type=Path, help="keep each run's logs and junit reports here")
    args = parser.parse_args(argv)

    print(f"`bench/peer_under_load.py --runs {args.runs} --load {args.load}` on {os.cpu_count()} cores")
    print()
    print("| run | test_smokemesh | test_smokevirt | not passed | wall | load avg (1 min) |")
    print("|---|---|---|---|---|---|")
    failures = 0
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix=f"peerload{run}_") as tmp:
            workdir = Path(tmp)
            if args.keep:
                workdir = args.keep / f"run{run}"
                workdir.mkdir(parents=True, exist_ok=True)
            results, wall, loadavg = one_run(workdir, args.load)
        problems = verdict(results)
        failures += bool(problems)
        counts = [f"{sum(o == 'passed' for o in results[s].values())}/{n}" for s, n in EXPECTED.items()]
        not_passed = sorted(name for r in results.values() for name, o in r.items() if o != "passed")
        print(f"| {run} | {counts[0]} | {counts[1]} | {', '.join(not_passed) or '-'} | "
              f"{wall:.0f} s | {loadavg:.1f} |", flush=True)
        for problem in problems:
            print(f"    {problem}", flush=True)
    print()
    print(f"{args.runs - failures}/{args.runs} runs passed "
          f"(target: {args.runs}/{args.runs}, every run 7/7 and 40/40)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
