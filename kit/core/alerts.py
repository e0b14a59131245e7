"""Official alerts: CAP 1.2 fields in, a signed Alert record out.

CAP names (Met, Immediate, AllClear…) are what operators and CAP files use; the record
keeps them as compact enums for the radio.
"""
from __future__ import annotations

import dataclasses
import math
import time
from datetime import datetime

from kit.core import text
from kit.core.messages import _
from kit.mesh import records as r
from kit.storage.json_records import parse_uid
from kit.storage.projections import cap_name

LIMITS = {"event": 60, "headline": 140, "instruction": 280, "description": 500, "area": 140}
ENUMS = {
    "msg_type": r.MsgType, "category": r.Category, "urgency": r.Urgency, "severity": r.Severity,
    "certainty": r.Certainty, "response_type": r.ResponseType,
}
LATEST = 2**32  # unix seconds (year 2106): what the radio record and every clock here can hold
DEFAULTS = {"msg_type": "Alert", "category": "Safety", "urgency": "Immediate", "severity": "Severe",
            "certainty": "Likely", "response_type": "Shelter"}


class AlertError(ValueError):
    """Invalid alert input; the message names the field and what is expected."""


def from_cap_name(enum, value: str):
    for member in enum:
        if cap_name(member).lower() == str(value).strip().lower():
            return member
    choices = ", ".join(cap_name(m) for m in enum)
    raise AlertError(_("%(value)s is not one of: %(choices)s", value=repr(value), choices=choices))


def parse_time(value) -> int | None:
    """Unix seconds or an ISO 8601 date-time (with offset)."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # 1e20 or inf (1e999 in JSON) would overflow SQLite and the record's fields.
        if not (math.isfinite(value) and 0 <= value < LATEST):
            raise AlertError(_("'expires': not a date-time: %(value)s", value=repr(value)[:40]))
        return int(value)
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise AlertError(_("'expires': not a date-time: %(value)s", value=repr(value)[:40])) from None
    if moment.tzinfo is None:
        raise AlertError(_("'expires': give the time zone offset, e.g. 2026-11-22T18:00:00+01:00"))
    try:
        unix = int(moment.timestamp())
    except (OverflowError, ValueError, OSError):  # year 9999 with an offset, say
        unix = LATEST
    if not 0 <= unix < LATEST:
        raise AlertError(_("'expires': not a date-time: %(value)s", value=repr(value)[:40]))
    return unix


def fields_from(data: dict) -> dict:
    """Validate operator input (JSON or a form) into Alert fields."""
    fields = {}
    for name, enum in ENUMS.items():
        try:
            fields[name] = from_cap_name(enum, data.get(name) or DEFAULTS[name])
        except AlertError as exc:
            raise AlertError(_("'%(field)s': %(problem)s", field=name, problem=exc)) from None
    for name, limit in LIMITS.items():
        value = data.get(name, "")
        if not isinstance(value, str):
            raise AlertError(_("'%(field)s' must be text", field=name))
        value = value.strip()
        if name in ("event", "headline") and not value:
            raise AlertError(_("'%(field)s' is required", field=name))
        if text.bad_character(value):
            raise AlertError(_("'%(field)s': holds a control or direction-override character", field=name))
        if len(value) > limit:
            raise AlertError(_("'%(field)s': %(count)d characters, the limit is %(limit)d",
                                 field=name, count=len(value), limit=limit))
        fields[name] = value
    fields["expires"] = parse_time(data.get("expires"))
    if fields["expires"] is not None and fields["expires"] <= time.time():
        raise AlertError(_("'expires' is already past"))
    references = data.get("references") or None
    if references is not None and not isinstance(references, str):
        raise AlertError(_("'%(field)s': %(problem)s", field="references", problem="not a record id"))
    if fields["msg_type"] != r.MsgType.ALERT:
        if not references:
            raise AlertError(_("an Update or a Cancel gives 'references': the id of the alert it replaces"))
        try:
            fields["references"] = r.Uid(*parse_uid(references))
        except ValueError as exc:
            raise AlertError(_("'%(field)s': %(problem)s", field="references", problem=exc)) from None
    return fields


def record_fields(fields: dict) -> dict:
    """The Alert record's fields among validated CAP fields (Kit.create_alert signs it)."""
    known = {f.name for f in dataclasses.fields(r.Alert)}
    return {k: v for k, v in fields.items() if k in known}
