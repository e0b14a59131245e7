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


def source_msgids() -> set[str]:
    ids = set()
    for folder, method in (("kit", "python"), ("kit/web/templates", "jinja2")):
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / folder, method_map=[("**.py" if method == "python" else "**.html", method)],
            keywords={"_": None, "gettext": None, "ngettext": (1, 2)},
        ):
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
