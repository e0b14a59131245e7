"""Application factory: `create_app(config, kit)` builds a kit's web app (flaskr style)."""
from __future__ import annotations

import hmac
from pathlib import Path

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask_wtf.csrf import CSRFProtect

from kit.core import config as kit_config
from kit.core.kit import Kit
from kit.storage import strict_json
from kit.web import admin, api, api_operator, board, connection, errors, forms, healthz, http, i18n, pages, portal, safe
from kit.web.page_cache import PageCache
from kit.web.ratelimit import Backoff, RateLimiter

TEMPLATES = Path(__file__).parent / "templates"

csrf = CSRFProtect()


# What the web adds to the kit's settings (kit.core.config.build).
WEB_DEFAULTS = {
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": 6 * 3600,
    "WTF_CSRF_SSL_STRICT": False,   # plain HTTP on the hotspot
    "PAGE_CACHE": True,
}


def listener_key(master: bytes | str, listener: str) -> bytes:
    """A listener's own signing key from the kit's master secret: HMAC-SHA256 with a label
    per listener, HKDF-Expand's single block (RFC 5869 §2.3). The master is 32 random bytes,
    so HKDF-Extract adds nothing (RFC 5869 §3.3)."""
    master = master.encode() if isinstance(master, str) else master
    return hmac.new(master, b"kit-tous-risques/web-listener/" + listener.encode() + b"\x01", "sha256").digest()


class StrictJSON(DefaultJSONProvider):
    """Request bodies parsed with limits (depth, finite numbers, no lone surrogates): a bad
    body is a ValueError, so request.get_json(silent=True) gives None and the API a 400."""

    def loads(self, s, **kwargs):
        return strict_json.loads(s)


def create_app(config: dict | None = None, kit: Kit | None = None) -> Flask:
    """A kit's web app. config["LISTENER"] says whom it serves: "resident" (the Wi-Fi:
    public pages, captive portal) or "admin" (the operators' separate listener: the same
    pages plus the crisis cell's pages and API). Both listeners of a process receive the
    same `kit`; without one, a Kit is opened on `config`."""
    if kit is None:
        kit = Kit(config if config is not None else kit_config.build())
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=None)
    app.json = StrictJSON(app)
    app.config.update(WEB_DEFAULTS)
    app.config.update(kit.config)
    app.config.update(config or {})
    admin_side = app.config.setdefault("LISTENER", "resident") == "admin"
    # Each listener signs its cookies and CSRF tokens with its own key and names its
    # cookie apart (issue 13): a resident's cookie or token is worth nothing on the
    # operators' listener, and the other way round.
    app.config["SECRET_KEY"] = listener_key(app.config["SECRET_KEY"], app.config["LISTENER"])
    app.config["SESSION_COOKIE_NAME"] = "kit_admin" if admin_side else "kit_resident"
    if admin_side:
        app.config.update(SESSION_COOKIE_SAMESITE="Strict")
    app.extensions["kit"] = kit

    connection.init_app(app)
    i18n.init_app(app)
    app.before_request(forms.find_undecodable_fields)  # before CSRFProtect parses the form
    app.jinja_env.globals.update(field_attrs=forms.field_attrs)
    csrf.init_app(app)
    app.extensions["ratelimit"] = RateLimiter(app.config["RATE_LIMITS"])

    if not admin_side:
        portal.init_app(app)
    http.init_app(app)
    errors.init_app(app)
    blueprints = [pages.bp, board.bp, safe.bp, api.bp, healthz.bp]
    if not admin_side:
        blueprints.append(portal.bp)  # the captive portal is the Wi-Fi's (/welcome/open was a 500 here)
    if admin_side:
        app.extensions["login_limiters"] = (Backoff(**admin.LOGIN_PAIR), Backoff(**admin.LOGIN_ADDRESS))
        blueprints += [*admin.blueprints(), api_operator.bp]
        csrf.exempt(api_operator.bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    csrf.exempt(api.bp)  # JSON only: browsers cannot send it cross-site without CORS
    if not admin_side and app.config["PAGE_CACHE"]:
        app.extensions["page_cache"] = PageCache(app)
    return app
