"""The committed French catalog covers every user-facing string and its .mo is fresh."""
import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).parent.parent
PO = ROOT / "kit/web/translations/fr/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")


def first(msgid) -> str:
    """A message's id; for a plural (ngettext) message, its singular."""
    return msgid if isinstance(msgid, str) else msgid[0]


def plural_forms(string) -> tuple:
    """A translation as a tuple of its forms (one, or one per plural form)."""
    return (string,) if isinstance(string, str) else tuple(string)


def source_msgids(plural_only: bool = False) -> set[str]:
    ids = set()
    for folder, method in (("kit", "python"), ("kit/web/templates", "jinja2")):
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / folder, method_map=[("**.py" if method == "python" else "**.html", method)],
            keywords={"_": None, "gettext": None, "ngettext": (1, 2)},
        ):
            if not plural_only or not isinstance(message, str):
                ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_string_is_translated_in_french():
    catalog = read_po(PO.open("rb"))
    translated = {first(m.id) for m in catalog if m.id and all(plural_forms(m.string)) and not m.fuzzy}
    missing = source_msgids() - translated
    assert not missing, f"run `make i18n` and translate: {sorted(missing)[:10]}"


def test_compiled_catalog_matches_the_po_file():
    po = {first(m.id): plural_forms(m.string) for m in read_po(PO.open("rb")) if m.id and m.string and not m.fuzzy}
    mo = {first(m.id): plural_forms(m.string) for m in read_mo(io.BytesIO(MO.read_bytes())) if m.id}
    assert po == mo, "run `make i18n` (pybabel compile) and commit the .mo"


def test_placeholders_survive_translation():
    import re
    for m in read_po(PO.open("rb")):
        if m.id and m.string:
            ids = m.id if isinstance(m.id, str) else m.id[0]
            string = m.string if isinstance(m.string, str) else m.string[0]
            assert sorted(re.findall(r"%\(\w+\)[sd]", ids)) == sorted(re.findall(r"%\(\w+\)[sd]", string)), ids


# -- the easy-to-read (FALC) interface catalogue ---------------------------------------------

FALC_PO = ROOT / "kit/web/translations/falc/LC_MESSAGES/messages.po"
# What a resident meets first, which must read easily: the menu, the emergency buttons, the
# home page, the check-in, and the errors of the forms.
FALC_CORE = [
    "What to do", "Shelters", "Phone numbers", "I am safe", "Help each other", "Skip to content",
    "Any emergency", "Medical emergency", "Text message: deaf or hard of hearing",
    "Normal times: get ready", "Crisis in progress", "After the crisis",
    "This Wi-Fi has no internet. It is the kit of the mairie: information that works when the networks are down.",
    "Tell your family you are safe", "%(field)s: please write something.",
    "%(field)s: %(count)d characters, the limit is %(limit)d. Please shorten it.",
    "This form expired or your browser refused its cookie. Your text is below: please send it again.",
]
ALLOWED_CAPITALS = {"SMS"}  # an everyday word; other acronyms are explained in words


def falc_entries() -> dict:
    return {first(m.id): plural_forms(m.string) for m in read_po(FALC_PO.open("rb"))
            if m.id and all(plural_forms(m.string))}


def test_falc_catalogue_is_compiled_current_and_covers_the_core():
    entries = falc_entries()
    mo = {first(m.id): plural_forms(m.string)
          for m in read_mo(io.BytesIO(FALC_PO.with_suffix(".mo").read_bytes())) if m.id}
    assert entries == mo, "run `make i18n` (pybabel compile) and commit the .mo"
    assert not set(entries) - source_msgids(), "FALC strings no longer in the code"
    assert not [m for m in FALC_CORE if m not in entries]
    # Babel compiles an untranslated plural with the English msgids (not a fallback to
    # French): every plural must be in the FALC catalogue.
    assert not source_msgids(plural_only=True) - set(entries)


def test_falc_strings_are_short_lines_without_acronyms():
    """Inclusion Europe's rules: short sentences, one idea per line, no acronym."""
    import re
    for msgid, forms in falc_entries().items():
        for text in forms:
            for line in text.splitlines():
                assert len(re.sub(r"<[^>]+>|%\(\w+\)[sd]", "x", line).split()) <= 14, (msgid, line)
            assert not set(re.findall(r"\b[A-Z]{2,}\b", text)) - ALLOWED_CAPITALS, (msgid, text)
            assert sorted(re.findall(r"%\(\w+\)[sd]", msgid)) == sorted(re.findall(r"%\(\w+\)[sd]", text)), msgid
