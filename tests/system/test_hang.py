"""A hang: the kit's process frozen (SIGSTOP) stops feeding systemd's watchdog, which ends it
and restarts it (kit.service: WatchdogSec=30, TimeoutAbortSec=5, Restart=always, RestartSec=2);
the restart is counted for the crisis cell's dashboard (kit/core/runs.py)."""
from __future__ import annotations

import time

WATCHDOG_SEC, ABORT_SEC, RESTART_SEC = 30, 5, 2


def main_pid(pi) -> str:
    return pi.box.run("systemctl", "show", "-P", "MainPID", "kit.service").stdout.strip()


def test_a_frozen_kit_is_restarted_by_the_watchdog(pi):
    before = pi.sql("SELECT value FROM settings WHERE key = 'unplanned_restarts'")
    frozen = main_pid(pi)
    pi.box.run("kill", "-STOP", frozen)
    stopped_at = time.monotonic()
    deadline = stopped_at + WATCHDOG_SEC + ABORT_SEC + RESTART_SEC + 30
    while not (main_pid(pi) not in ("0", frozen)
               and pi.box.run("systemctl", "is-active", "kit.service", check=False).stdout.strip() == "active"):
        assert time.monotonic() < deadline, "the watchdog did not restart the frozen kit"
        time.sleep(0.5)
    back = time.monotonic() - stopped_at
    journal = pi.box.run("journalctl", "-b", "-u", "kit.service", "--no-pager", "-o", "cat").stdout
    assert "Watchdog timeout" in journal, journal[-2000:]
    # Fed every 10 s: silence is noticed within WatchdogSec, then SIGKILL after TimeoutAbortSec.
    assert WATCHDOG_SEC - 11 < back < WATCHDOG_SEC + ABORT_SEC + RESTART_SEC + 15, back
    print(f"hang: kit back {back:.1f} s after SIGSTOP")
    after = pi.sql("SELECT value FROM settings WHERE key = 'unplanned_restarts'")
    assert int((after or ["0"])[0]) == int((before or ["0"])[0]) + 1
