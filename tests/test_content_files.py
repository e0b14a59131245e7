"""The bundled default content (kit/content/*.toml) is well-formed and keeps its promises.

These tests read the files with the standard library only (tomllib), so a mairie that edits its
own copy can run them to check its work: schema and enums, URL-safe unique slugs, one checklist
file per risk, every phase and audience covered, easy-to-read (FALC) rules, French typography,
fictional phone numbers for the commune and its crisis cell, a coherent crisis-cell deputy chain,
and sites that are in France and never confidential.
"""
from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections import Counter
from pathlib import Path

import pytest

CONTENT = Path(__file__).resolve().parents[1] / "kit" / "storage" / "content"
CHECKLISTS = CONTENT / "checklists"

LANGS = ("fr", "falc", "en")
PHASES = ("avant", "pendant", "apres")
AUDIENCES = ("habitant", "benevole", "cellule")
KINDS = ("risk", "guide")
REQUIRED_RISKS = {
    "inondation", "accident-industriel", "tempete", "canicule", "pandemie", "cyberattaque",
    "coupure-electricite",
}
REQUIRED_GUIDES = {"alerte", "kit-72h", "plan-familial"}
GROUPS = ("national", "commune", "cellule")
CONTACT_VISIBILITIES = ("public", "cellule", "confidentiel")
SITE_TYPES = ("hebergement", "accueil", "rassemblement", "eau", "soins", "pcc")
SITE_STATUSES = ("ferme", "en-preparation", "ouvert", "complet", "evacue")
SITE_VISIBILITIES = ("public", "cellule")  # a site is never "confidentiel"
AMENITIES = {
    "toilettes", "chauffage", "accessible", "groupe-electrogene", "eau-potable", "cuisine",
    "douches", "couchage",
}
# Real national numbers the kit may print as they are. Every other number must be fictional.
NATIONAL_NUMBERS = {"112", "15", "17", "18", "114", "115", "119", "3919", "3114", "0 800 06 66 66"}
# ARCEP ranges reserved for fiction: landlines 01 99 00 xx xx, mobiles 06 39 98 xx xx.
FICTIONAL_PHONE = re.compile(r"^(01 99 00|06 39 98)( \d{2}){2}$")
PHONE_FORMAT = re.compile(r"^(\d{2,4}|0\d( \d{2}){4}|0 \d{3}( \d{2}){3})$")
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# Metropolitan France and Corsica.
LAT_RANGE, LON_RANGE = (41.3, 51.2), (-5.3, 9.7)

FR_ITEM_MAX_CHARS = 120  # a checklist item is one short action
FALC_MAX_WORDS = 20  # per sentence
NUMBER_WORDS = {  # FALC writes numbers as digits
    "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "dix", "onze", "douze", "treize",
    "quatorze", "quinze", "seize", "vingt", "trente", "quarante", "cinquante", "soixante",
    "cent", "mille",
}
WORD = re.compile(r"[^\W_]+(?:[’'-][^\W_]+)*")
ACRONYM = re.compile(r"\b[A-ZÀ-Ý]{2,}\b")
SENTENCE_END = ("." , "!", "?", "…", "»", ")")


def load(name: str) -> dict:
    with (CONTENT / name).open("rb") as f:
        return tomllib.load(f)


COMMUNE = load("commune.toml")
RISKS = load("risks.toml")["risk"]
CONTACTS = load("contacts.toml")["contact"]
SITES = load("sites.toml")["site"]
CHECKLIST_FILES = sorted(CHECKLISTS.glob("*.toml"))
ITEMS = {p.stem: tomllib.loads(p.read_text(encoding="utf-8"))["item"] for p in CHECKLIST_FILES}
RISK_SLUGS = [r["slug"] for r in RISKS]
KIND = {r["slug"]: r["kind"] for r in RISKS}
CONTACT_BY_SLUG = {c["slug"]: c for c in CONTACTS}


def all_items():
    for slug, items in ITEMS.items():
        for i, item in enumerate(items):
            yield f"{slug}[{i}]", item


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"[.!?…]+", text) if WORD.search(s)]


def words(text: str) -> list[str]:
    return WORD.findall(text)


def assert_tri(value, where: str, langs=LANGS) -> None:
    """A multilingual text: a table with a non-empty, trimmed string per language."""
    assert isinstance(value, dict), f"{where}: expected a table {{fr, falc, en}}"
    for lang in langs:
        text = value.get(lang)
        assert isinstance(text, str) and text.strip(), f"{where}.{lang} missing or empty"
        assert text == text.strip(), f"{where}.{lang} has leading/trailing spaces"


