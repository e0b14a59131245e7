"""Sites in the browser: their description (this kit's copy) and their status, which goes
to every kit as a SiteStatus record (like `#site` from a volunteer's handheld)."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, redirect, render_template, request

from kit.mesh import records as r
from kit.storage.db import transaction
from kit.storage.projections import SITE_STATUS
from kit.web import forms
from kit.web.admin import requires
from kit.web.admin.view import (
    form,
    need_labels,
    note,
    rows,
    site_status_labels,
    site_type_labels,
    who,
    whole,
)
from kit.web.connection import current_kit, get_db
from kit.web.i18n import _

bp = Blueprint("admin_sites", __name__, url_prefix="/admin")

AMENITIES = ("toilettes", "chauffage", "accessible", "groupe-electrogene", "eau-potable", "cuisine",
             "douches", "couchage")
STATE_OF = {code: state for state, code in SITE_STATUS.items()}
TEXT_FIELDS = ("name", "address", "note_fr", "note_en")


def amenity_labels() -> dict[str, str]:  # the residents' page's words
    return {"toilettes": _("toilets"), "chauffage": _("heating"), "accessible": _("step-free access"),
            "groupe-electrogene": _("generator"), "eau-potable": _("drinking water"), "cuisine": _("kitchen"),
            "douches": _("showers"), "couchage": _("beds")}


def site_or_404(slug: str) -> dict:
    found = rows("SELECT * FROM sites WHERE slug = ?", [slug])
    if not found:
        abort(404)
    return found[0]


# --- description ------------------------------------------------------------------------


def render_edit(site: dict, values: dict, errors: list[str], status: int = 200):
    return render_template("admin/site_edit.html", site=site, values=values, errors=errors,
                           types=site_type_labels(), amenities=amenity_labels(),
                           saved=request.args.get("ok") == "1"), status


@bp.get("/contenu/lieux/<slug>")
@requires("operator")
def edit(slug: str):
    site = site_or_404(slug)
    values = {k: str(v) for k, v in site.items()} | {"amenities": site["amenities"].split()}
    return render_edit(site, values, [])


@bp.post("/contenu/lieux/<slug>")
@requires("operator")
def save(slug: str):
    site = site_or_404(slug)
    values = form(*TEXT_FIELDS, "type", "lat", "lon", "visibility")
    values["amenities"] = [a for a in request.form.getlist("amenities") if a in AMENITIES]
    errors = [e for e in (
        forms.check(values["name"], _("Name"), max_len=120, required=True, field="name"),
        forms.check(values["address"], _("Address"), max_len=200, required=True, field="address"),
        forms.check(values["note_fr"], _("Note"), max_len=500, required=False, field="note_fr"),
        forms.check(values["note_en"], _("Note in English"), max_len=500, required=False, field="note_en"),
    ) if e]
    if values["type"] not in site_type_labels():
        errors.append(_("Choose a kind of site."))
    if values["visibility"] not in ("public", "cellule"):
        errors.append(_("Choose who may see this site."))
    coordinates = {}
    for key, label, limit in (("lat", _("Latitude"), 90), ("lon", _("Longitude"), 180)):
        try:
            coordinates[key] = float(values[key].replace(",", "."))
            if not -limit <= coordinates[key] <= limit:
                raise ValueError
        except ValueError:
            errors.append(_("%(field)s: a number in decimal degrees (e.g. 47.7752).", field=label))
    if errors:
        return render_edit(site, values, errors, 400)
    changes = {k: values[k] for k in (*TEXT_FIELDS, "type", "visibility")} | coordinates | {
        "amenities": " ".join(values["amenities"]),
        "updated_at": datetime.now(UTC).astimezone().isoformat(timespec="seconds")}
    with transaction(get_db()):
        get_db()["sites"].update(slug, changes)
        note("content.site.edit", slug, values["name"])
    return redirect(f"/admin/contenu/lieux/{slug}?ok=1", 303)


# --- status, for every kit ---------------------------------------------------------------


def render_status(site: dict, values: dict, errors: list[str], status: int = 200):
    return render_template("admin/site_status.html", site=site, values=values, errors=errors,
                           statuses=site_status_labels(), needs=need_labels(),
                           saved=request.args.get("ok") == "1"), status


@bp.get("/lieux/<slug>/etat")
@requires("volunteer")
def status_page(slug: str):
    site = site_or_404(slug)
    values = {"status": site["status"], "present": str(site["present"]), "capacity": str(site["capacity"]),
              "needs": [int(flag) for flag in need_labels() if site["needs"] & flag]}
    return render_status(site, values, [])


@bp.post("/lieux/<slug>/etat")
@requires("volunteer")
def change_status(slug: str):
    site = site_or_404(slug)
    values = form("status", "present", "capacity")
    values["needs"] = [int(v) for v in request.form.getlist("needs") if v.isdigit()]
    errors = []
    if values["status"] not in STATE_OF:
        errors.append(_("Choose a status."))
    present = whole(values["present"], _("People present"), errors)
    capacity = whole(values["capacity"], _("Places"), errors)
    needs = r.Needs.NONE
    for flag in values["needs"]:
        if flag not in {int(f) for f in need_labels()}:
            errors.append(_("Unknown need."))
            break
        needs |= r.Needs(flag)
    if errors:
        return render_status(site, values, errors, 400)
    current_kit().site_status((site["position"], site["name"]), slug, STATE_OF[values["status"]], who(), "web",
                              present=present, capacity=capacity, needs=needs)
    return redirect(f"/admin/lieux/{slug}/etat?ok=1", 303)
