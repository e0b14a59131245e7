"""Contacts in the browser: the annuaire opérationnel kept current (R731-7), with the
date each number was last checked."""
from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, abort, redirect, render_template, request

from kit.storage.db import transaction
from kit.storage.names import name_key
from kit.web import forms
from kit.web.admin import requires
from kit.web.admin.view import form, note, rows, whole
from kit.web.connection import get_db
from kit.web.i18n import _

bp = Blueprint("admin_contacts", __name__, url_prefix="/admin/contenu/contacts")

GROUPS = ("national", "commune", "cellule")
VISIBILITIES = ("public", "cellule", "confidentiel")
TEXTS = ("name_fr", "name_en", "role_fr", "role_falc", "role_en", "organisation", "note_fr", "note_en")
PHONE = re.compile(r"^\+?[0-9][0-9 .()-]{1,24}$")
FIELDS = (*TEXTS, "grp", "position", "phone", "phone_secondary", "sms_only", "deputy", "visibility",
          "last_verified", "checked_today")


def text_fields() -> dict[str, tuple[str, int, bool]]:
    """field → (label, limit, required)"""
    return {
        "name_fr": (_("Name"), 120, True), "name_en": (_("Name in English"), 120, False),
        "role_fr": (_("Role"), 200, True), "role_falc": (_("Role, easy to read"), 200, False),
        "role_en": (_("Role in English"), 200, False), "organisation": (_("Organisation"), 120, False),
        "note_fr": (_("Note"), 300, False), "note_en": (_("Note in English"), 300, False),
    }


def contact_or_404(slug: str) -> dict:
    found = rows("SELECT * FROM contacts WHERE slug = ?", [slug])
    if not found:
        abort(404)
    return found[0]


def render(values: dict, errors: list[str], slug: str | None, status: int = 200):
    return render_template(
        "admin/contact_edit.html", values=values, errors=errors, slug=slug, groups=GROUPS,
        visibilities=VISIBILITIES, texts=text_fields(), saved=request.args.get("ok") == "1",
        others=rows("SELECT slug, name_fr FROM contacts WHERE slug != ? ORDER BY position", [slug or ""]),
    ), status


def validate(values: dict, slug: str | None) -> tuple[dict, list[str]]:
    errors = [e for e in (forms.check(values[f], label, max_len=limit, required=required, field=f)
                          for f, (label, limit, required) in text_fields().items()) if e]
    for field, label, required in (("phone", _("Phone"), True), ("phone_secondary", _("Second phone"), False)):
        if (values[field] or required) and not PHONE.match(values[field]):
            errors.append(_("%(field)s: digits, spaces and + only (e.g. 02 38 00 00 00).", field=label))
    if values["grp"] not in GROUPS:
        errors.append(_("Choose a group."))
    if values["visibility"] not in VISIBILITIES:
        errors.append(_("Choose who may see this contact."))
    if values["deputy"] and (values["deputy"] == slug or not get_db().execute(
            "SELECT 1 FROM contacts WHERE slug = ?", [values["deputy"]]).fetchone()):
        errors.append(_("Deputy: choose another contact from the list."))
    verified = date.today().isoformat() if values["checked_today"] == "1" else values["last_verified"]
    try:
        date.fromisoformat(verified)
    except ValueError:
        errors.append(_("Checked on: a date like 2026-11-22, please."))
    contact = {f: values[f] for f in (*TEXTS, "grp", "phone", "phone_secondary", "visibility")} | {
        "position": whole(values["position"], _("Order"), errors, high=10_000) or 0,
        "sms_only": int(values["sms_only"] == "1"), "deputy": values["deputy"] or None,
        "last_verified": verified, "name_en": values["name_en"] or values["name_fr"],
        "role_falc": values["role_falc"] or values["role_fr"], "role_en": values["role_en"] or values["role_fr"],
    }
    return contact, errors


@bp.get("/<slug>")
@requires("operator")
def edit(slug: str):
    contact = contact_or_404(slug)
    return render({k: "" if v is None else str(v) for k, v in contact.items()}, [], slug)


@bp.post("/<slug>")
@requires("operator")
def save(slug: str):
    contact_or_404(slug)
    values = form(*FIELDS)
    contact, errors = validate(values, slug)
    if errors:
        return render(values, errors, slug, 400)
    with transaction(get_db()):
        get_db()["contacts"].update(slug, contact)
        log("content.contact.edit", slug, contact)
    return redirect(f"/admin/contenu/contacts/{slug}?ok=1", 303)


@bp.get("/nouveau")
@requires("operator")
def new():
    return render({"grp": "commune", "visibility": "cellule", "position": "100", "last_verified": "",
                   "checked_today": "1"}, [], None)


@bp.post("/nouveau")
@requires("operator")
def create():
    values = form(*FIELDS)
    contact, errors = validate(values, None)
    slug = name_key(values["name_fr"]).replace(" ", "-")[:60]
    if not errors and (not slug or get_db().execute("SELECT 1 FROM contacts WHERE slug = ?", [slug]).fetchone()):
        errors.append(_("A contact with this name already exists: edit it instead."))
    if errors:
        return render(values, errors, None, 400)
    with transaction(get_db()):
        get_db()["contacts"].insert(contact | {"slug": slug})
        log("content.contact.add", slug, contact)
    return redirect(f"/admin/contenu/contacts/{slug}?ok=1", 303)


@bp.post("/<slug>/supprimer")
@requires("operator")
def delete(slug: str):
    contact = contact_or_404(slug)
    with transaction(get_db()):
        get_db().execute("UPDATE contacts SET deputy = NULL WHERE deputy = ?", [slug])
        get_db().execute("DELETE FROM contacts WHERE slug = ?", [slug])
        log("content.contact.delete", slug, contact)
    return redirect("/admin/contenu", 303)


def log(action: str, slug: str, contact: dict) -> None:
    note(action, slug, f"{contact['name_fr']} · {contact['phone']}")
