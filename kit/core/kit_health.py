"""This kit's health as one compact Health record, and every kit's latest for the dashboard.

The radio service publishes one 10 min after it starts, then every
`ServiceConfig.health_interval_s` (30 min by default): ~20 bytes, about 0.56 s on air
with LONG_FAST, so two an hour cost 1.1 s of the kit's 180 s hourly budget (0.6 %). The crisis cell reads them on the dashboard,
with their age: a kit not heard for two intervals is shown as silent.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from kit.mesh import records as r

DEFAULT_INTERVAL_S = 1800
FIRST_REPORT_S = 600  # after a start: a kit back from a power cut shows within 10 minutes
SILENT_AFTER_S = 2 * DEFAULT_INTERVAL_S + 300
POWER_SUPPLY = Path("/sys/class/power_supply")
PROC_UPTIME = Path("/proc/uptime")
_STARTED = time.monotonic()

RADIO = {"connected": r.RadioState.OK, "connecting": r.RadioState.DEGRADED,
         "reconnecting": r.RadioState.DEGRADED}  # anything else (absent, none): DOWN
MODES = {"veille": r.KitMode.VEILLE, "crise": r.KitMode.CRISE, "apres": r.KitMode.APRES}


def battery_pct(root: Path = POWER_SUPPLY) -> int | None:
    """The first battery's charge (a UPS HAT or a power bank that reports it), if any."""
    for capacity in sorted(root.glob("*/capacity")):
        try:
            value = int(capacity.read_text().strip())
        except (OSError, ValueError):
            continue
        if 0 <= value <= 100:
            return value
    return None


def uptime_s(path: Path = PROC_UPTIME) -> int:
    """Seconds since the Pi booted (a power cut shows as a reset); the process's elsewhere."""
    try:
        return int(float(path.read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        return int(time.monotonic() - _STARTED)


def fields(status: dict, mode: str, *, airtime_ms_hour: int | None = None, uptime: int | None = None,
           battery: int | None | bool = True) -> dict:
    """Health record fields from the radio status (MeshService.status() or NoRadio's).
    `battery=True` reads it from the system; pass an int or None to give it."""
    airtime = airtime_ms_hour if airtime_ms_hour is not None else round(status.get("airtime_pct", 0) * 36_000)
    return {
        "uptime_s": uptime_s() if uptime is None else uptime,
        "radio": RADIO.get(status.get("state"), r.RadioState.DOWN),
        "queue_len": int(status.get("queue") or 0),
        "airtime_ms_hour": int(airtime),
        "last_sync": status.get("last_sync"),
        "mode": MODES.get(mode, r.KitMode.VEILLE),
        "battery_pct": battery_pct() if battery is True else battery,
    }


def latest(db, now: float | None = None) -> list[dict]:
    """Every kit's latest health, oldest report first (the silent ones stand out)."""
    now = time.time() if now is None else now
    rows = db.execute(
        "SELECT h.origin, h.seq, h.created_at, h.body, COALESCE(rec.exercise, 0) FROM kit_health h "
        "LEFT JOIN records rec ON rec.origin = h.origin AND rec.seq = h.seq ORDER BY h.created_at").fetchall()
    kits = []
    for origin, seq, created_at, body, exercise in rows:
        kit = json.loads(body) | {"origin": origin, "node": f"!{origin:08x}", "seq": seq,
                                  "created_at": created_at, "exercise": bool(exercise)}
        kit["silent"] = now - created_at > SILENT_AFTER_S
        kits.append(kit)
    return kits
