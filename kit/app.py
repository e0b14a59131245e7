"""Application factory: `create_app(config)` builds a kit on its database (flaskr style)."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from . import config as kit_config
from . import content, db, i18n, identity
from .radio_state import NoRadio
from .web import api, board, errors, forms, http, pages, portal, safe
from .web.ratelimit import RateLimiter

TEMPLATES = Path(__file__).parent / "templates"
if not TEMPLATES.exists():  # running from a source checkout: templates/ beside kit/
    TEMPLATES = Path(__file__).parent.parent / "templates"

csrf = CSRFProtect()


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=None)
    app.config.update(config if config is not None else kit_config.build())

    prepare_database(app.config["DATABASE"])

    db.init_app(app)
    i18n.init_app(app)
    app.before_request(forms.find_undecodable_fields)  # before CSRFProtect parses the form
    csrf.init_app(app)
    app.extensions["ratelimit"] = RateLimiter(app.config["RATE_LIMITS"])
    app.extensions["radio"] = app.config.get("RADIO_STATE") or NoRadio()

    portal.init_app(app)
    http.init_app(app)
    errors.init_app(app)
    for blueprint in (pages.bp, board.bp, safe.bp, portal.bp, api.bp):
        app.register_blueprint(blueprint)
    csrf.exempt(api.bp)  # JSON only: browsers cannot send it cross-site without CORS
    return app


def prepare_database(path: str) -> None:
    """Create or upgrade the schema, load the bundled content once, make the identity."""
    database = db.connect(path)
    try:
        db.migrate(database)
        identity.ensure(database)
        content.load_defaults(database)
    finally:
        database.conn.close()
