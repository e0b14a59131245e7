"""/admin/donnees: the crisis cell's data in and out (operators' listener only).

Operators: CSV/HXL of contacts and sites, vCard, CAP import/export, bundles, timeline.
Admins only: backup, restore, purge, retention, and the register of vulnerable people
(and a bundle that carries it). Every action is written in the main courante; entries
about the register never name the person (the main courante is exported and printed).
"""
from __future__ import annotations

import json
import time

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request

from kit.core import auth
from kit.crypto import own_key
from kit.crypto.signing import KeyError_, parse_public_key
from kit.exchange import backup, bundle, cap, cards, purge, tabular, timeline, vulnerable
from kit.storage import queries as records
from kit.storage import settings
from kit.web.admin import current_user, requires
from kit.web.admin.view import note
from kit.web.common import kit_state
from kit.web.connection import current_kit, get_db
from kit.web.i18n import _, tr

bp = Blueprint("data", __name__, url_prefix="/admin/donnees")

MAX_UPLOAD = 64 * 1024 * 1024  # bundles and backups are bigger than residents' forms


@bp.url_value_preprocessor
def allow_uploads(_endpoint, _values):
    """Runs before the app's before_request hooks parse the body (CSRF check)."""
    request.max_content_length = MAX_UPLOAD


@bp.after_request
def never_cache(response):
    response.headers["Cache-Control"] = "no-store"  # exports and the register: not in caches
    return response


def who() -> str:
    return current_user()["name"]


def is_admin() -> bool:
    user = current_user()
    return bool(user) and auth.can(user["role"], "admin")


def log(action: str, subject: str = "", detail: str = "") -> None:
    note(action, subject, detail)


