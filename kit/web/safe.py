""""Je suis en sécurité": check in with a name and a short note, look someone up by name.

Lookup only: an exact (normalised) full name finds that person's check-ins; nothing
ever lists them. Check-ins carry only what the resident typed, never a location.
"""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request

from kit.mesh.records import Checkin
from kit.storage import queries as records
from kit.web import forms
from kit.web.board import too_many
from kit.web.common import publish, rate_limited, rerenders
from kit.web.connection import get_db
from kit.web.i18n import _

bp = Blueprint("safe", __name__)


def render_safe(checkin=None, lookup=None, errors=None, found=None, status=200):
    return render_template(
        "safe.html",
        checkin=checkin or {},
        lookup=lookup or {},
        errors=errors or [],
        found=found,
        done=request.args.get("ok") == "1",
        max_note=forms.MAX_NOTE,
    ), status


def record_checkin(values: dict):
    return publish(Checkin, name=values["name"], note=values["note"])


@bp.route("/securite", methods=["GET", "POST"])
def checkin():
    if request.method == "GET":
        return render_safe()
    values, errors = forms.validate_checkin(request.form)
    if errors:
        return render_safe(checkin=values, errors=errors, status=400)
    wait = rate_limited("post", values["name"])
    if wait:
        return render_safe(checkin=values, status=429, errors=[too_many(wait)])
    record_checkin(values)
    return redirect("/securite?ok=1#ok", 303)


@bp.post("/securite/chercher")
def lookup():
    """POST, not GET: the name someone looks for stays out of URLs and browser history."""
    values, errors = forms.validate_lookup(request.form)
    if errors:
        return render_safe(lookup=values, errors=errors, status=400)
    if rate_limited("lookup", values["name"]):
        return render_safe(lookup=values, status=429,
                           errors=[_("Too many searches from this phone. Please wait a minute.")])
    return render_safe(lookup=values, found=records.lookup_checkins(get_db(), values["name"]))


rerenders("safe.checkin")(lambda values, errors: render_safe(checkin=values, errors=errors, status=400)[0])
rerenders("safe.lookup")(lambda values, errors: render_safe(lookup=values, errors=errors, status=400)[0])
