"""`kit territory`: the territory page on its own listener, read-only (GET only, no form, no
JavaScript, printable), for a crisis cell's screen beside the broker. The same page is on the
operators' listener at /admin/territoire."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, render_template

from kit.core import territory_view
from kit.core.kit import Kit
from kit.storage.projections import SITE_STATUS
from kit.web import connection, i18n
from kit.web.admin.view import age, site_status_labels
from kit.web.connection import current_kit, get_db

TEMPLATES = Path(__file__).parent / "templates"


def page():
    """The page, rendered from the current kit's store and its broker links."""
    labels = site_status_labels()
    return render_template("territory.html", statuses={state: labels[code] for state, code in SITE_STATUS.items()},
                           **territory_view.view(get_db(), current_kit().links))


def create_territory_app(kit: Kit) -> Flask:
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=None)
    app.config.update(kit.config)
    app.extensions["kit"] = kit
    connection.init_app(app)
    i18n.init_app(app)
    app.add_template_filter(age, "age")
    app.add_url_rule("/", "territory", page, methods=["GET"])
    return app
