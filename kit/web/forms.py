"""Server-side validation of what residents type. Errors are translated sentences;
the caller always gives the typed text back with them, so nothing is lost."""
from __future__ import annotations

import unicodedata
from urllib.parse import unquote_to_bytes

from flask import g, has_request_context, request
from markupsafe import Markup

from kit.core import text
from kit.web.i18n import _

MAX_TEXT = 280   # fits in two radio frames once packed
MAX_NAME = 40
MAX_NOTE = 140


def find_undecodable_fields() -> None:
    """Before a urlencoded POST is parsed: note the fields whose bytes are not UTF-8.

    Werkzeug re-quotes such bytes ("caf%E9") instead of failing, which would store them
    as if the resident had typed them; the raw body tells the truth.
    """
    if request.method != "POST" or request.mimetype != "application/x-www-form-urlencoded":
        return
    bad = set()
    for pair in request.get_data(cache=True).split(b"&"):
        name, _sep, value = pair.partition(b"=")
        try:
            unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            bad.add(unquote_to_bytes(name).decode("utf-8", "replace"))
    g.undecodable = bad


def _undecodable(field: str) -> bool:
    return has_request_context() and field in g.get("undecodable", ())


class FieldError(str):
    """An error sentence that knows its field, so the page can mark that field
    aria-invalid and link it to the sentence (aria-describedby; WCAG 3.3.1)."""

    def __new__(cls, text: str, field: str):
        error = super().__new__(cls, text)
        error.field = field
        return error


def field_attrs(errors, field: str, helper: str = "") -> Markup:
    """aria-invalid and aria-describedby for an input, from the errors of the page."""
    invalid = any(getattr(e, "field", None) == field for e in errors or ())
    described = " ".join(filter(None, [f"err-{field}" if invalid else "", helper]))
    attrs = (' aria-invalid="true"' if invalid else "") + (f' aria-describedby="{described}"' if described else "")
    return Markup(attrs)


def check(value: str, label: str, *, max_len: int, required: bool, min_len: int = 1,
          field: str = "") -> str | None:
    """The error for one field, or None. `value` has been stripped already."""
    error = _check(value, label, max_len=max_len, required=required, min_len=min_len, field=field)
    return FieldError(error, field) if error and field else error


def _check(value: str, label: str, *, max_len: int, required: bool, min_len: int, field: str) -> str | None:
    if _undecodable(field):
        return _("%(field)s: some characters could not be read. Please type them again.", field=label)
    if not value:
        return _("%(field)s: please write something.", field=label) if required else None
    if text.bad_character(value):
        return _("%(field)s: some characters could not be read. Please type them again.", field=label)
    if len(value) > max_len:
        return _("%(field)s: %(count)d characters, the limit is %(limit)d. Please shorten it.",
                 field=label, count=len(value), limit=max_len)
    if len(value) < min_len:
        return _("%(field)s: at least %(limit)d characters, please.", field=label, limit=min_len)
    return None


def normalise(value) -> str:
    """Trim, unify line endings and compose accents (NFC) so lengths are what people see."""
    if not isinstance(value, str):
        return ""
    return unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


def validate_post(data) -> tuple[dict, list[str]]:
    """A board post, need or offer: text (required) and name (optional)."""
    values = {"text": normalise(data.get("text")), "name": normalise(data.get("name"))}
    errors = [
        e for e in (
            check(values["text"], _("Message"), max_len=MAX_TEXT, required=True, field="text"),
            check(values["name"], _("Name"), max_len=MAX_NAME, required=False, field="name"),
        ) if e
    ]
    return values, errors


def validate_checkin(data) -> tuple[dict, list[str]]:
    """An "I'm safe" check-in: full name (required) and a short note (optional)."""
    values = {"name": normalise(data.get("name")), "note": normalise(data.get("note"))}
    errors = [
        e for e in (
            check(values["name"], _("Full name"), max_len=MAX_NAME * 2, required=True, min_len=3,
                  field="name"),
            check(values["note"], _("Note"), max_len=MAX_NOTE, required=False, field="note"),
        ) if e
    ]
    return values, errors


def validate_lookup(data) -> tuple[dict, list[str]]:
    values = {"name": normalise(data.get("name"))}
    error = check(values["name"], _("Full name"), max_len=MAX_NAME * 2, required=True, min_len=3,
                  field="name")
    return values, [error] if error else []
