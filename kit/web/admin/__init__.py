"""The crisis cell's side: served only on the operators' listener, never on the Wi-Fi.

Residents' Wi-Fi is open and unencrypted, so no reusable secret may cross it: the kit
serves operator pages and the operator API on a separate listener (`kit serve
--admin-listen`, by default 127.0.0.1:8081 — the Pi's own screen, an SSH tunnel, or the
Ethernet port in the crisis cell), and the resident listener has no such routes at all.
"""
from __future__ import annotations

import base64
import functools
import importlib
import pkgutil

from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, session

from kit.core import auth
from kit.core.kit import Entry
from kit.web.common import client_ip
from kit.web.connection import current_kit, get_db
from kit.web.i18n import _
from kit.web.redirects import login_redirect, safe_target

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Login attempts (issue 13): per (account, address), 5 free tries then a doubling wait from
# 30 s up to 15 min; per address whatever the account, 20 then the same. No limit per
# account alone: that would let anyone on the network lock an operator out in a crisis.
# Generated passwords carry ~100 bits, so a distributed guesser gains nothing either way.
LOGIN_PAIR = {"free": 5, "base": 30, "cap": 900}
LOGIN_ADDRESS = {"free": 20, "base": 30, "cap": 900}


def current_user() -> dict | None:
    """The operator of this request: from the session (pages) or HTTP Basic (scripts)."""
    if "user" in g:
        return g.user
    g.user = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        g.user = _basic(header[6:])
    elif session.get("user"):
        name = session["user"]
        if auth.current_stamp(get_db(), name) == session.get("stamp"):
            role = get_db().execute("SELECT role FROM users WHERE name = ?", [name]).fetchone()[0]
            g.user = {"name": name, "role": role}
        else:
            session.clear()  # password changed or account disabled since
    return g.user


def _basic(encoded: str) -> dict | None:
    try:
        name, _sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    user, _wait = check_password(name, password)
    return user


def limiters():
    return current_app.extensions["login_limiters"]


def check_password(name: str, password: str) -> tuple[dict | None, int]:
    """(the account, 0) if right; (None, 0) if wrong; (None, seconds) while this address,
    or this address for this account, must wait. The attempt is counted before the slow
    password check, atomically, so concurrent tries cannot overrun the limit."""
    pairs, addresses = limiters()
    address = client_ip()
    pair = f"{auth.account_key(name) or '?'}@{address}"  # every invalid name shares one key
    wait = addresses.attempt(address)
    if wait:
        return None, wait
    wait = pairs.attempt(pair)
    if wait:
        addresses.succeeded(address, forgive_all=False)  # not a password check: not counted
        return None, wait
    user = auth.verify(get_db(), name, password)
    if user is not None:
        pairs.succeeded(pair)
        addresses.succeeded(address, forgive_all=False)
    return user, 0


def requires(role: str):
    """Pages redirect to the login form; the API answers 401 with a Basic challenge."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                if request.path.startswith("/api/"):
                    response = jsonify({"error": _("Authentication required.")})
                    response.status_code = 401
                    response.headers["WWW-Authenticate"] = 'Basic realm="kit", charset="UTF-8"'
                    return response
                return redirect(login_redirect(request.path), 303)
            if not auth.can(user["role"], role):
                if request.path.startswith("/api/"):
                    return jsonify({"error": _("Your role does not allow this.")}), 403
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorate


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    name = ""
    if request.method == "POST":
        name = request.form.get("name", "").strip().lower()
        user, wait = check_password(name, request.form.get("password", ""))
        if wait:
            error = _("Too many failed attempts. Wait a few minutes.")
            return render_template("admin/login.html", error=error, name=name), 429, {"Retry-After": str(wait)}
        if user is None:
            return render_template("admin/login.html", error=_("Wrong name or password."), name=name), 401
        session.clear()
        session["user"], session["stamp"] = user["name"], user["stamp"]
        current_kit().log(Entry(user["name"], "web", "login", verification="a_verifier"))
        return redirect(safe_target(request.args.get("next"), "/admin/", prefix="/admin/"), 303)
    return render_template("admin/login.html", error=error, name=name)


@bp.post("/logout")
def logout():
    user = current_user()
    if user is not None and session.get("user"):
        auth.end_sessions(get_db(), user["name"])  # server-side: a copied cookie dies too
    session.clear()
    return redirect("/admin/login", 303)


@bp.app_context_processor
def inject_user():
    return {"operator": g.get("user")}


def blueprints() -> list[Blueprint]:
    """This blueprint and every module of this package that defines a `bp`."""
    found = [bp]
    for module in pkgutil.iter_modules(__path__):
        imported = importlib.import_module(f"{__name__}.{module.name}")
        if isinstance(getattr(imported, "bp", None), Blueprint):
            found.append(imported.bp)
    return found
