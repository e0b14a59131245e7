"""Application factory: `create_app(config)` builds a kit on its database (flaskr style)."""
from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from kit.core import config as kit_config
from kit.storage import seed as content, db
from kit.web import i18n
from kit.core import identity
from kit.core.radio_port import NoRadio
from kit.web import api, board, errors, forms, healthz as health, http, pages, portal, safe
from kit.web.ratelimit import RateLimiter

TEMPLATES = Path(__file__).parent / "templates"

csrf = CSRFProtect()


def create_app(config: dict | None = None) -> Flask:
    """A kit app. config["LISTENER"] says whom it serves: "resident" (the Wi-Fi: public
    pages, captive portal) or "admin" (the operators' separate listener: the same pages
    plus the crisis cell's pages and API)."""
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=None)
    app.config.update(config if config is not None else kit_config.build())
    admin_side = app.config.setdefault("LISTENER", "resident") == "admin"
    if admin_side:
        app.config.update(SESSION_COOKIE_NAME="kit_admin", SESSION_COOKIE_SAMESITE="Strict")

    prepare_database(app.config["DATABASE"])
    configure_keys(app)
    # Held for the app's life: SQLite then keeps its WAL index files, so that opening a
    # connection needs no new disk space — the kit still reads when its disk is full.
    app.extensions["db_keeper"] = db.connect(app.config["DATABASE"])

    db.init_app(app)
    i18n.init_app(app)
    app.before_request(forms.find_undecodable_fields)  # before CSRFProtect parses the form
    csrf.init_app(app)
    app.extensions["ratelimit"] = RateLimiter(app.config["RATE_LIMITS"])
    app.extensions["radio"] = app.config.get("RADIO_STATE") or NoRadio()

    if not admin_side:
        portal.init_app(app)
    http.init_app(app)
    errors.init_app(app)
    blueprints = [pages.bp, board.bp, safe.bp, portal.bp, api.bp, health.bp]
    if admin_side:
        from kit.web import admin, api_operator

        app.extensions["login_limiter"] = RateLimiter({"ip": admin.LOGIN_LIMITS, "name": admin.LOGIN_LIMITS})
        blueprints += [*admin.blueprints(), api_operator.bp]
        csrf.exempt(api_operator.bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    csrf.exempt(api.bp)  # JSON only: browsers cannot send it cross-site without CORS
    if not admin_side and app.config.get("PAGE_CACHE", True):
        from kit.web.page_cache import PageCache

        app.extensions["page_cache"] = PageCache(app)
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


def configure_keys(app: Flask) -> None:
    """Load the kit's signing key (if it may sign) and record the keys it trusts.

    The kit trusts its own key. When the trusted set changes, every stored alert is
    verified again, so a key removed from the profile stops vouching for old alerts too.
    """
    from kit.storage import settings
    from kit.crypto import signing
    from kit.storage.projections import reverify_alerts

    key_path = app.config.get("SIGNING_KEY")
    key = signing.load_key(key_path) if key_path else None
    app.extensions["signing_key"] = key
    trusted = sorted({signing.public_key_text(key)} if key else set()
                     | {base64_key for base64_key in app.config.get("TRUST_KEYS", [])
                        if signing.parse_public_key(base64_key)})
    database = db.connect(app.config["DATABASE"])
    try:
        if settings.get(database, "trusted_keys", "[]") != json.dumps(trusted):
            settings.put(database, "trusted_keys", json.dumps(trusted))
            reverify_alerts(database.conn)
    finally:
        database.conn.close()
