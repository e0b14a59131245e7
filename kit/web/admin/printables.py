"""Printables made offline on the kit: the Wi-Fi poster with QR codes, the A4 contact
sheet and the checklists. QR codes are inline SVG made by segno (no image files, no
network); a drill prints an EXERCICE watermark on every sheet."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from kit.core import auth
from kit.storage.seed import AUDIENCES, PHASES
from kit.web.admin import requires
from kit.web.admin.view import role, rows
from kit.web.common import kit_state
from kit.web.pages import checklist
from kit.web.qr import KIT_URL, qr_svg

bp = Blueprint("admin_print", __name__, url_prefix="/admin/imprimer")

KIT_IP_URL = "http://10.42.0.1/"
SSID_BYTES = 32


def wifi_escape(text: str) -> str:
    """Special characters of the WIFI: QR syntax (ZXing) are escaped with a backslash."""
    return "".join("\\" + c if c in '\\;,:"' else c for c in text)


def wifi_ssid(state: dict) -> str:
    """The hotspot's name: settings `wifi_ssid`, else Kit-<commune> (at most 32 bytes)."""
    ssid = state.get("wifi_ssid") or "Kit-" + "-".join(state.get("commune_name", "").split())
    while len(ssid.encode("utf-8")) > SSID_BYTES:
        ssid = ssid[:-1]
    return ssid


def wifi_payload(ssid: str) -> str:
    return f"WIFI:T:nopass;S:{wifi_escape(ssid)};;"


@bp.get("")
@requires("volunteer")
def index():
    return render_template("admin/print_index.html", risks=rows("SELECT slug, name_fr FROM risks ORDER BY position"),
                           audiences=AUDIENCES, cell=auth.can(role(), "operator"))


@bp.get("/wifi")
@requires("volunteer")
def wifi():
    ssid = wifi_ssid(kit_state())
    return render_template("admin/print_wifi.html", ssid=ssid, wifi_qr=qr_svg(wifi_payload(ssid)),
                           kit_qr=qr_svg(KIT_URL), kit_url=KIT_URL, kit_ip_url=KIT_IP_URL)


@bp.get("/contacts")
@requires("volunteer")
def contacts():
    """The public sheet (residents' numbers) or the crisis cell's (operators only).
    Confidential numbers are never printed."""
    audience = request.args.get("pour", "public")
    if audience not in ("public", "cellule"):
        abort(404)
    if audience == "cellule" and not auth.can(role(), "operator"):
        abort(403)
    shown = ("public",) if audience == "public" else ("public", "cellule")
    marks = ", ".join("?" * len(shown))
    listed = rows(f"SELECT * FROM contacts WHERE visibility IN ({marks}) ORDER BY position", shown)
    groups = [(g, [c for c in listed if c["grp"] == g]) for g in ("national", "commune", "cellule")]
    return render_template("admin/print_contacts.html", groups=[(g, cs) for g, cs in groups if cs],
                           audience=audience, qr=qr_svg(KIT_URL + "contacts"),
                           url=KIT_URL + "contacts")


@bp.get("/consignes/<slug>")
@requires("volunteer")
def checklist_sheet(slug: str):
    found = rows("SELECT * FROM risks WHERE slug = ?", [slug])
    if not found:
        abort(404)
    audience = request.args.get("pour", "habitant")
    if audience not in AUDIENCES:
        abort(404)
    items = checklist(slug, audience)
    url = f"{KIT_URL}risques/{slug}"
    return render_template("admin/print_checklist.html", risk=found[0], audience=audience,
                           by_phase=[(p, [i for i in items if i["phase"] == p]) for p in PHASES],
                           sources=sorted({i["source"] for i in items}), qr=qr_svg(url), url=url)