def french_texts():
    """Every French or FALC resident-facing text, with where it comes from."""
    for slug, item in all_items():
        yield f"checklist {slug}.fr", item["fr"]
        yield f"checklist {slug}.falc", item["falc"]
        yield f"checklist {slug}.source", item["source"]
    for r in RISKS:
        for field in ("name", "summary"):
            for lang in ("fr", "falc"):
                yield f"risk {r['slug']}.{field}.{lang}", r[field][lang]
    for c in CONTACTS:
        yield f"contact {c['slug']}.name.fr", c["name"]["fr"]
        for lang in ("fr", "falc"):
            yield f"contact {c['slug']}.role.{lang}", c["role"][lang]
        if c.get("note", {}).get("fr"):
            yield f"contact {c['slug']}.note.fr", c["note"]["fr"]
    for s in SITES:
        yield f"site {s['slug']}.name", s["name"]
        yield f"site {s['slug']}.address", s["address"]
        if s.get("note", {}).get("fr"):
            yield f"site {s['slug']}.note.fr", s["note"]["fr"]


def falc_texts():
    for slug, item in all_items():
        yield f"checklist {slug}", item["falc"]
    for r in RISKS:
        yield f"risk {r['slug']}.name", r["name"]["falc"]
        yield f"risk {r['slug']}.summary", r["summary"]["falc"]
    for c in CONTACTS:
        yield f"contact {c['slug']}.role", c["role"]["falc"]


# ── commune.toml ─────────────────────────────────────────────────────────────

def test_commune_file():
    content_date = COMMUNE["content_date"]
    assert isinstance(content_date, str)
    dt.date.fromisoformat(content_date)
    commune = COMMUNE["commune"]
    for key in ("name", "insee", "department"):
        assert isinstance(commune[key], str) and commune[key].strip(), key
    # Fictional commune: an INSEE-like code in 99xxx, which no real commune has.
    assert re.fullmatch(r"99\d{3}", commune["insee"])
    assert isinstance(COMMUNE["kit"]["name"], str) and COMMUNE["kit"]["name"].strip()


# ── risks.toml ───────────────────────────────────────────────────────────────

def test_risks_schema():
    assert RISKS, "risks.toml has no [[risk]]"
    for r in RISKS:
        assert set(r) == {"slug", "kind", "name", "summary"}, r.get("slug")
        assert r["kind"] in KINDS, r["slug"]
        assert_tri(r["name"], f"risk {r['slug']}.name")
        assert_tri(r["summary"], f"risk {r['slug']}.summary")


def test_risk_slugs_unique_and_url_safe():
    assert len(RISK_SLUGS) == len(set(RISK_SLUGS)), Counter(RISK_SLUGS).most_common(3)
    for slug in RISK_SLUGS:
        assert SLUG.fullmatch(slug), slug


def test_required_risks_and_guides():
    assert {s for s, k in KIND.items() if k == "risk"} == REQUIRED_RISKS
    assert {s for s, k in KIND.items() if k == "guide"} == REQUIRED_GUIDES


def test_risk_summaries_are_short():
    for r in RISKS:
        for lang in LANGS:
            assert 1 <= len(sentences(r["summary"][lang])) <= 3, (r["slug"], lang)


# ── checklists/*.toml ────────────────────────────────────────────────────────

def test_every_risk_has_a_checklist_file_and_vice_versa():
    assert set(ITEMS) == set(RISK_SLUGS)


def test_checklist_items_schema():
    for slug, items in ITEMS.items():
        assert items, f"{slug}: no [[item]]"
    for where, item in all_items():
        assert set(item) == {"phase", "audience", *LANGS, "source"}, where
        assert item["phase"] in PHASES, where
        assert item["audience"] in AUDIENCES, where
        for key in (*LANGS, "source"):
            assert isinstance(item[key], str) and item[key].strip(), f"{where}.{key} empty"
            assert item[key] == item[key].strip(), f"{where}.{key} has surrounding spaces"


