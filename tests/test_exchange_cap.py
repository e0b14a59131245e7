"""CAP 1.2 export and import: round trip between two kits, exercises, safety of the parser."""
import re
import xml.etree.ElementTree as ET

import pytest
from helpers import kit_of, kit_origin
from test_exchange_support import alert, db_of, english, make_kit, new_key  # noqa: F401 (fixture)

from kit.exchange import cap
from kit.mesh import records as r
from kit.storage import settings

pytestmark = pytest.mark.usefixtures("english")

NS = {"c": cap.NS}
INFO_FIELDS = ("category", "event", "urgency", "severity", "certainty", "response_type", "headline",
               "instruction", "area", "expires_at", "msg_type")


@pytest.fixture
def kits(tmp_path):
    key_a, pub_a = new_key(tmp_path / "a.key")
    key_b, _pub_b = new_key(tmp_path / "b.key")
    a = make_kit(tmp_path / "a", key_path=key_a)
    b = make_kit(tmp_path / "b", key_path=key_b, trust=[pub_a])
    return {"a": (db_of(a), key_a), "b": (db_of(b), key_b)}


def row(db, uid):
    cursor = db.execute("SELECT * FROM alerts WHERE origin = ? AND seq = ?", list(uid))
    return dict(zip([d[0] for d in cursor.description], cursor.fetchone()))


def import_into(db, key_path, xml, *, exercise=False):
    kit = kit_of(db, key_path)
    if exercise:
        kit.set_mode({"exercise": "1"}, "test", "cli")
    return cap.import_alert(kit, xml, by="test")


def test_export_has_the_cap_structure(kits):
    db, key = kits["a"]
    made = alert(db, key)
    xml = cap.export_alert(db, *made.uid)
    root = ET.fromstring(xml)
    assert root.tag == f"{{{cap.NS}}}alert"
    assert root.findtext("c:identifier", namespaces=NS) == f"kit-{made.origin:08x}-{made.seq}"
    assert root.findtext("c:sender", namespaces=NS) == f"kit-{made.origin:08x}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", root.findtext("c:sent", namespaces=NS))
    assert [root.findtext(f"c:{t}", namespaces=NS) for t in ("status", "msgType", "scope")] == \
        ["Actual", "Alert", "Public"]
    assert root.find("c:note", NS) is None
    info = root.find("c:info", NS)
    assert info.findtext("c:language", namespaces=NS) == "fr-FR"
    assert info.findtext("c:responseType", namespaces=NS) == "Evacuate"
    assert info.findtext("c:area/c:areaDesc", namespaces=NS) == "Quartier du Moulin"
    assert re.fullmatch(r".*T\d\d:\d\d:\d\d[+-]\d\d:\d\d", info.findtext("c:expires", namespaces=NS))


def test_round_trip_between_two_kits_keeps_every_field(kits):
    (db_a, key_a), (db_b, key_b) = kits["a"], kits["b"]
    made = alert(db_a, key_a)
    imported = import_into(db_b, key_b, cap.export_alert(db_a, *made.uid))
    assert imported.origin == kit_origin(db_b)          # a new alert, signed by kit B
    original, copy = row(db_a, made.uid), row(db_b, imported.uid)
    assert {f: copy[f] for f in INFO_FIELDS} == {f: original[f] for f in INFO_FIELDS}
    assert copy["verified"] == 1 and copy["exercise"] == 0
    if "description" in {f for f in r.Alert.__dataclass_fields__}:
        assert copy["description"] == original["description"]
    # exported again from B, the info block says the same thing
    again = ET.fromstring(cap.export_alert(db_b, *imported.uid)).find("c:info", NS)
    first = ET.fromstring(cap.export_alert(db_a, *made.uid)).find("c:info", NS)
    assert [(e.tag, e.text) for e in again if not e.tag.endswith("senderName")] == \
        [(e.tag, e.text) for e in first if not e.tag.endswith("senderName")]


def test_exercise_is_status_exercise_with_a_note_and_stays_an_exercise(kits):
    (db_a, key_a), (db_b, key_b) = kits["a"], kits["b"]
    settings.put(db_a, "exercise_name", "Inondation 2026")
    made = alert(db_a, key_a, exercise=True)
    xml = cap.export_alert(db_a, *made.uid)
    root = ET.fromstring(xml)
    assert root.findtext("c:status", namespaces=NS) == "Exercise"
    assert "EXERCICE" in root.findtext("c:note", namespaces=NS)
    assert "Inondation 2026" in root.findtext("c:note", namespaces=NS)
    imported = import_into(db_b, key_b, xml)
    assert imported.exercise and row(db_b, imported.uid)["status"] == "Exercise"


def test_actual_alert_imported_during_a_drill_is_marked_exercise(kits):
    (db_a, key_a), (db_b, key_b) = kits["a"], kits["b"]
    made = alert(db_a, key_a)
    assert import_into(db_b, key_b, cap.export_alert(db_a, *made.uid), exercise=True).exercise


