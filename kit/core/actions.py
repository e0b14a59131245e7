"""What operators do, whatever the interface: the pages and the JSON API both call these.

Each function carries out one action completely: the settings or the record, the radio
told, the line in the main courante. Input is already validated and typed by the caller
(a JSON body and a browser form do not fail the same way); the vocabularies they validate
against are shared (settings.MODES, alerts.fields_from, radio.commands.STATES/NEEDS,
journal.STATES).
"""
from __future__ import annotations

from flask import current_app

from kit.core import alerts, journal
from kit.storage import queries as records, settings
from kit.mesh import records as r


def sent(record: r.Record) -> r.Record:
    """Tell the radio side that a local record waits in the outbox."""
    current_app.extensions["radio"].published(record)
    return record


def set_mode(db, changes: dict, author: str, source: str) -> dict:
    """Apply {mode, exercise ("0"/"1"), active_risk} and log it; returns all settings."""
    settings.put_many(db, changes)
    journal.log(db, author, source, "mode.set", "", ", ".join(f"{k}={v}" for k, v in changes.items()),
                exercise=settings.get(db, "exercise") == "1", verification="verifiee")
    return settings.all_settings(db)


def create_alert(db, fields: dict, author: str, source: str, *, origin: int, exercise: bool) -> r.Alert:
    """Sign, store and send an alert made of validated CAP fields (alerts.fields_from).
    Raises alerts.AlertError (no signing key, unknown reference)."""
    alert = alerts.publish(db, current_app.extensions["signing_key"], origin, fields, exercise=exercise)
    sent(alert)
    journal.log(db, author, source, "alert.create", records.format_uid(alert.uid),
                f"{alert.event}: {alert.headline}", exercise=alert.exercise, verification="verifiee")
    return alert


def site_status(db, site: tuple[int, str], slug: str, state: r.SiteState, author: str, source: str, *,
                origin: int, exercise: bool, present: int | None = None, capacity: int | None = None,
                needs: r.Needs = r.Needs.NONE) -> r.SiteStatus:
    """A site's status for every kit: a SiteStatus record. `site` is (position, name)."""
    record = records.publish(db, r.SiteStatus, origin, exercise=exercise, site=site[0], status=state,
                             needs=needs, present=present, capacity=capacity)
    sent(record)
    journal.log(db, author, source, "site.status", slug, f"{site[1]}: {state.name.lower()}",
                exercise=record.exercise, verification="verifiee")
    return record


def verify_entry(db, entry: int, state: str, author: str, source: str, *, exercise: bool) -> bool:
    """Change a main courante entry's verification state; the change is itself logged.
    Raises ValueError for a state not in journal.STATES."""
    found = journal.set_verification(db, entry, state)
    if found:
        journal.log(db, author, source, "journal.verify", f"#{entry}", state, exercise=exercise,
                    verification="verifiee")
    return found
