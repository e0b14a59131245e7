"""The crisis cell's dashboard: every kit's health, every site, open needs and offers,
the latest field reports and active alerts, with their age. Prints on one A4 page."""
from __future__ import annotations

import time

from flask import Blueprint, render_template

from kit.core import kit_health as health
from kit.core import moderation, runs, volunteers
from kit.core.sites import shown as sites_shown
from kit.storage import queries as records
from kit.web.admin import requires
from kit.web.admin.view import age, needs_text, rows, site_status_labels, site_type_labels
from kit.web.common import kit_state, link_statuses, radio_status
from kit.web.connection import get_db

bp = Blueprint("admin_pages", __name__, url_prefix="/admin")
bp.add_app_template_filter(age, "age")

SHOWN = {"needs": 10, "reports": 8}  # what fits one A4 page beside the kits and sites


@bp.get("/")
@requires("volunteer")
def dashboard():
    db = get_db()
    state = kit_state()
    sites = sites_shown(db, exercise=state["exercise"])
    for site in sites:
        site["needs_text"] = needs_text(site["needs"])
    return render_template(
        "admin/dashboard.html",
        now=time.time(),
        this_kit=health.fields(radio_status(), state["mode"]),
        kits=health.latest(db),
        silent_after_min=health.SILENT_AFTER_S // 60,
        sites=sites,
        needs=rows("SELECT origin, seq, kind, text, name, created_at, exercise FROM messages "
                   "WHERE kind IN ('need', 'offer') AND hidden = 0 ORDER BY created_at DESC LIMIT ?",
                   [SHOWN["needs"]]),
        waiting=records.pending_posts(db, ("need", "offer")),
        reports=rows("SELECT origin, seq, location, incident, severity, text, created_at, exercise "
                     "FROM field_reports WHERE hidden = 0 ORDER BY created_at DESC LIMIT ?", [SHOWN["reports"]]),
        alerts=records.active_alerts(db),
        pending=len(moderation.pending(db)),
        commands=len(volunteers.pending(db)),
        unknown_key_frames=radio_status().get("unknown_key_frames", 0),
        channel_util=radio_status().get("channel_util"),
        deferred=radio_status().get("deferred", 0),
        loop_errors=radio_status().get("loop_errors", 0),
        radio_error=radio_status().get("error"),
        radio_problem=radio_status().get("radio_problem"),
        links=link_statuses(),
        conflicts=rows("SELECT origin, seq, held, heard, from_node, heard_at FROM record_conflicts "
                       "ORDER BY id DESC LIMIT 10"),
        runs=runs.read(db),
        to_check=db.execute("SELECT count(*) FROM journal WHERE verification = 'a_verifier'").fetchone()[0],
        statuses=site_status_labels(),
        types=site_type_labels(),
    )