def download(body, filename: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def upload() -> bytes | None:
    file = request.files.get("file")
    if file is None or not file.filename:
        return None
    return file.read()


def stamp() -> str:
    return time.strftime("%Y%m%d-%H%M")


def render_index(errors=None, status=200):
    alerts = get_db().execute("SELECT origin, seq, event, headline, sent_at, exercise, msg_type FROM alerts "
                              "ORDER BY sent_at DESC LIMIT 50").fetchall()
    return render_template("admin/data.html", errors=errors or [], admin=is_admin(),
                           alerts=[{"id": f"{o:08x}-{s}", "event": e, "headline": h, "sent_at": t,
                                    "exercise": bool(x), "msg_type": m} for o, s, e, h, t, x, m in alerts],
                           retention=purge.retention_days(get_db()),
                           has_key=current_kit().signing_key is not None,
                           backup_key=own_key.public_text(current_app.config["DATA_DIR"]),
                           from_kit=request.form.get("from_kit", ""),
                           personal_for=request.form.get("personal_for", "")), status


@bp.get("")
@requires("operator")
def index():
    return render_index()


# --- CSV / HXL and vCard --------------------------------------------------------------

@bp.get("/<any(contacts, sites):table>.csv")
@requires("operator")
def export_table(table: str):
    hxl = request.args.get("hxl") == "1"
    log(f"{table}.export", f"{table}.csv", "HXL" if hxl else "")
    return download(tabular.export_csv(get_db(), table, hxl=hxl), f"{table}-{stamp()}.csv",
                    "text/csv; charset=utf-8")


@bp.post("/<any(contacts, sites):table>")
@requires("operator")
def import_table(table: str):
    data = upload()
    if data is None:
        return render_index([_("Choose a file first.")], 400)
    try:
        counts = tabular.import_csv(get_db(), table, data)
    except tabular.ImportError_ as exc:
        return render_index([tr(e.message) for e in exc.errors] + [_("Nothing was imported.")], 400)
    log(f"{table}.import", request.files["file"].filename, json.dumps(counts))
    flash(_("%(added)d added, %(updated)d updated.", **counts))
    return redirect("/admin/donnees", 303)


@bp.get("/contacts.vcf")
@requires("operator")
def export_vcard():
    log("contacts.vcard", "contacts.vcf")
    return download(cards.contacts_vcf(get_db(), kit_state().get("kit_id", "kit")), "annuaire.vcf",
                    "text/vcard; charset=utf-8")


# --- CAP --------------------------------------------------------------------------------

@bp.get("/cap/<uid>.xml")
@requires("operator")
def export_cap(uid: str):
    try:
        origin, seq = records.parse_uid(uid)
        xml = cap.export_alert(get_db(), origin, seq)
    except (ValueError, cap.CapError):
        abort(404)
    log("cap.export", uid)
    return download(xml, f"cap-{uid}.xml", "application/cap+xml")


@bp.post("/cap")
@requires("operator")
def import_cap():
    data = upload()
    if data is None:
        return render_index([_("Choose a file first.")], 400)
    try:
        alert = cap.import_alert(current_kit(), data, by=who())
    except cap.CapError as exc:
        return render_index([_("CAP import: %(error)s", error=exc)], 400)
    uid = records.format_uid(alert.uid)
    log("cap.import", uid, f"{alert.event}: {alert.headline}")
    flash(_("Alert imported as %(id)s and signed by this kit.", id=uid))
    return redirect("/admin/donnees", 303)


# --- bundles ----------------------------------------------------------------------------

@bp.post("/paquet")
@requires("operator")
def export_bundle():
    with_vulnerable = request.form.get("with_vulnerable") == "1"
    if with_vulnerable and not is_admin():
        abort(403)
    try:
        recipients = [parse_public_key(k) for k in request.form.get("personal_for", "").split()]
    except KeyError_:
        return render_index([_("The kit key is the text printed by kit backup (base64, 44 characters).")], 400)
    try:
        data = bundle.payload(get_db(), with_vulnerable=with_vulnerable, recipients=recipients,
                              data_dir=current_app.config["DATA_DIR"])
        blob = bundle.seal(data, current_kit().signing_key)
    except (bundle.BundleError, vulnerable.RegisterError) as exc:
        return render_index([tr(exc)], 400)
    log("bundle.export", "", f"{len(data['records'])} records" + (", register" if with_vulnerable else "")
        + (f", personal data sealed for {len(recipients)} kits" if recipients else ""))
    return download(blob, f"paquet-{kit_state().get('kit_id', 'kit')}-{stamp()}.kit", "application/octet-stream")


@bp.post("/paquet/import")
@requires("operator")
def import_bundle():
    data = upload()
    if data is None:
        return render_index([_("Choose a file first.")], 400)
    with_vulnerable = request.form.get("with_vulnerable") == "1" and is_admin()
    try:
        summary = bundle.import_file(get_db(), data, data_dir=current_app.config["DATA_DIR"],
                                     with_vulnerable=with_vulnerable)
    except (bundle.BundleError, vulnerable.RegisterError) as exc:
        return render_index([tr(exc)], 400)
    log("bundle.import", request.files["file"].filename, json.dumps(summary))
    flash(_("Bundle imported: %(new)d new records, %(known)d already here; content %(content)s.",
            new=summary["records"], known=summary["records_known"],
            content=_("updated") if summary["content"] else _("unchanged")))
    if summary["vulnerable_skipped"]:
        flash(_("The bundle holds the register of vulnerable people: it was not merged (an admin must "
                "tick the box)."))
    return redirect("/admin/donnees", 303)


# --- timeline ---------------------------------------------------------------------------

@bp.get("/chronologie.csv")
@requires("operator")
def timeline_csv():
    log("timeline.export", "chronologie.csv")
    return download(timeline.to_csv(timeline.events(get_db())), f"chronologie-{stamp()}.csv",
                    "text/csv; charset=utf-8")


@bp.get("/chronologie")
@requires("operator")
def timeline_page():
    rows = timeline.events(get_db())
    states = {"a_verifier": _("to check"), "en_cours": _("being checked"), "verifiee": _("checked"),
              "hidden": _("hidden"), "verified": _("signature verified"), "unverified": _("NOT verified"),
              "superseded": _("replaced")}
    return render_template("admin/timeline.html", rows=rows, any_exercise=any(r["exercise"] for r in rows),
                           states=states, printed_at=time.strftime("%Y-%m-%d %H:%M"))


# --- admin: backup, restore, purge, retention -------------------------------------------

@bp.post("/sauvegarde")
@requires("admin")
def make_backup():
    with_vulnerable = request.form.get("with_vulnerable") == "1"
    data = backup.build(get_db(), with_vulnerable=with_vulnerable, data_dir=current_app.config["DATA_DIR"])
    log("backup", "", "register included" if with_vulnerable else "")
    return download(backup.seal(data, own_key.load(current_app.config["DATA_DIR"])),
                    f"sauvegarde-{kit_state().get('kit_id', 'kit')}-{stamp()}.json", "application/json")


@bp.post("/restauration")
@requires("admin")
def restore_backup():
    data = upload()
    if data is None:
        return render_index([_("Choose a file first.")], 400)
    from_kit = request.form.get("from_kit", "").strip()
    try:
        signer = parse_public_key(from_kit) if from_kit else None
    except KeyError_:
        return render_index([_("The kit key is the text printed by kit backup (base64, 44 characters).")], 400)
    try:
        counts = backup.restore(get_db(), backup.read(data, from_kit=signer), data_dir=current_app.config["DATA_DIR"])
    except (backup.BackupError, vulnerable.RegisterError) as exc:
        return render_index([tr(exc)], 400)
    log("restore", request.files["file"].filename, json.dumps(counts))
    flash(_("Backup restored. Accounts have no password yet: set them with kit user passwd."))
    return redirect("/admin/donnees", 303)


@bp.post("/purge")
@requires("admin")
def run_purge():
    days = request.form.get("older_than", "").strip()
    if days and not days.isdigit():
        return render_index([_("The age is a number of days.")], 400)
    counts = purge.purge(get_db(), older_than_days=int(days) if days else None,
                         exercise=request.form.get("exercise") == "1")
    log("purge", "", json.dumps({k: v for k, v in counts.items() if k != "cutoff"}))
    flash(_("Purged: %(records)d records, %(pending)d pending posts, %(journal)d main courante details.",
            records=counts["records"] + counts["corrections"], pending=counts["pending_posts"],
            journal=counts["journal"]))
    return redirect("/admin/donnees", 303)


@bp.post("/conservation")
@requires("admin")
def set_retention():
    days = request.form.get("retention_days", "").strip()
    if not days.isdigit() or not 1 <= int(days) <= 3650:
        return render_index([_("The retention is a number of days between 1 and 3650.")], 400)
    settings.put(get_db(), "retention_days", days)
    log("settings.retention", "retention_days", days)
    flash(_("Retention set to %(days)s days.", days=days))
    return redirect("/admin/donnees", 303)


# --- admin: the register of vulnerable people ---------------------------------------------

def category_labels() -> dict:
    return {"age65": _("65 or older"), "age60": _("60 or older, unfit for work"), "handicap": _("Disabled adult"),
            "apa_pch": _("APA or PCH beneficiary (passed by the département)"), "autre": _("Other")}


def consent_labels() -> dict:
    return {"demande": _("At their own request"), "tiers": _("At a third party's request"),
            "departement": _("Passed by the département")}


def result_labels() -> dict:
    return {"": _("Not contacted yet"), "ok": _("OK"), "aide": _("Needs help"),
            "injoignable": _("Unreachable: visit")}


def register() -> vulnerable.Register:
    return vulnerable.Register(get_db(), current_app.config["DATA_DIR"])


def render_person(values: dict, errors: dict, entry_id: str | None = None, status: int = 200):
    return render_template("admin/vulnerable_form.html", values=values, errors=errors, entry_id=entry_id,
                           categories=category_labels(), consents=consent_labels(), results=result_labels()), status


@bp.get("/registre")
@requires("admin")
def register_list():
    try:
        entries = register().entries()
    except vulnerable.RegisterError as exc:
        return render_template("admin/vulnerable.html", entries=[], error=tr(exc),
                               categories=category_labels(), results=result_labels()), 500
    log("vulnerable.view", "", f"{len(entries)}")
    return render_template("admin/vulnerable.html", entries=entries, error=None,
                           categories=category_labels(), results=result_labels())


@bp.route("/registre/nouveau", methods=["GET", "POST"])
@requires("admin")
def register_add():
    if request.method == "GET":
        return render_person({"category": "age65", "consent": "demande"}, {})
    values, errors = vulnerable.validate(request.form)
    if errors:
        return render_person(values, errors, status=400)
    entry_id = register().add(values, who())
    log("vulnerable.add", entry_id)
    flash(_("Added to the register."))
    return redirect("/admin/donnees/registre", 303)


@bp.route("/registre/<entry_id>", methods=["GET", "POST"])
@requires("admin")
def register_edit(entry_id: str):
    entry = register().get(entry_id)
    if entry is None:
        abort(404)
    if request.method == "GET":
        return render_person(entry, {}, entry_id)
    values, errors = vulnerable.validate(request.form)
    if errors:
        return render_person(values, errors, entry_id, status=400)
    register().update(entry_id, values, who())
    log("vulnerable.update", entry_id)
    flash(_("Register entry saved."))
    return redirect("/admin/donnees/registre", 303)


@bp.post("/registre/<entry_id>/retirer")
@requires("admin")
def register_remove(entry_id: str):
    try:
        register().remove(entry_id, who())
    except vulnerable.RegisterError:
        abort(404)
    log("vulnerable.remove", entry_id)
    flash(_("Removed from the register."))
    return redirect("/admin/donnees/registre", 303)