def test_each_risk_covers_every_phase_and_audience():
    for slug in RISK_SLUGS:
        if KIND[slug] != "risk":
            continue
        seen = Counter((i["phase"], i["audience"]) for i in ITEMS[slug])
        for phase in PHASES:
            assert seen[(phase, "habitant")] >= 1, f"{slug}: no resident item for {phase}"
            for audience in AUDIENCES:
                assert seen[(phase, audience)] >= 1, f"{slug}: nothing for {audience} / {phase}"
        # Residents get several items per phase, and more than the volunteers. (The crisis cell
        # may have more: the cyberattack sheet is mostly for the mairie's own staff.)
        for phase in PHASES:
            assert seen[(phase, "habitant")] >= 3, f"{slug}: few resident items for {phase}"
        per_audience = Counter()
        for (_, audience), n in seen.items():
            per_audience[audience] += n
        assert per_audience["habitant"] > per_audience["benevole"], slug


def test_guides_have_the_expected_shape():
    for slug in ("kit-72h", "plan-familial"):
        avant = [i for i in ITEMS[slug] if i["phase"] == "avant" and i["audience"] == "habitant"]
        assert len(avant) >= 8, f"{slug}: expected mostly 'avant' resident items"
    alerte = Counter(i["phase"] for i in ITEMS["alerte"] if i["audience"] == "habitant")
    assert alerte["pendant"] >= 3 and alerte["apres"] >= 2, alerte


def test_kit_72h_lists_every_reference_item():
    text = " ".join(i["fr"] for i in ITEMS["kit-72h"]).lower().replace("\u00a0", " ")
    for needle in (
        "radio", "lampe", "piles", "bougies", "briquet", "6 litres", "sans cuisson", "bébé",
        "animaux", "médicaments", "premiers secours", "lunettes", "vêtements chauds",
        "couverture de survie", "multifonction", "ouvre-boîte", "chargeur", "argent liquide",
        "papiers d’identité", "ordonnances", "étanche", "clés", "jeux", "ruban adhésif",
        "2 litres", "une fois par an", "reconstituez",
    ):
        assert needle in text, f"kit-72h is missing {needle!r}"


def test_alert_guide_states_the_signals():
    text = " ".join(i["fr"] for i in ITEMS["alerte"]).replace("\u00a0", " ")
    for needle in ("1er mercredi", "midi", "30 secondes", "école", "radio", "114"):
        assert needle in text, f"alerte is missing {needle!r}"


def test_no_duplicate_items_within_a_file():
    for slug, items in ITEMS.items():
        for lang in LANGS:
            texts = Counter(i[lang] for i in items)
            dupes = [t for t, n in texts.items() if n > 1]
            assert not dupes, f"{slug}.{lang} duplicates: {dupes}"


def test_items_are_short_single_actions():
    for where, item in all_items():
        assert len(item["fr"]) <= FR_ITEM_MAX_CHARS, f"{where}: {len(item['fr'])} chars"
        for lang in LANGS:
            assert item[lang].endswith(SENTENCE_END), f"{where}.{lang} lacks final punctuation"
        assert 1 <= len(sentences(item["falc"])) <= 3, f"{where}: FALC takes 1-3 sentences"


# ── FALC and French typography ───────────────────────────────────────────────

def test_falc_sentences_are_short():
    for where, text in falc_texts():
        for sentence in sentences(text):
            n = len(words(sentence))
            assert n <= FALC_MAX_WORDS, f"{where}: {n} words in {sentence.strip()!r}"


def test_falc_has_no_acronyms():
    for where, text in falc_texts():
        found = ACRONYM.findall(text)
        assert not found, f"{where}: acronym(s) {found} in FALC"


def test_falc_writes_numbers_as_digits():
    for where, text in falc_texts():
        found = [w for w in words(text.lower()) if w in NUMBER_WORDS]
        assert not found, f"{where}: write {found} as digits"


def test_french_typography():
    for where, text in french_texts():
        assert "'" not in text, f"{where}: use the typographic apostrophe ’"
        assert not re.search(r" [:;!?]", text), f"{where}: no-break space before : ; ! ?"
        assert "« " not in text and " »" not in text, f"{where}: no-break spaces inside « »"
        assert '"' not in text, f"{where}: use « » for quotes"
        assert "  " not in text, f"{where}: double space"


def test_french_texts_are_utf8_with_accents():
    # Catches an accidental ASCII-only rewrite of the French files.
    joined = " ".join(t for _, t in french_texts())
    for letter in "éèàêçôÉ":
        assert letter in joined


def test_sources_are_named():
    sources = Counter(item["source"] for _, item in all_items())
    for source in sources:
        assert " — " in source, f"source {source!r}: 'publisher — title'"
    # The reference guides named in the brief are actually cited.
    cited = " ".join(sources)
    for needle in ("georisques.gouv.fr", "SGDSN — Tous responsables", "DGSCGC — Je me protège en famille"):
        assert needle in cited, needle


