"""Resident pages: home, risks and their checklists, contacts, sites, language switch."""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort, redirect, render_template, request

from kit.core.sites import shown as sites_shown
from kit.exchange import vcard
from kit.storage import queries as records
from kit.storage.seed import AUDIENCES, PHASES
from kit.web import i18n
from kit.web.common import kit_state
from kit.web.connection import get_db
from kit.web.i18n import _
from kit.web.qr import KIT_URL, qr_svg
from kit.web.redirects import safe_target

bp = Blueprint("pages", __name__)

# Which phase the home page puts first, by mode.
PHASE_FOR_MODE = {"veille": "avant", "crise": "pendant", "apres": "apres"}
PUBLIC_SITE_TYPES = ("hebergement", "accueil", "rassemblement", "eau", "soins")
# The national emergency numbers shown as big buttons (templates/_sos.html); 114 is by text.
SOS = (("tel", "112"), ("tel", "15"), ("tel", "17"), ("tel", "18"), ("sms", "114"))
bp.record_once(lambda state: state.app.jinja_env.globals.update(SOS=SOS))


def rows(sql: str, params=()) -> list[dict]:
    cursor = get_db().execute(sql, params)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def all_risks() -> list[dict]:
    return rows("SELECT * FROM risks ORDER BY position")


def checklist(slug: str, audience: str, phase: str | None = None) -> list[dict]:
    sql = "SELECT * FROM checklist_items WHERE risk = ? AND audience = ?"
    params = [slug, audience]
    if phase:
        sql += " AND phase = ?"
        params.append(phase)
    return rows(sql + " ORDER BY position", params)


@bp.get("/")
def home():
    state = kit_state()
    phase = PHASE_FOR_MODE.get(state["mode"], "avant")
    risks = all_risks()
    active = next((r for r in risks if r["slug"] == state.get("active_risk")), None)
    pinned = checklist(active["slug"], "habitant", phase) if active else []
    guides = [r for r in risks if r["kind"] == "guide"]
    return render_template(
        "home.html",
        alerts=records.active_alerts(get_db(), verified_only=True),
        active_risk=active,
        pinned=pinned,
        phase=phase,
        risks=[r for r in risks if r["kind"] == "risk"],
        guides=guides,
    )


@bp.get("/risques")
def risks():
    return render_template("risks.html", risks=all_risks())


@bp.get("/risques/<slug>")
def risk(slug: str):
    found = [r for r in all_risks() if r["slug"] == slug]
    if not found:
        abort(404)
    audience = request.args.get("pour", "habitant")
    if audience not in AUDIENCES:
        audience = "habitant"
    items = checklist(slug, audience)
    current = PHASE_FOR_MODE.get(kit_state()["mode"], "avant")
    # In a crisis (or after it) the phase that matters now comes first, on the first screen;
    # the others stay one tap away through the jump links (issue 14).
    order = PHASES if kit_state()["mode"] == "veille" else (current, *(p for p in PHASES if p != current))
    by_phase = {phase: [i for i in items if i["phase"] == phase] for phase in order}
    return render_template(
        "risk.html", risk=found[0], by_phase=by_phase, audience=audience, current_phase=current,
        page_qr=qr_svg(f"{KIT_URL}risques/{slug}" + (f"?pour={audience}" if audience != "habitant" else "")),
    )


def public_contacts() -> list[dict]:
    return rows("SELECT * FROM contacts WHERE visibility = 'public' ORDER BY position")


@bp.get("/contacts")
def contacts():
    listed = public_contacts()
    groups = {g: [c for c in listed if c["grp"] == g] for g in ("national", "commune")}
    return render_template("contacts.html", groups=groups, page_qr=qr_svg(KIT_URL + "contacts"))


def contact_card(c: dict) -> str:
    return vcard.card(
        uid=f"{kit_state()['kit_id']}-{c['slug']}",
        name=i18n.pick(c, "name"),
        phone=c["phone"],
        phone_secondary=c["phone_secondary"],
        role=i18n.pick(c, "role"),
        organisation=c["organisation"],
        note=i18n.pick(c, "note"),
        categories=c["grp"],
        revised=c["last_verified"],
        sms_only=bool(c["sms_only"]),
    )


def vcard_response(text: str, filename: str) -> Response:
    response = Response(text, content_type="text/vcard; charset=utf-8")
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response


@bp.get("/contacts.vcf")
def contacts_vcf():
    return vcard_response("".join(contact_card(c) for c in public_contacts()), "contacts.vcf")


@bp.get("/contacts/<slug>.vcf")
def contact_vcf(slug: str):
    found = [c for c in public_contacts() if c["slug"] == slug]
    if not found:
        abort(404)
    return vcard_response(contact_card(found[0]), f"{slug}.vcf")


def public_sites() -> list[dict]:
    marks = ", ".join("?" * len(PUBLIC_SITE_TYPES))
    return sites_shown(get_db(), exercise=kit_state()["exercise"],
                       where=f"s.visibility = 'public' AND s.type IN ({marks})", params=PUBLIC_SITE_TYPES)


def geo_uri(site: dict) -> str:
    """RFC 5870 geo: URI with a label, opened by the phone's own (offline) map app."""
    return f"geo:{site['lat']:.6f},{site['lon']:.6f}?q={site['lat']:.6f},{site['lon']:.6f}({quote(site['name'])})"


@bp.get("/lieux")
def sites():
    listed = public_sites()
    for site in listed:
        site["geo"] = geo_uri(site)
        site["amenity_list"] = site["amenities"].split()
    return render_template("sites.html", sites=listed)


@bp.get("/robots.txt")
def robots():
    """Asked by some browsers and every crawler: a few bytes, not the 404 page."""
    return Response("User-agent: *\nDisallow:\n", content_type="text/plain; charset=utf-8",
                    headers={"Cache-Control": "max-age=86400"})


@bp.get("/favicon.ico")
def favicon():
    """Every browser asks for it on every page view: an empty answer it may keep a week
    (the pages carry no <link rel=icon>: no external or extra resource)."""
    return Response(status=204, headers={"Cache-Control": "max-age=604800"})


@bp.get("/langue/<lang>")
def set_lang(lang: str):
    """The visible language switch: a link, remembered in a cookie for a year."""
    if lang not in i18n.LANGS:
        abort(404)
    response = redirect(safe_target(request.args.get("next")), 303)
    response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="Lax")
    return response


def _error_page(status: int, api_message: str, title: str, message: str):
    if request.path.startswith("/api/"):
        return {"error": api_message}, status
    return render_template("error.html", title=title, message=message), status


@bp.app_errorhandler(404)
def not_found(_error):
    return _error_page(404, _("No such API route."), _("Page not found"),
                       _("This page does not exist on this kit."))


@bp.app_errorhandler(405)
def wrong_method(_error):
    return _error_page(405, _("This method is not allowed here."), _("Not allowed"),
                       _("This page cannot be used that way."))


@bp.app_errorhandler(413)
def too_large(_error):
    too_long = _("What you sent is too long for this kit.")
    return _error_page(413, too_long, _("Too long"), too_long)
