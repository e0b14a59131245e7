"""The kit's runs: when it started, and how often it came back without having stopped cleanly
(a hang the systemd watchdog ended, a crash, a power cut), for the crisis cell's dashboard.

A run is marked clean only when `kit serve` returns normally (systemctl stop, a reboot); at
the next start, a run left unmarked counts as an unplanned restart. Kept in `settings`.
"""
from __future__ import annotations

from dataclasses import dataclass

from kit.storage import settings

STARTED, CLEAN, UNPLANNED, LAST_UNPLANNED = "run_started_at", "run_clean_stop", "unplanned_restarts", \
    "last_unplanned_restart_at"


@dataclass(frozen=True)
class Runs:
    started_at: int
    unplanned: int
    last_unplanned_at: int | None


def started(kit, now: int) -> Runs:
    """Record this start; counts the previous run as unplanned if it never stopped cleanly."""
    with kit.writing() as db:
        if settings.get(db, STARTED, "") and settings.get(db, CLEAN, "0") != "1":
            settings.put(db, UNPLANNED, str(int(settings.get(db, UNPLANNED, "0")) + 1))
            settings.put(db, LAST_UNPLANNED, str(now))
        settings.put_many(db, {STARTED: str(now), CLEAN: "0"})
        return read(db)


def stopped(kit) -> None:
    """This run ends cleanly."""
    with kit.writing() as db:
        settings.put(db, CLEAN, "1")


def read(db) -> Runs:
    last = settings.get(db, LAST_UNPLANNED, "")
    return Runs(started_at=int(settings.get(db, STARTED, "0")), unplanned=int(settings.get(db, UNPLANNED, "0")),
                last_unplanned_at=int(last) if last else None)
