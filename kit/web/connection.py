"""The request's side of the database: the Kit's connection for this thread, bound to the
request, never left inside a transaction (flaskr's `get_db`, on the Kit's connections)."""
from __future__ import annotations

import sqlite_utils
from flask import current_app, g

from kit.core.kit import Kit


def current_kit() -> Kit:
    return current_app.extensions["kit"]


def get_db() -> sqlite_utils.Database:
    if "db" not in g:
        g.db = current_kit().db()
    return g.db


def close_db(_exc=None) -> None:
    """End of request: the connection stays open, but never inside a transaction."""
    db = g.pop("db", None)
    if db is not None and db.conn.in_transaction:
        db.conn.execute("ROLLBACK")


def init_app(app) -> None:
    app.teardown_appcontext(close_db)
