"""Key/value settings of the kit (mode, exercise flag, identity), stored in `settings`."""
from __future__ import annotations

MODES = ("veille", "crise", "apres")

DEFAULTS = {"mode": "veille", "exercise": "0", "active_risk": ""}


def get(db, key: str, default: str | None = None) -> str | None:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    if row is not None:
        return row[0]
    return DEFAULTS.get(key, default) if default is None else default


def put(db, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, str(value)],
    )


def put_many(db, values: dict) -> None:
    for key, value in values.items():
        put(db, key, value)


def all_settings(db) -> dict:
    values = dict(DEFAULTS)
    values.update(dict(db.execute("SELECT key, value FROM settings").fetchall()))
    return values
