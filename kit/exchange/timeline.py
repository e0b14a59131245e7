"""The crisis timeline for the RETEX: main courante, messages, field reports and alerts in
time order, as CSV and as rows for the printable page (templates/admin/timeline.html).

Check-ins are not in it: they are residents' personal data, not the cell's operations.
Every row says whether it belongs to an exercise, so a drill's timeline reads EXERCICE.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from kit.exchange.tabular import neutralise

COLUMNS = ("time", "type", "exercise", "who", "subject", "text", "state")
# `state` codes: the main courante's verification (a_verifier, en_cours, verifiee), a
# message's or report's "hidden", an alert's verified / unverified / superseded.


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(int(unix), tz=timezone.utc).astimezone().isoformat(timespec="seconds")


def events(db, *, since: int = 0, until: int | None = None) -> list[dict]:
    until = 2**40 if until is None else until
    out = []
    for at, author, source, action, subject, detail, verification, exercise in db.execute(
            "SELECT at, author, source, action, subject, detail, verification, exercise FROM journal "
            "WHERE at BETWEEN ? AND ? ORDER BY id", [since, until]):
        out.append({"at": at, "type": f"journal:{action}", "exercise": bool(exercise),
                    "who": f"{author} ({source})", "subject": subject, "text": detail, "state": verification})
    for at, kind, origin, seq, name, text, exercise, hidden in db.execute(
            "SELECT created_at, kind, origin, seq, name, text, exercise, hidden FROM messages "
            "WHERE created_at BETWEEN ? AND ? ORDER BY id", [since, until]):
        out.append({"at": at, "type": f"message:{kind}", "exercise": bool(exercise), "who": name,
                    "subject": f"{origin:08x}-{seq}", "text": text, "state": "hidden" if hidden else ""})
    for at, origin, seq, location, incident, severity, text, exercise, hidden in db.execute(
            "SELECT created_at, origin, seq, location, incident, severity, text, exercise, hidden "
            "FROM field_reports WHERE created_at BETWEEN ? AND ?", [since, until]):
        out.append({"at": at, "type": "field_report", "exercise": bool(exercise), "who": f"{origin:08x}",
                    "subject": f"{origin:08x}-{seq}", "text": f"{location} — {incident} ({severity}) {text}".strip(),
                    "state": "hidden" if hidden else ""})
    for row in db.execute(
            "SELECT sent_at, origin, seq, msg_type, event, headline, severity, instruction, area, "
            "exercise, verified, superseded FROM alerts WHERE sent_at BETWEEN ? AND ?", [since, until]):
        at, origin, seq, msg_type, event, headline, severity, instruction, area, exercise, verified, gone = row
        state = "superseded" if gone else "verified" if verified else "unverified"
        out.append({"at": at, "type": f"alert:{msg_type}", "exercise": bool(exercise), "who": f"{origin:08x}",
                    "subject": f"{origin:08x}-{seq}",
                    "text": f"{event} ({severity}) — {headline}. {instruction} [{area}]".strip(), "state": state})
    out.sort(key=lambda e: e["at"])  # stable: within a second, each source keeps its own order
    for event in out:
        event["time"] = _iso(event["at"])
    return out


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([neutralise("EXERCICE" if row["exercise"] else "") if c == "exercise"
                         else neutralise(row[c]) for c in COLUMNS])
    return out.getvalue()
