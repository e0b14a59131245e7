"""Run the `meshtastic` package's own firmware smoke suites against `kit-meshtasticd`.

The suites (meshtastic/tests/test_smokemesh.py: a 3-node chain bridged through SIMULATOR_APP;
test_smokevirt.py: one node driven by the `meshtastic` CLI) are the ones the Meshtastic
maintainers run against the real firmware built for Linux. They run unchanged, in
subprocesses, exactly as CI would:

    MESHTASTICD_BIN=<kit-meshtasticd> pytest --pyargs meshtastic.tests.test_smokemesh \
        meshtastic.tests.test_smokevirt

The two suites use different TCP ports (4404-4406 and 4504), so they run side by side.
Used by tests/test_meshtasticd_peer.py and bench/peer_under_load.py.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

SUITES = ("meshtastic.tests.test_smokemesh", "meshtastic.tests.test_smokevirt")
EXPECTED = {"test_smokemesh": 7, "test_smokevirt": 40}
# Tests that exercise only the `meshtastic` CLI's optional extras (meshtastic[cli]), never the
# radio: they fail when the extra is not installed, whatever the daemon.
NEEDS_EXTRA = {
    "test_smokevirt_qr": "pyqrcode",
    "test_smokevirt_test_requires_two_devices": "dotmap",
}
ROOT = Path(__file__).resolve().parents[2]
BUSY_LOOP = "while True: pass"


def short(module: str) -> str:
    return module.rsplit(".", 1)[-1]


def daemon_command(workdir: Path) -> str:
    """The installed `kit-meshtasticd`, else a wrapper running this checkout's module."""
    installed = shutil.which("kit-meshtasticd")
    if installed:
        return installed
    wrapper = workdir / "kit-meshtasticd"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m kit.sim.meshtasticd "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)


@contextlib.contextmanager
def cpu_load(count: int):
    """`count` CPU-bound busy-loop processes for the duration of the block (issue 12: the suites
    must hold while another CPU-bound process runs)."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def run_suite(module: str, binary: str, workdir: Path) -> subprocess.Popen:
    """Start one suite in a subprocess: junit report and log in `workdir`."""
    report = workdir / f"{short(module)}.xml"
    env = dict(os.environ, MESHTASTICD_BIN=binary)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    log = open(workdir / f"{short(module)}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "--pyargs", module, "-p", "no:cacheprovider",
         "-q", "-rfEs", f"--junitxml={report}", "-W", "ignore::pytest.PytestUnknownMarkWarning"],
        cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)


def outcomes(report: Path) -> dict[str, str]:
    """test name -> passed / failed / skipped, from a junit report (empty if none was written)."""
    if not report.exists():
        return {}
    results = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        results[case.get("name")] = ("failed" if kinds & {"failure", "error"} else
                                     "skipped" if "skipped" in kinds else "passed")
    return results


def allowed_failures() -> set[str]:
    """The extras-only tests whose extra is missing here."""
    return {name for name, extra in NEEDS_EXTRA.items() if importlib.util.find_spec(extra) is None}


def verdict(results: dict[str, dict[str, str]]) -> list[str]:
    """Why a run of both suites is not a pass (empty list: 7/7 and 40/40, or 38/40 for want of
    the extras). `results` maps the short suite name to its outcomes."""
    problems = []
    allowed = allowed_failures()
    for suite, expected in EXPECTED.items():
        got = results.get(suite, {})
        if len(got) != expected:
            problems.append(f"{suite}: {len(got)} tests reported, {expected} expected")
        bad = {n for n, o in got.items() if o != "passed"} - (allowed if suite == "test_smokevirt" else set())
        if bad:
            problems.append(f"{suite}: not passed: {', '.join(sorted(bad))}")
    return problems
