"""CSV / HXL import and export of contacts and sites; vCard of the whole annuaire."""
import csv
import io

import pytest
from test_exchange_support import db_of, english, make_kit  # noqa: F401 (fixture)

from kit.exchange import cards, tabular

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def db(tmp_path):
    return db_of(make_kit(tmp_path / "kit"))


def table(db, name):
    cursor = db.execute(f"SELECT * FROM {name} ORDER BY position")
    return [dict(zip([d[0] for d in cursor.description], row)) for row in cursor.fetchall()]


@pytest.mark.parametrize("name", ["contacts", "sites"])
@pytest.mark.parametrize("hxl", [False, True])
def test_round_trip_changes_nothing(db, name, hxl):
    before = table(db, name)
    text = tabular.export_csv(db, name, hxl=hxl)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][0].startswith("#") == hxl
    assert tabular.import_csv(db, name, text.encode()) == {"added": 0, "updated": len(before)}
    assert table(db, name) == before


def test_hxl_tags_follow_the_standard_names(db):
    header, tags = list(csv.reader(io.StringIO(tabular.export_csv(db, "sites", hxl=True))))[:2]
    tag = dict(zip(header, tags))
    assert (tag["name"], tag["lat"], tag["lon"], tag["capacity"], tag["status"]) == \
        ("#loc+name", "#geo+lat", "#geo+lon", "#capacity+num", "#status+code")
    header, tags = list(csv.reader(io.StringIO(tabular.export_csv(db, "contacts", hxl=True))))[:2]
    assert dict(zip(header, tags))["phone"] == "#contact+phone"


def test_edit_in_a_spreadsheet_then_import(db):
    rows = list(csv.DictReader(io.StringIO(tabular.export_csv(db, "sites"))))
    rows[0]["capacity"] = "250"
    rows[0]["note_fr"] = "Entrée par la cour"
    rows[0]["status"] = "complet"                      # live state: owned by radio reports, ignored
    new = dict(rows[0], slug="gymnase-nord", name="Gymnase nord", lat="47,91", lon="1.9")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";")  # a French spreadsheet's CSV
    writer.writeheader()
    writer.writerows([rows[0], new])
    position_before = table(db, "sites")[0]["position"]
    assert tabular.import_csv(db, "sites", out.getvalue().encode("utf-8-sig")) == {"added": 1, "updated": 1}
    first = db.execute("SELECT capacity, note_fr, status, position FROM sites WHERE slug = ?",
                       [rows[0]["slug"]]).fetchone()
    assert first[:2] == (250, "Entrée par la cour") and first[2] != "complet" and first[3] == position_before
    added = db.execute("SELECT lat, status, position FROM sites WHERE slug = 'gymnase-nord'").fetchone()
    assert added[0] == pytest.approx(47.91) and added[1] == "ferme"
    assert added[2] == max(s["position"] for s in table(db, "sites"))


def test_bad_rows_are_all_reported_and_nothing_is_written(db):
    rows = list(csv.DictReader(io.StringIO(tabular.export_csv(db, "contacts"))))
    good = dict(rows[0], note_fr="changé")
    bad_phone = dict(rows[1], phone="appelez-moi")
    bad_group = dict(rows[2], grp="quartier", slug="Pas Bon")
    missing = dict(rows[3], name_fr="", deputy="inconnu")
    duplicate = dict(rows[4], slug=rows[0]["slug"])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows([good, bad_phone, bad_group, missing, duplicate])
    before = table(db, "contacts")
    with pytest.raises(tabular.ImportError_) as caught:
        tabular.import_csv(db, "contacts", out.getvalue().encode())
    found = {(e.row, e.field) for e in caught.value.errors}
    assert found == {(3, "phone"), (4, "grp"), (4, "slug"), (5, "name_fr"), (5, "deputy"), (6, "slug")}
    assert all(e.problem for e in caught.value.errors) and "3" in str(caught.value.errors[0])
    assert table(db, "contacts") == before


@pytest.mark.parametrize("data, field", [
    (b"slug,nom\r\nx,y\r\n", "nom"),                       # unknown column
    (b"slug,name_fr\r\nx,y\r\n", "grp"),                   # a required column is missing
    ("slug\r\né".encode("latin-1"), ""),                   # not UTF-8
])
def test_bad_files(db, data, field):
    with pytest.raises(tabular.ImportError_) as caught:
        tabular.import_csv(db, "contacts", data)
    assert field in {e.field for e in caught.value.errors}


def test_formulas_are_neutralised_on_export_and_restored_on_import(db):
    db.execute("UPDATE contacts SET note_fr = '=HYPERLINK(\"http://x\")' WHERE slug = 'urgence-112'")
    text = tabular.export_csv(db, "contacts")
    assert "'=HYPERLINK" in text
    tabular.import_csv(db, "contacts", text.encode())
    assert db.execute("SELECT note_fr FROM contacts WHERE slug = 'urgence-112'").fetchone()[0] == \
        '=HYPERLINK("http://x")'


def test_vcard_of_the_whole_annuaire_includes_cell_contacts(db):
    text = cards.contacts_vcf(db, "kit-1")
    assert text.count("BEGIN:VCARD") == db.execute("SELECT count(*) FROM contacts").fetchone()[0]
    cell = db.execute("SELECT name_fr FROM contacts WHERE visibility != 'public' LIMIT 1").fetchone()
    assert cell and cell[0].split()[0] in text
