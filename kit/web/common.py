"""Helpers shared by the blueprints: the kit's state for templates, client address, limits."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from flask import current_app, g, request

from kit.storage import settings
from kit.storage.names import name_key
from kit.web.connection import current_kit, get_db


def kit_state() -> dict:
    """Settings (mode, exercise, names) read once per request."""
    if "kit_state" not in g:
        values = settings.all_settings(get_db())
        values["exercise"] = values.get("exercise") == "1"
        values["origin"] = int(values["kit_origin"])
        g.kit_state = values
    return g.kit_state


def publish(record_type, **fields):
    """Create this kit's record (stored, in the outbox, sent): the phone's address is its
    source, so that one phone cannot crowd the others out of the radio."""
    return current_kit().publish(record_type, source=f"web:{client_ip()}", **fields)


def radio_status() -> dict:
    return current_kit().radio.status()


def link_statuses() -> list[dict]:
    """The kit's other links (the territory's MQTT broker): state, errors, loop restarts."""
    return [link.status() for link in current_kit().links]


def client_ip() -> str:
    return request.remote_addr or "?"


def rate_limited(bucket: str, person: str | None = None) -> int:
    """Seconds to wait if this client is over its limit for `bucket`, else 0 (and counted).

    With `person` (a check-in's or a lookup's name), that name has its own limit too, from
    every address at once: a phone that changes address (a new DHCP lease, a randomised
    MAC) cannot flood check-ins under a name nor poll someone's name. No kit-wide limit:
    one sender rotating addresses would exhaust it and silence everyone (the weapon of
    issue 13 #5), and a shelter behind one NAT would share it; different names from one
    address never block each other."""
    also = [(f"{bucket}_name", name_key(person))] if person else []
    return current_app.extensions["ratelimit"].hit(bucket, client_ip(), *also)


def whole_number(text: str, limit: int = 2**62) -> int | None:
    """A query parameter as a non-negative integer SQLite can hold, else None."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        return None
    return value if 0 <= value < limit else None


def now() -> int:
    return int(time.time())


def format_time(unix: int | None) -> str:
    """Local-looking 'YYYY-MM-DD HH:MM' for pages (the kit's clock is the reference)."""
    if unix is None:
        return ""
    return datetime.fromtimestamp(int(unix), tz=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M")


def init_app(app) -> None:
    @app.context_processor
    def inject():
        return {"kit": kit_state(), "radio": radio_status()}

    app.jinja_env.filters["when"] = format_time


# Form pages register how to show themselves again with what the visitor typed, so that
# a CSRF failure (expired session, cookie lost) never loses a resident's text either.
RERENDER: dict = {}


def rerenders(endpoint: str):
    def register(function):
        RERENDER[endpoint] = function
        return function
    return register
