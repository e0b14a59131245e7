"""Small helpers shared by the crisis cell's pages (no routes here)."""
from __future__ import annotations

import time

from flask import request

from kit.core.kit import Entry
from kit.mesh import records as r
from kit.web import forms
from kit.web.admin import current_user
from kit.web.connection import current_kit
from kit.web.i18n import _
from kit.web.pages import rows  # noqa: F401 — re-exported for the admin pages

EXERCISE_CHOICES = ("", "reel", "exercice")


def who() -> str:
    return current_user()["name"]


def role() -> str:
    return current_user()["role"]


def form(*names: str) -> dict:
    """The posted fields, trimmed and NFC-normalised (what is given back on errors)."""
    return {name: forms.normalise(request.form.get(name, "")) for name in names}


def whole(value: str, label: str, errors: list[str], *, low: int = 0, high: int = 2**24) -> int | None:
    """A whole number from a form field (blank is None); an error is added otherwise."""
    if value == "":
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        errors.append(_("%(field)s: a whole number from %(low)d to %(high)d, please.",
                        field=label, low=low, high=high))
        return None
    return int(value)


def age(unix: int | None, now: float | None = None) -> str:
    """'4 min', '3 h', '2 d' since a unix time; '—' when unknown."""
    if unix is None:
        return "—"
    seconds = max(0, int((time.time() if now is None else now) - int(unix)))
    if seconds < 90:
        return _("%(n)d s", n=seconds)
    if seconds < 90 * 60:
        return _("%(n)d min", n=round(seconds / 60))
    if seconds < 48 * 3600:
        return _("%(n)d h", n=round(seconds / 3600))
    return _("%(n)d d", n=round(seconds / 86400))


def need_labels() -> dict[r.Needs, str]:
    return {
        r.Needs.WATER: _("water"), r.Needs.FOOD: _("food"), r.Needs.MEDICAL: _("medical care"),
        r.Needs.POWER: _("power"), r.Needs.HEATING: _("heating"), r.Needs.BEDDING: _("bedding"),
        r.Needs.STAFF: _("staff"), r.Needs.TRANSPORT: _("transport"),
    }


def needs_text(flags: int) -> str:
    return ", ".join(label for flag, label in need_labels().items() if flags & flag)


def site_status_labels() -> dict[str, str]:
    """The sites table's status codes, as on the residents' page."""
    return {"ferme": _("Closed"), "en-preparation": _("Getting ready"), "ouvert": _("Open"),
            "complet": _("Full"), "evacue": _("Evacuated")}


def site_type_labels() -> dict[str, str]:
    return {"hebergement": _("Shelter"), "accueil": _("Reception centre"), "rassemblement": _("Assembly point"),
            "eau": _("Water point"), "soins": _("Care point"), "pcc": _("Command post (PCC)")}


def note(action: str, subject: str = "", detail: str = "", *, source: str = "web",
         verification: str = "verifiee") -> int:
    """A line in the main courante by this request's operator (marked EXERCICE in a drill)."""
    return current_kit().log(Entry(who(), source, action, subject, detail, verification))