# ── contacts.toml ────────────────────────────────────────────────────────────

CONTACT_KEYS = {"slug", "group", "name", "role", "phone", "sms_only", "visibility", "last_verified"}
CONTACT_OPTIONAL = {"phone_secondary", "organisation", "deputy", "note"}


def test_contacts_schema():
    content_date = dt.date.fromisoformat(COMMUNE["content_date"])
    for c in CONTACTS:
        where = f"contact {c.get('slug')}"
        assert CONTACT_KEYS <= set(c) <= CONTACT_KEYS | CONTACT_OPTIONAL, where
        assert c["group"] in GROUPS, where
        assert c["visibility"] in CONTACT_VISIBILITIES, where
        assert isinstance(c["sms_only"], bool), where
        assert_tri(c["name"], f"{where}.name", langs=("fr", "en"))
        assert_tri(c["role"], f"{where}.role")
        for key in ("phone_secondary", "organisation", "deputy"):
            assert isinstance(c.get(key, ""), str), f"{where}.{key}"
        if "note" in c:
            assert set(c["note"]) <= {"fr", "en"}, where
            assert bool(c["note"].get("fr")) == bool(c["note"].get("en")), f"{where}: note fr/en"
        assert isinstance(c["last_verified"], str), where
        verified = dt.date.fromisoformat(c["last_verified"])
        assert verified <= content_date, f"{where}: verified after the content date"


def test_contact_slugs_unique_and_url_safe():
    slugs = [c["slug"] for c in CONTACTS]
    assert len(slugs) == len(set(slugs)), Counter(slugs).most_common(3)
    for slug in slugs:
        assert SLUG.fullmatch(slug), slug


def test_phone_formats():
    for c in CONTACTS:
        for key in ("phone", "phone_secondary"):
            number = c.get(key, "")
            if number:
                assert PHONE_FORMAT.fullmatch(number), f"{c['slug']}.{key}: {number!r}"


def test_only_real_national_numbers_or_fictional_ones():
    for c in CONTACTS:
        for key in ("phone", "phone_secondary"):
            number = c.get(key, "")
            if not number:
                continue
            if c["group"] == "national":
                assert number in NATIONAL_NUMBERS, f"{c['slug']}: {number} is not a known national number"
            else:
                assert FICTIONAL_PHONE.fullmatch(number), (
                    f"{c['slug']}.{key}: {number} must be fictional (01 99 00 / 06 39 98)"
                )


def test_national_numbers_present():
    phones = {c["phone"] for c in CONTACTS if c["group"] == "national"}
    assert NATIONAL_NUMBERS <= phones, NATIONAL_NUMBERS - phones


def test_sms_only_is_the_114():
    for c in CONTACTS:
        assert c["sms_only"] == (c["phone"] == "114"), c["slug"]


def test_canicule_line_says_it_is_seasonal():
    line = next(c for c in CONTACTS if c["phone"] == "0 800 06 66 66")
    assert "saisonnier" in line["note"]["fr"].lower()
    assert "seasonal" in line["note"]["en"].lower()


def test_visibility_follows_group():
    for c in CONTACTS:
        if c["group"] in ("national", "commune"):
            assert c["visibility"] == "public", c["slug"]
        else:
            assert c["visibility"] in ("cellule", "confidentiel"), f"{c['slug']}: crisis cell is never public"
    assert sum(c["visibility"] == "confidentiel" for c in CONTACTS) >= 2


def test_deputies_are_other_crisis_cell_contacts():
    for c in CONTACTS:
        deputy = c.get("deputy", "")
        if not deputy:
            continue
        assert deputy != c["slug"], f"{c['slug']} is its own deputy"
        assert deputy in CONTACT_BY_SLUG, f"{c['slug']}: unknown deputy {deputy!r}"
        assert CONTACT_BY_SLUG[deputy]["group"] == "cellule", f"{c['slug']}: deputy outside the cell"


def test_crisis_cell_roles_each_have_a_deputy():
    for slug in ("maire", "rac", "secretariat", "logistique", "communication", "accompagnement"):
        contact = CONTACT_BY_SLUG.get(slug)
        assert contact is not None and contact["group"] == "cellule", slug
        assert contact.get("deputy"), f"{slug} has no deputy"


