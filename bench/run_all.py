"""`make bench`: run every benchmark and write BENCHMARKS.md with their tables.

Each benchmark prints its own table with the command that produced it and its targets;
this only gathers them. Exit status: non-zero when a benchmark reports a missed target
(the tables say which).
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = [
    ("Web: requests per second and latency against a bare WSGI ceiling", ["bench/web.py", "--duration", "15"]),
    ("Page weight of every resident page", ["bench/pages.py"]),
    ("Footprint: memory, idle CPU, cold start", ["bench/footprint.py", "--idle-seconds", "120"]),
    ("Radio: bytes and airtime per message, sync control share, convergence", ["bench/mesh_codec.py"]),
    ("Radio at the scale of a territory (firmware-faithful simulator)", ["bench/mesh_territory.py"]),
    ("Territory federation: 100 kits on one Mosquitto", ["bench/federation.py"]),
]


def main() -> int:
    out = ["# Benchmarks", "",
           f"Written by `make bench` on {time.strftime('%Y-%m-%d')} on this project's 2-core development "
           "machine; each section gives the command that produced it. Targets come from issues 3 and 6.", ""]
    status = 0
    for title, command in SECTIONS:
        print(f"== {title}", flush=True)
        run = subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True)
        print(run.stdout[-4000:], run.stderr[-2000:], flush=True)
        status |= run.returncode
        out += [f"## {title}", "", run.stdout.strip(), ""]
    notes = ROOT / "bench" / "NOTES.md"
    if notes.exists():
        out += [notes.read_text().strip(), ""]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(out))
    print("BENCHMARKS.md written")
    return status


if __name__ == "__main__":
    sys.exit(main())
