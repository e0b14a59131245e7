"""Languages: French first, easy-to-read French (FALC) and English.

User-interface strings are English msgids translated by gettext catalogs
(kit/web/translations/<lang>/LC_MESSAGES/messages.mo, compiled from the committed .po by
`make i18n`). Content (checklists, contacts) carries its own fr / falc / en columns.
FALC has its own interface catalog (translations/falc: short sentences, one idea per line),
falling back to the French one, and the FALC content.
"""
from __future__ import annotations

import gettext
from functools import lru_cache
from importlib import resources

from flask import g, has_request_context, request
from markupsafe import Markup

from kit.core.messages import Message, message_of
from kit.web import typography

LANGS = ("fr", "falc", "en")
DEFAULT_LANG = "fr"
LANG_NAMES = {"fr": "Français", "falc": "Facile à lire", "en": "English"}
HTML_LANG = {"fr": "fr", "falc": "fr", "en": "en"}
COOKIE = "lang"


@lru_cache(maxsize=None)
def catalog(lang: str) -> gettext.NullTranslations:
    """English is the msgids; French its catalog; FALC its own easy-to-read catalog
    (translations/falc), which falls back to the French one for a string it lacks."""
    if lang == "en":
        return gettext.NullTranslations()
    folder = resources.files("kit.web") / "translations"
    with resources.as_file(folder) as path:
        french = gettext.translation("messages", localedir=str(path), languages=["fr"], fallback=True)
        if lang != "falc":
            return french
        easy = gettext.translation("messages", localedir=str(path), languages=["falc"], fallback=True)
    easy.add_fallback(french)
    return easy


def select_lang() -> str:
    """The visitor's choice (cookie), else the browser's Accept-Language, else French."""
    chosen = request.cookies.get(COOKIE, "")
    if chosen in LANGS:
        return chosen
    return request.accept_languages.best_match(["fr", "en"], default=DEFAULT_LANG) or DEFAULT_LANG


def current_lang() -> str:
    if not has_request_context():
        return DEFAULT_LANG
    if "lang" not in g:
        g.lang = select_lang()
    return g.lang


def tr(value) -> str:
    """A Message (or an error carrying one) in the visitor's language; anything else as text."""
    value = message_of(value)
    if isinstance(value, Message):
        return value.render(catalog(current_lang()).gettext)
    return str(value)


def _values(variables: dict) -> dict:
    return {k: tr(v) if isinstance(message_of(v), Message) else v for k, v in variables.items()}


def typeset(text: str) -> str:
    """The one typography filter (kit.web.typography): French rules in French and FALC,
    applied to the template before any value (a resident's text) is put in."""
    return text if current_lang() == "en" else typography.french(text)


def gettext_(message: str, **variables) -> str:
    text = typeset(catalog(current_lang()).gettext(message))
    return text % _values(variables) if variables else text


def ngettext_(singular: str, plural: str, n: int, **variables) -> str:
    text = typeset(catalog(current_lang()).ngettext(singular, plural, n))
    return text % ({"num": n} | _values(variables))


_ = gettext_


def pick(row, field: str) -> str:
    """The content column for the current language: name_falc, name_en, else name_fr."""
    lang = current_lang()
    for candidate in (f"{field}_{lang}", f"{field}_fr"):
        value = row.get(candidate) if hasattr(row, "get") else None
        if value:
            return typeset(value)
    return ""


def lang_fr() -> Markup:
    """ lang="fr" on text that stays French (the mairie's own words, EXERCICE, the kit's name)
    on an English page, so that a screen reader reads it in French (WCAG 3.1.2)."""
    return Markup(' lang="fr"') if current_lang() == "en" else Markup("")


def init_app(app) -> None:
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(gettext_, ngettext_, newstyle=True)
    # A Message from the rules (a form error, say) prints in the visitor's language.
    app.jinja_env.finalize = lambda value: tr(value) if isinstance(value, Message) else value
    app.jinja_env.globals.update(pick=pick, current_lang=current_lang, LANG_NAMES=LANG_NAMES,
                                 HTML_LANG=HTML_LANG, lang_fr=lang_fr)
    app.jinja_env.filters["frdate"] = lambda value: typography.long_date(value, current_lang())
    app.jinja_env.filters["ago"] = lambda unix: typography.ago(unix, current_lang(), ngettext_, gettext_)
    app.jinja_env.filters["moment"] = lambda value: typography.moment(value, current_lang(), gettext_)