# ── sites.toml ───────────────────────────────────────────────────────────────

SITE_KEYS = {
    "slug", "name", "type", "address", "lat", "lon", "capacity", "present", "status",
    "amenities", "visibility", "updated_at",
}


def test_sites_schema():
    for s in SITES:
        where = f"site {s.get('slug')}"
        assert SITE_KEYS <= set(s) <= SITE_KEYS | {"note"}, where
        for key in ("slug", "name", "address"):
            assert isinstance(s[key], str) and s[key].strip(), f"{where}.{key}"
        assert s["type"] in SITE_TYPES, where
        assert s["status"] in SITE_STATUSES, where
        assert s["visibility"] in SITE_VISIBILITIES, f"{where}: visibility {s['visibility']!r}"
        assert isinstance(s["lat"], float) and isinstance(s["lon"], float), where
        for key in ("capacity", "present"):
            assert isinstance(s[key], int) and not isinstance(s[key], bool) and s[key] >= 0, where
        if s["capacity"]:
            assert s["present"] <= s["capacity"], where
        assert isinstance(s["amenities"], list), where
        assert set(s["amenities"]) <= AMENITIES, f"{where}: {set(s['amenities']) - AMENITIES}"
        assert len(s["amenities"]) == len(set(s["amenities"])), where
        updated = dt.datetime.fromisoformat(s["updated_at"])
        assert updated.tzinfo is not None, f"{where}: updated_at needs a UTC offset"
        if "note" in s:
            assert set(s["note"]) == {"fr", "en"}, where
            assert_tri(s["note"], f"{where}.note", langs=("fr", "en"))


def test_site_slugs_unique_and_url_safe():
    slugs = [s["slug"] for s in SITES]
    assert len(slugs) == len(set(slugs)), Counter(slugs).most_common(3)
    for slug in slugs:
        assert SLUG.fullmatch(slug), slug


def test_sites_are_in_france_and_in_the_commune():
    for s in SITES:
        assert LAT_RANGE[0] <= s["lat"] <= LAT_RANGE[1], f"{s['slug']}: lat {s['lat']}"
        assert LON_RANGE[0] <= s["lon"] <= LON_RANGE[1], f"{s['slug']}: lon {s['lon']}"
    # All within a few km of each other (catches a typo in one coordinate).
    lat0 = sum(s["lat"] for s in SITES) / len(SITES)
    lon0 = sum(s["lon"] for s in SITES) / len(SITES)
    for s in SITES:
        assert abs(s["lat"] - lat0) < 0.05 and abs(s["lon"] - lon0) < 0.07, s["slug"]
    commune = COMMUNE["commune"]
    for s in SITES:
        assert s["address"].endswith(f"{commune['insee']} {commune['name']}"), s["slug"]


def test_site_mix_matches_the_plan():
    types = Counter(s["type"] for s in SITES)
    for kind, minimum in (("hebergement", 2), ("accueil", 1), ("rassemblement", 2), ("eau", 2),
                          ("soins", 1), ("pcc", 1)):
        assert types[kind] >= minimum, f"need at least {minimum} {kind}, got {types[kind]}"


def test_command_posts_are_not_public():
    for s in SITES:
        if s["type"] == "pcc":
            assert s["visibility"] == "cellule", s["slug"]
        else:
            assert s["visibility"] == "public", s["slug"]


def test_kit_starts_in_standby():
    for s in SITES:
        assert s["status"] == "ferme" and s["present"] == 0, s["slug"]


# ── The tests themselves can fail ────────────────────────────────────────────

@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Vous devez absolument quitter immédiatement votre logement si la préfecture et la mairie "
         "vous le demandent par haut-parleur dans la rue ce soir.", "long"),
        ("Appelez le SAMU.", "acronym"),
        ("Buvez deux litres d’eau.", "number"),
    ],
)
def test_falc_checks_reject_bad_text(text, rule):
    too_long = any(len(words(s)) > FALC_MAX_WORDS for s in sentences(text))
    acronyms = ACRONYM.findall(text)
    numbers = [w for w in words(text.lower()) if w in NUMBER_WORDS]
    assert {"long": too_long, "acronym": bool(acronyms), "number": bool(numbers)}[rule]


@pytest.mark.parametrize("number", ["01 23 45 67 89", "06 12 34 56 78", "09 726 750 45"])
def test_real_looking_numbers_are_not_fictional(number):
    assert not FICTIONAL_PHONE.fullmatch(number)