def test_update_and_cancel_find_the_imported_alert_they_replace(kits):
    (db_a, key_a), (db_b, key_b) = kits["a"], kits["b"]
    first = alert(db_a, key_a)
    update = alert(db_a, key_a, msg_type="Update", references=f"{first.origin:08x}-{first.seq}",
                   headline="Décrue amorcée", severity="Moderate")
    xml = cap.export_alert(db_a, *update.uid)
    sender, identifier, sent = ET.fromstring(xml).findtext("c:references", namespaces=NS).split(",")
    assert (sender, identifier) == cap.identity(*first.uid)
    assert re.fullmatch(r".*[+-]\d\d:\d\d", sent)
    with pytest.raises(cap.CapError, match="refers to no alert"):
        import_into(db_b, key_b, xml)                   # B does not hold what it replaces yet
    imported_first = import_into(db_b, key_b, cap.export_alert(db_a, *first.uid))
    imported_update = import_into(db_b, key_b, xml)
    assert imported_update.references == imported_first.uid
    assert row(db_b, imported_first.uid)["superseded"] == 1
    assert row(db_b, imported_update.uid)["headline"] == "Décrue amorcée"


def test_a_file_is_imported_once(kits):
    (db_a, key_a), (db_b, key_b) = kits["a"], kits["b"]
    xml = cap.export_alert(db_a, *alert(db_a, key_a).uid)
    import_into(db_b, key_b, xml)
    with pytest.raises(cap.CapError, match="already on this kit"):
        import_into(db_b, key_b, xml)
    with pytest.raises(cap.CapError, match="already on this kit"):  # its own alert, back again
        import_into(db_a, key_a, xml)


def test_import_needs_a_signing_key(kits):
    (db_a, key_a), (db_b, _key_b) = kits["a"], kits["b"]
    xml = cap.export_alert(db_a, *alert(db_a, key_a).uid)
    with pytest.raises(cap.CapError, match="no signing key"):
        cap.import_alert(kit_of(db_b), xml, by="test")
    assert db_b.execute("SELECT count(*) FROM cap_imports").fetchone()[0] == 0


MINIMAL = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
<identifier>MF-2026-1</identifier><sender>vigilance@meteo.example</sender>
<sent>2026-11-22T06:00:00+01:00</sent><status>{status}</status><msgType>Alert</msgType><scope>Public</scope>
<info><language>en-GB</language><category>Met</category><event>Wind</event><urgency>Future</urgency>
<severity>Minor</severity><certainty>Possible</certainty><headline>Wind</headline>
<area><areaDesc>County</areaDesc></area></info>
<info><language>fr-FR</language><category>Met</category><event>Vent violent</event><urgency>Expected</urgency>
<severity>Severe</severity><certainty>Likely</certainty><headline>Vigilance orange vent</headline>
<instruction>Rentrez les objets.</instruction>
<area><areaDesc>Loiret</areaDesc></area><area><areaDesc>Sainte-Ondine</areaDesc></area></info>
</alert>"""


def test_foreign_file_french_info_and_defaults(kits):
    db_b, key_b = kits["b"]
    made = import_into(db_b, key_b, MINIMAL.format(status="Actual").encode())
    stored = row(db_b, made.uid)
    assert (stored["event"], stored["severity"], stored["response_type"]) == ("Vent violent", "Severe", "None")
    assert stored["area"] == "Loiret; Sainte-Ondine"


@pytest.mark.parametrize("data, message", [
    (MINIMAL.format(status="Test").encode(), "not for the public"),
    (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>',
     "DOCTYPE"),
    # lower-case "doctype" is not XML at all: expat stops there, before reading any entity
    (b'<!doctype alert SYSTEM "file:///etc/passwd"><alert/>', "well-formed"),
    # issue 13: a byte regex missed UTF-16 and let internal entities expand
    ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "y">]>'
     '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">&x;</alert>'.encode("utf-16"), "DOCTYPE"),
    (MINIMAL.format(status="Actual").replace('<?xml version="1.0" encoding="UTF-8"?>',
     '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE alert [<!ENTITY big "Montez">]>')
     .replace("Vigilance orange vent", "&big;").encode("utf-16"), "DOCTYPE"),
    (b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.1'><identifier>x</identifier></alert>", "CAP 1.2"),
    (b"<alert", "well-formed"),
    (b"<x>" + b" " * (cap.MAX_BYTES + 1) + b"</x>", "larger"),
    (MINIMAL.format(status="Actual").replace("<msgType>Alert", "<msgType>Update").encode(), "refers to no alert"),
    (MINIMAL.format(status="Actual").replace("Vigilance orange vent", "x" * 200).encode(), "headline"),
])
def test_bad_files_are_refused_clearly(kits, data, message):
    db_b, key_b = kits["b"]
    before = db_b.execute("SELECT count(*) FROM records").fetchone()[0]
    with pytest.raises(cap.CapError, match=message):
        import_into(db_b, key_b, data)
    assert db_b.execute("SELECT count(*) FROM records").fetchone()[0] == before
