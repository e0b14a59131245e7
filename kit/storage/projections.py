"""Apply records to the tables the pages read: messages, check-ins, alerts, sites, …

A record is always shown as `effective_record` says (the mesh core's single rule for
deletions, corrections and duplicate volunteer texts), so every kit shows the same thing
whatever order the records arrived in. A correction or deletion re-projects its target.
"""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

from kit.crypto.signing import verify_record
from kit.mesh import records as r
from kit.mesh.store import effective_record
from kit.storage.json_records import dumps, loads
from kit.storage.names import name_key

MESSAGE_KIND = {r.Board: "board", r.Need: "need", r.Offer: "offer", r.VolunteerText: "radio"}
SITE_STATUS = {
    r.SiteState.FERME: "ferme", r.SiteState.EN_PREPARATION: "en-preparation",
    r.SiteState.OUVERT: "ouvert", r.SiteState.COMPLET: "complet", r.SiteState.EVACUE: "evacue",
}
CAP_SPECIAL = {"CBRNE": "CBRNE", "ALL_CLEAR": "AllClear"}


def cap_name(value) -> str:
    """MsgType.UPDATE → 'Update', Category.MET → 'Met', ResponseType.ALL_CLEAR → 'AllClear'."""
    return CAP_SPECIAL.get(value.name) or value.name.capitalize()


def iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, tz=timezone.utc).isoformat(timespec="seconds")


def project(store, record: r.Record) -> None:
    if isinstance(record, (r.Correction, r.Deletion)):
        target = store.get(record.target)
        if target is not None:
            _show(store, target)
        return
    _show(store, record)
    if isinstance(record, r.VolunteerText):  # a smaller uid for the same text hides the others
        for (origin, seq) in store.conn.execute(
            "SELECT origin, seq FROM records WHERE dedup_sender = ? AND dedup_packet = ? "
            "AND NOT (origin = ? AND seq = ?)", (*record.dedup_key, record.origin, record.seq)
        ).fetchall():
            _show(store, store.get(r.Uid(origin, seq)))


def _show(store, record: r.Record) -> None:
    shown = effective_record(store, record.uid)
    handler = HANDLERS.get(type(record))
    if handler:
        handler(store.conn, record, shown)


def _message(conn, record, shown) -> None:
    name = getattr(record, "author", None) or getattr(record, "name", None) or getattr(record, "sender_name", "")
    text = (shown or record).text
    conn.execute(
        "INSERT INTO messages (origin, seq, kind, text, name, created_at, exercise, hidden) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (origin, seq) DO UPDATE SET "
        "text = excluded.text, hidden = excluded.hidden",
        (record.origin, record.seq, MESSAGE_KIND[type(record)], text, name or "",
         record.created_at, int(record.exercise), int(shown is None)))


def _checkin(conn, record: r.Checkin, shown) -> None:
    conn.execute(
        "INSERT INTO checkins (origin, seq, name, name_key, note, created_at, exercise, hidden) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (origin, seq) DO UPDATE SET "
        "note = excluded.note, hidden = excluded.hidden",
        (record.origin, record.seq, record.name, name_key(record.name), (shown or record).note,
         record.created_at, int(record.exercise), int(shown is None)))


def _field_report(conn, record: r.FieldReport, shown) -> None:
    conn.execute(
        "INSERT INTO field_reports (origin, seq, location, incident, severity, text, created_at, "
        "exercise, hidden) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (origin, seq) DO UPDATE SET "
        "text = excluded.text, hidden = excluded.hidden",
        (record.origin, record.seq, record.location, record.incident.name.lower(),
         cap_name(record.severity), (shown or record).text, record.created_at,
         int(record.exercise), int(shown is None)))


def trusted_keys(conn) -> list[bytes]:
    row = conn.execute("SELECT value FROM settings WHERE key = 'trusted_keys'").fetchone()
    return [base64.b64decode(k) for k in json.loads(row[0])] if row else []


