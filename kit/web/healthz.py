"""`/healthz`: the kit answers and its database answers (systemd's watchdog asks it on loopback)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from kit.web.connection import current_kit, get_db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        get_db().execute("SELECT 1").fetchone()
    except Exception as exc:  # any database failure makes the kit unhealthy
        response = jsonify(ok=False, db=str(exc))
        response.status_code = 503
    else:
        radio = current_kit().radio.status()
        response = jsonify(ok=True, db="ok", radio=radio.get("state"))
    response.headers["Cache-Control"] = "no-store"
    return response
