"""French typography and dates for every string a resident reads, through one filter.

`french()` runs on every interface string (the gettext callables) and every content string
(`pick`) in French and easy-read French, before any resident-typed value is put in, so what
a resident typed is never rewritten. Rules (Lexique des règles typographiques en usage à
l'Imprimerie nationale; CLDR's French locale data uses U+202F likewise): a narrow no-break
space before : ; ? ! and inside « », and the typographic apostrophe ’ (U+2019).
"""
from __future__ import annotations

import re
import time
from datetime import date, datetime

NNBSP = "\u202f"
_SPACE_BEFORE = re.compile(r"[ \u00a0\u202f]*([:;?!»])")
_SPACE_AFTER = re.compile(r"«[ \u00a0\u202f]*")
_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")
_PROSE_AFTER = ("", " ", "\n", "\u00a0", "\u202f", "<", ")", ",", ".", "»", "?", "!")

MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
}


def french(text: str) -> str:
    """`text` with French spacing and apostrophes. A mark glued to what follows it (a URL,
    a clock time) or opening a line is left alone."""
    if not text:
        return text
    text = _APOSTROPHE.sub("\u2019", text)
    text = _SPACE_AFTER.sub("«" + NNBSP, text)

    def bind(match: re.Match) -> str:
        spaced = len(match.group(0)) > 1
        after = text[match.end():match.end() + 1]
        if match.start() == 0 or text[match.start() - 1] == "\n":
            return match.group(0)  # nothing before it to bind it to
        if not spaced and after not in _PROSE_AFTER:
            return match.group(0)  # "http://", "14:03", "/x?y=1": not prose punctuation
        return NNBSP + match.group(1)

    return _SPACE_BEFORE.sub(bind, text)


def long_date(value, lang: str) -> str:
    """'2026-11-01' (or a date) as '1er novembre 2026' / '1 November 2026'; any other text as is."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if not isinstance(value, date):
        return str(value or "")
    month = MONTHS["en" if lang == "en" else "fr"][value.month - 1]
    day = "1er" if value.day == 1 and lang != "en" else str(value.day)
    return f"{day} {month} {value.year}"


def clock(moment: datetime, lang: str) -> str:
    return moment.strftime("%H:%M") if lang == "en" else f"{moment.hour}\u00a0h\u00a0{moment.minute:02d}"


def moment(value, lang: str, gettext) -> str:
    """A moment (unix seconds or an ISO date-time) as '5 décembre 2026 à 14 h 03', local time."""
    if value is None or value == "":
        return ""
    try:
        when = (datetime.fromtimestamp(int(value)) if isinstance(value, (int, float))
                else datetime.fromisoformat(str(value)))
    except (ValueError, OverflowError, OSError):
        return str(value)
    when = when.astimezone() if when.tzinfo else when
    return gettext("%(date)s at %(time)s", date=long_date(when.date(), lang), time=clock(when, lang))


def ago(unix, lang: str, ngettext, gettext, now: float | None = None) -> str:
    """A past moment as residents say it: 'il y a 5 min', 'il y a 2 h', else '5 décembre
    2026 à 14 h 03' (the kit's local time)."""
    if unix is None:
        return ""
    seconds = (time.time() if now is None else now) - int(unix)
    if 0 <= seconds < 3600:
        minutes = max(1, int(seconds // 60))
        return ngettext("%(num)d minute ago", "%(num)d minutes ago", minutes)
    if 0 <= seconds < 6 * 3600:
        hours = int(seconds // 3600)
        return ngettext("%(num)d hour ago", "%(num)d hours ago", hours)
    return moment(int(unix), lang, gettext)
