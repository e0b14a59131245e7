"""Content in the browser: the index, and the checklists of each risk (this kit's copy:
edits show at once on the residents' risk pages and printouts)."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request

from kit.storage.db import transaction
from kit.storage.seed import AUDIENCES, PHASES
from kit.web import forms
from kit.web.admin import requires
from kit.web.admin.view import form, note, rows, whole
from kit.web.connection import get_db
from kit.web.i18n import _

bp = Blueprint("admin_content", __name__, url_prefix="/admin/contenu")

ITEM_FIELDS = ("phase", "audience", "position", "text_fr", "text_falc", "text_en", "source")
MAX_ITEM = 500


@bp.get("")
@requires("operator")
def index():
    return render_template(
        "admin/content.html",
        risks=rows("SELECT slug, kind, name_fr FROM risks ORDER BY position"),
        contacts=rows("SELECT slug, grp, name_fr, phone, visibility, last_verified FROM contacts ORDER BY position"),
        sites=rows("SELECT slug, name, type, status, visibility, updated_at FROM sites ORDER BY position"),
    )


def risk_or_404(slug: str) -> dict:
    found = rows("SELECT slug, name_fr FROM risks WHERE slug = ?", [slug])
    if not found:
        abort(404)
    return found[0]


def render(slug: str, typed: dict | None = None, errors: list[str] | None = None, status: int = 200):
    return render_template(
        "admin/checklist_edit.html", risk=risk_or_404(slug), errors=errors or [], typed=typed or {},
        items=rows("SELECT * FROM checklist_items WHERE risk = ? ORDER BY audience, "
                   "CASE phase WHEN 'avant' THEN 0 WHEN 'pendant' THEN 1 ELSE 2 END, position", [slug]),
        phases=PHASES, audiences=AUDIENCES, max_item=MAX_ITEM, saved=request.args.get("ok", ""),
    ), status


def validate(values: dict) -> tuple[dict, list[str]]:
    errors = [e for e in (
        forms.check(values["text_fr"], _("Text in French"), max_len=MAX_ITEM, required=True, field="text_fr"),
        forms.check(values["text_falc"], _("Easy-to-read text"), max_len=MAX_ITEM, required=False, field="text_falc"),
        forms.check(values["text_en"], _("Text in English"), max_len=MAX_ITEM, required=False, field="text_en"),
        forms.check(values["source"], _("Source"), max_len=200, required=True, field="source"),
    ) if e]
    if values["phase"] not in PHASES:
        errors.append(_("Choose a phase: before, during or after."))
    if values["audience"] not in AUDIENCES:
        errors.append(_("Choose for whom: residents, volunteers or the crisis cell."))
    position = whole(values["position"], _("Order"), errors, high=10_000)
    item = {k: values[k] for k in ITEM_FIELDS} | {"position": position or 0}
    item["text_falc"] = item["text_falc"] or item["text_fr"]  # as when content is loaded
    item["text_en"] = item["text_en"] or item["text_fr"]
    return item, errors


@bp.get("/consignes/<slug>")
@requires("operator")
def checklist(slug: str):
    return render(slug)


@bp.post("/consignes/<slug>/nouveau")
@requires("operator")
def add_item(slug: str):
    risk_or_404(slug)
    values = form(*ITEM_FIELDS)
    item, errors = validate(values)
    if errors:
        return render(slug, {"new": values}, errors, 400)
    with transaction(get_db()):
        item_id = get_db()["checklist_items"].insert(item | {"risk": slug}).last_pk
        log("content.checklist.add", slug, item)
    return redirect(f"/admin/contenu/consignes/{slug}?ok={item_id}#i{item_id}", 303)


@bp.post("/consignes/<slug>/<int(max=2147483647):item_id>")
@requires("operator")
def save_item(slug: str, item_id: int):
    risk_or_404(slug)
    if not get_db().execute("SELECT 1 FROM checklist_items WHERE id = ? AND risk = ?", [item_id, slug]).fetchone():
        abort(404)
    if request.form.get("delete") == "1":
        with transaction(get_db()):
            get_db().execute("DELETE FROM checklist_items WHERE id = ?", [item_id])
            log("content.checklist.delete", slug, {"id": item_id})
        return redirect(f"/admin/contenu/consignes/{slug}?ok=deleted", 303)
    values = form(*ITEM_FIELDS)
    item, errors = validate(values)
    if errors:
        return render(slug, {item_id: values}, errors, 400)
    with transaction(get_db()):
        get_db()["checklist_items"].update(item_id, item)
        log("content.checklist.edit", slug, item | {"id": item_id})
    return redirect(f"/admin/contenu/consignes/{slug}?ok={item_id}#i{item_id}", 303)


def log(action: str, slug: str, item: dict) -> None:
    detail = f"#{item['id']} " if "id" in item else ""
    detail += " · ".join(str(item[k]) for k in ("audience", "phase", "text_fr") if k in item)
    note(action, slug, detail)