def _alert(conn, record: r.Alert, shown) -> None:
    """An alert is official only when verified with a trusted key — and not hidden (a
    deletion with authority over it, two versions of its uid)."""
    verified = shown is not None and verify_record(record, trusted_keys(conn))
    references = f"{record.references.origin:08x}-{record.references.seq}" if record.references else ""
    conn.execute(
        "INSERT OR IGNORE INTO alerts (origin, seq, status, msg_type, references_id, category, event, "
        "urgency, severity, certainty, response_type, headline, description, instruction, area, sent_at, "
        "expires_at, exercise, verified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (record.origin, record.seq, "Exercise" if record.exercise else "Actual",
         cap_name(record.msg_type), references, cap_name(record.category), record.event,
         cap_name(record.urgency), cap_name(record.severity), cap_name(record.certainty),
         cap_name(record.response_type), record.headline, getattr(record, "description", ""),
         record.instruction, record.area, record.created_at, record.expires, int(record.exercise),
         int(verified)))
    if not verified:  # it may have been shown before (a conflict heard later)
        conn.execute("UPDATE alerts SET verified = 0 WHERE origin = ? AND seq = ?", record.uid)
    # Only a verified update or cancel may retire an alert: a forged "Cancel" must not
    # hide a real evacuation order.
    if record.references and record.msg_type in (r.MsgType.UPDATE, r.MsgType.CANCEL) and verified:
        conn.execute("UPDATE alerts SET superseded = 1 WHERE origin = ? AND seq = ?", record.references)
    superseding = conn.execute(
        "SELECT 1 FROM alerts WHERE references_id = ? AND msg_type IN ('Update', 'Cancel') AND verified = 1",
        (f"{record.origin:08x}-{record.seq}",)).fetchone()
    if superseding:  # its update arrived first
        conn.execute("UPDATE alerts SET superseded = 1 WHERE origin = ? AND seq = ?", record.uid)


def _site_status(conn, record: r.SiteStatus, _shown) -> None:
    """Newest report wins, whatever order reports arrive in. A drill's reports go to their
    own table (kit/sites.py shows them over the real status during the drill)."""
    if record.exercise:
        conn.execute(
            "INSERT INTO site_exercise_status (position, status, present, capacity, needs, updated_at, status_at) "
            "SELECT position, ?, ?, ?, ?, ?, ? FROM sites WHERE position = ? "
            "ON CONFLICT (position) DO UPDATE SET status = excluded.status, "
            "present = COALESCE(excluded.present, present), capacity = COALESCE(excluded.capacity, capacity), "
            "needs = excluded.needs, updated_at = excluded.updated_at, status_at = excluded.status_at "
            "WHERE excluded.status_at >= site_exercise_status.status_at",
            (SITE_STATUS[record.status], record.present, record.capacity, int(record.needs),
             iso(record.created_at), record.created_at, record.site))
        return
    conn.execute(
        "UPDATE sites SET status = ?, present = COALESCE(?, present), capacity = COALESCE(?, capacity), "
        "needs = ?, updated_at = ?, status_at = ? WHERE position = ? AND status_at <= ?",
        (SITE_STATUS[record.status], record.present, record.capacity, int(record.needs),
         iso(record.created_at), record.created_at, record.site, record.created_at))


def _health(conn, record: r.Health, _shown) -> None:
    conn.execute(
        "INSERT INTO kit_health (origin, seq, created_at, body) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq, created_at = excluded.created_at, "
        "body = excluded.body WHERE excluded.created_at >= kit_health.created_at",
        (record.origin, record.seq, record.created_at, dumps(record)))


HANDLERS = {
    r.Board: _message, r.Need: _message, r.Offer: _message, r.VolunteerText: _message,
    r.Checkin: _checkin, r.FieldReport: _field_report, r.Alert: _alert,
    r.SiteStatus: _site_status, r.Health: _health,
}


def reverify_alerts(conn) -> None:
    """The trusted keys changed: verify every stored alert again, redo supersession, and
    show again every record a signed correction or deletion targets."""
    from kit.storage.sqlite_store import SqliteStore  # it imports this module

    store = SqliteStore(conn)
    for (origin, seq) in conn.execute("SELECT DISTINCT target_origin, target_seq FROM records "
                                      "WHERE target_origin IS NOT NULL").fetchall():
        target = store.get(r.Uid(origin, seq))
        if target is not None:
            _show(store, target)
    trusted = trusted_keys(conn)
    rows = conn.execute("SELECT kind, origin, seq, created_at, exercise, body FROM records "
                        "WHERE kind = 'alert' ORDER BY created_at").fetchall()
    alerts = [loads(*row) for row in rows]
    conn.execute("UPDATE alerts SET superseded = 0")
    for alert in alerts:
        ok = verify_record(alert, trusted) and effective_record(store, alert.uid) is not None
        conn.execute("UPDATE alerts SET verified = ? WHERE origin = ? AND seq = ?", (int(ok), *alert.uid))
        if ok and alert.references and alert.msg_type in (r.MsgType.UPDATE, r.MsgType.CANCEL):
            conn.execute("UPDATE alerts SET superseded = 1 WHERE origin = ? AND seq = ?", alert.references)
