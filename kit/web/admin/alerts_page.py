"""Official alerts in the browser: active ones (verified or not) and the CAP form."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, redirect, render_template, request

from kit.core import alerts
from kit.storage import queries as records
from kit.web.admin import requires
from kit.web.admin.view import form, rows, who
from kit.web.connection import current_kit, get_db
from kit.web.i18n import _

bp = Blueprint("admin_alerts", __name__, url_prefix="/admin")

FIELDS = ("msg_type", "references", "category", "event", "urgency", "severity", "certainty",
          "response_type", "headline", "description", "instruction", "area", "expires")
COPIED = ("category", "event", "urgency", "severity", "certainty", "response_type", "headline",
          "description", "instruction", "area")  # from the alert an Update or a Cancel replaces


def choices() -> dict[str, list[tuple[str, str]]]:
    """CAP names with a French-first label, per select of the form."""
    labels = {
        "msg_type": {"Alert": _("New alert"), "Update": _("Update of an alert"), "Cancel": _("End of an alert")},
        "category": {"Geo": _("Geophysical"), "Met": _("Weather, flood"), "Safety": _("Public safety"),
                     "Security": _("Security"), "Rescue": _("Rescue"), "Fire": _("Fire"), "Health": _("Health"),
                     "Env": _("Pollution, environment"), "Transport": _("Transport"),
                     "Infra": _("Networks: water, power, telecoms"), "CBRNE": _("Chemical, nuclear"),
                     "Other": _("Other")},
        "urgency": {"Immediate": _("Act now"), "Expected": _("Within the hour"), "Future": _("Later"),
                    "Past": _("No longer needed"), "Unknown": _("Unknown")},
        "severity": {"Extreme": _("Extreme"), "Severe": _("Severe"), "Moderate": _("Moderate"),
                     "Minor": _("Minor"), "Unknown": _("Unknown")},
        "certainty": {"Observed": _("Observed"), "Likely": _("Likely"), "Possible": _("Possible"),
                      "Unlikely": _("Unlikely"), "Unknown": _("Unknown")},
        "response_type": {"Shelter": _("Shelter indoors"), "Evacuate": _("Evacuate"), "Prepare": _("Get ready"),
                          "Execute": _("Carry out the plan"), "Avoid": _("Avoid the area"),
                          "Monitor": _("Stay informed"), "Assess": _("Assess"), "AllClear": _("All clear"),
                          "None": _("No action")},
    }
    return {name: list(values.items()) for name, values in labels.items()}


def expires_iso(value: str) -> str:
    """A datetime-local value ('2026-11-22T18:00') in the kit's time zone, as ISO 8601."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).astimezone().isoformat()
    except ValueError:
        raise alerts.AlertError(_("Expires: not a date and time.")) from None


def prefill(reference: str, msg_type: str) -> dict:
    """An Update or a Cancel starts from the alert it replaces."""
    values = dict(alerts.DEFAULTS) | {"msg_type": msg_type if msg_type in ("Update", "Cancel") else "Update"}
    try:
        uid = records.parse_uid(reference)
    except ValueError:
        return values
    found = rows("SELECT * FROM alerts WHERE origin = ? AND seq = ?", list(uid))
    if found:
        values |= {k: found[0][k] for k in COPIED} | {"references": reference}
    if values["msg_type"] == "Cancel":
        values["response_type"] = "AllClear"
    return values


def render(values: dict, errors: list[str], status: int = 200):
    db = get_db()
    return render_template(
        "admin/alerts.html", values=values, errors=errors, choices=choices(),
        active=records.active_alerts(db),
        recent=rows("SELECT * FROM alerts ORDER BY sent_at DESC LIMIT 20"),
        can_sign=current_kit().signing_key is not None, limits=alerts.LIMITS,
        created=request.args.get("ok", ""),
    ), status


@bp.get("/alertes")
@requires("operator")
def page():
    reference = request.args.get("ref", "")
    values = prefill(reference, request.args.get("type", "")) if reference else dict(alerts.DEFAULTS)
    return render(values, [])


@bp.post("/alertes")
@requires("operator")
def create():
    values = form(*FIELDS)
    try:
        data = values | {"expires": expires_iso(values["expires"])}
        fields = alerts.fields_from(data)
        alert = current_kit().create_alert(fields, who(), "web")
    except alerts.AlertError as exc:
        return render(values, [_("The alert was not sent: %(error)s", error=exc)], 400)
    return redirect(f"/admin/alertes?ok={records.format_uid(alert.uid)}", 303)
