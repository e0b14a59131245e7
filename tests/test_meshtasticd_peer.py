"""The `meshtastic` package's own firmware smoke tests, run against `kit-meshtasticd`.

The suites (meshtastic/tests/test_smokemesh.py: a 3-node chain bridged through SIMULATOR_APP;
test_smokevirt.py: one node driven by the `meshtastic` CLI) are the ones the Meshtastic
maintainers run against the real firmware built for Linux. They run unchanged, in
subprocesses, exactly as CI would (kit/sim/peer_suites.py):

    MESHTASTICD_BIN=<kit-meshtasticd> pytest --pyargs meshtastic.tests.test_smokemesh \
        meshtastic.tests.test_smokevirt

The two suites use different TCP ports (4404-4406 and 4504), so they run side by side.
They run beside a CPU-bound busy loop; bench/peer_under_load.py repeats that N times.
"""
import pytest

from kit.sim.peer_suites import (
    EXPECTED,
    SUITES,
    allowed_failures,
    cpu_load,
    daemon_command,
    outcomes,
    run_suite,
    short,
)

pytestmark = pytest.mark.slow

SMOKEMESH_TESTS = EXPECTED["test_smokemesh"]
SMOKEVIRT_TESTS = EXPECTED["test_smokevirt"]


def test_meshtastic_firmware_smoke_suites_pass_against_kit_meshtasticd(tmp_path):
    binary = daemon_command(tmp_path)
    # Beside one CPU-bound process, as issue 12 asks of the peer suite ("holds under load");
    # it costs no wall time, and bench/peer_under_load.py repeats this five times.
    with cpu_load(1):
        procs = {module: run_suite(module, binary, tmp_path) for module in SUITES}
        for proc in procs.values():
            proc.wait(timeout=1500)
    logs = {m: (tmp_path / f"{short(m)}.log").read_text(errors="replace") for m in SUITES}

    mesh = outcomes(tmp_path / "test_smokemesh.xml")
    assert len(mesh) == SMOKEMESH_TESTS, logs[SUITES[0]][-3000:]
    assert set(mesh.values()) == {"passed"}, (mesh, logs[SUITES[0]][-5000:])

    virt = outcomes(tmp_path / "test_smokevirt.xml")
    assert len(virt) == SMOKEVIRT_TESTS, logs[SUITES[1]][-3000:]
    assert "skipped" not in virt.values(), virt
    failed = {name for name, outcome in virt.items() if outcome == "failed"}
    allowed = allowed_failures()
    assert failed <= allowed, (sorted(failed - allowed), logs[SUITES[1]][-5000:])
    assert sum(o == "passed" for o in virt.values()) >= SMOKEVIRT_TESTS - len(allowed)
