"""What the territory page shows (`kit territory`, /admin/territoire): every kit heard, by
its health record, its last contact over LoRa (as its health reports it) and over IP (its
last authenticated frame on the broker), the active alerts and every kit's shelters.

Everything comes from authenticated records in this kit's store (the broker is never
trusted: a kit appears only once a frame of it opened with the kit key)."""
from __future__ import annotations

import time

from kit.core import kit_health as health
from kit.mesh import records as r
from kit.storage import json_records
from kit.storage import queries as records


def ip_contacts(links) -> dict[int, tuple[str, float]]:
    """node → (broker account, last authenticated frame) from the kit's broker links."""
    seen: dict[int, tuple[str, float]] = {}
    for link in links:
        contacts = getattr(link, "contacts", None)  # links that know them (the broker)
        for node, (account, when) in (contacts() if contacts else {}).items():
            if node not in seen or seen[node][1] < when:
                seen[node] = (account, when)
    return seen


def shelters(db) -> dict[int, list[r.SiteStatus]]:
    """origin → the latest status of each of its sites (site statuses made by that kit)."""
    latest: dict[tuple[int, int], r.SiteStatus] = {}
    rows = db.execute("SELECT kind, origin, seq, created_at, exercise, body FROM records "
                      "WHERE kind = 'site_status' ORDER BY created_at, seq").fetchall()
    for row in rows:
        status = json_records.loads(*row)
        latest[(status.origin, status.site)] = status
    out: dict[int, list[r.SiteStatus]] = {}
    for (origin, _site), status in sorted(latest.items()):
        out.setdefault(origin, []).append(status)
    return out


def view(db, links, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    ip = ip_contacts(links)
    kits = {k["origin"]: k for k in health.latest(db, now)}
    sites = shelters(db)
    rows = []
    for origin in sorted(set(kits) | set(ip) | set(sites)):
        kit = kits.get(origin, {})
        account, ip_at = ip.get(origin, ("", None))
        rows.append({"node": f"!{origin:08x}", "origin": origin, "account": account, "health": kit,
                     "lora_at": kit.get("last_sync"), "ip_at": ip_at, "sites": sites.get(origin, [])})
    return {"now": now, "kits": rows, "alerts": records.active_alerts(db, int(now))}
