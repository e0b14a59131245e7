"""Kit-to-kit bundles: two kits on two folders, real signatures, idempotent merge."""
import base64
import json

import pytest
from test_exchange_support import PERSON, db_of, english, fill, make_kit, new_key  # noqa: F401 (fixture)

from kit.cli import main as cli
from kit.crypto import own_key
from kit.crypto.signing import load_key
from kit.exchange import bundle, vulnerable
from kit.storage import queries as records
from kit.storage import settings

pytestmark = pytest.mark.usefixtures("english")

@pytest.fixture
def two(tmp_path):
    key_a, pub_a = new_key(tmp_path / "a.key")
    a = make_kit(tmp_path / "a", key_path=key_a)
    b = make_kit(tmp_path / "b", trust=[pub_a])
    return {"a": a, "b": b, "key_a": key_a, "pub_a": pub_a, "tmp": tmp_path}


def snapshot(db):
    tables = ("records", "messages", "checkins", "alerts", "sites", "origins")
    return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}


def export(app, path, key_path, **kwargs):
    return bundle.export(db_of(app), path, load_key(key_path), data_dir=app.config["DATA_DIR"], **kwargs)


def test_round_trip_between_two_kits_is_idempotent(two):
    db_a, db_b = db_of(two["a"]), db_of(two["b"])
    fill(db_a, two["key_a"])
    path = two["tmp"] / "paquet.kit"
    kit_b = bytes(own_key.load(two["b"].config["DATA_DIR"]).verify_key)
    assert export(two["a"], path, two["key_a"], recipients=[kit_b])["records"] == 7   # + 1 sealed
    assert "Paul Martin".encode() not in base64.b64decode(json.loads(path.read_bytes())["payload"])
    first = bundle.import_file(db_b, path, data_dir=two["b"].config["DATA_DIR"])
    assert (first["records"], first["records_known"]) == (8, 0)
    shown = db_b.execute("SELECT text, hidden FROM messages ORDER BY seq").fetchall()
    assert shown == [("Route coupée au pont", 0), ("Besoin de 50 sacs", 0), ("Bonjour à tous", 1)]
    assert db_b.execute("SELECT verified FROM alerts").fetchone() == (1,)       # B trusts A's key
    assert db_b.execute("SELECT status, present FROM sites WHERE position = 0").fetchone() == ("ouvert", 12)
    assert records.lookup_checkins(db_b, "paul martin")[0]["note"] == "chez ma fille"
    before = snapshot(db_b)
    again = bundle.import_file(db_b, path, data_dir=two["b"].config["DATA_DIR"])
    assert (again["records"], again["records_known"], again["content"]) == (0, 8, False)
    assert snapshot(db_b) == before
    # B's own bundle back into A: nothing new either way
    key_b, pub_b = new_key(two["tmp"] / "b.key")
    back = two["tmp"] / "retour.kit"
    export(two["b"], back, key_b)
    assert bundle.import_file(db_a, back, extra_trust=[base64.b64decode(pub_b)])["records"] == 0


def test_tombstones_hold_whatever_the_order(two):
    db_a, db_b = db_of(two["a"]), db_of(two["b"])
    made = fill(db_a, two["key_a"])
    full = bundle.payload(db_a)
    target = made["Bonjour à tous"].uid
    deletion_only = dict(full, records=[x for x in full["records"] if x["kind"] == "deletion"])
    original_only = dict(full, records=[x for x in full["records"]
                                        if (x["origin"], x["seq"]) == tuple(target)])
    key = load_key(two["key_a"])
    bundle.import_file(db_b, bundle.seal(deletion_only, key))     # the deletion arrives first
    bundle.import_file(db_b, bundle.seal(original_only, key))
    assert db_b.execute("SELECT hidden FROM messages WHERE origin = ? AND seq = ?", list(target)).fetchone() == (1,)


def test_tampered_byte_is_refused_and_nothing_imported(two):
    db_a, db_b = db_of(two["a"]), db_of(two["b"])
    fill(db_a, two["key_a"])
    path = two["tmp"] / "paquet.kit"
    export(two["a"], path, two["key_a"])
    envelope = json.loads(path.read_bytes())
    payload = bytearray(base64.b64decode(envelope["payload"]))
    payload[payload.index(b"Route")] = ord("X")                  # one byte of one message
    envelope["payload"] = base64.b64encode(bytes(payload)).decode()
    with pytest.raises(bundle.BundleError, match="signature does not match"):
        bundle.import_file(db_b, json.dumps(envelope).encode())
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01                                   # a byte of the file itself
    with pytest.raises(bundle.BundleError):
        bundle.import_file(db_b, bytes(raw))
    assert db_b.execute("SELECT count(*) FROM records").fetchone()[0] == 0


def test_untrusted_unsigned_and_foreign_files_are_refused(two):
    db_a = db_of(two["a"])
    fill(db_a, two["key_a"])
    path = two["tmp"] / "paquet.kit"
    export(two["a"], path, two["key_a"])
    stranger = db_of(make_kit(two["tmp"] / "c"))
    with pytest.raises(bundle.BundleError, match="does not trust"):
        bundle.import_file(stranger, path)
    assert stranger.execute("SELECT count(*) FROM records").fetchone()[0] == 0
    envelope = json.loads(path.read_bytes())
    del envelope["signature"]
    with pytest.raises(bundle.BundleError, match="unsigned"):
        bundle.import_file(stranger, json.dumps(envelope).encode())
    with pytest.raises(bundle.BundleError, match="not a kit bundle"):
        bundle.import_file(stranger, b"PK\x03\x04 a zip")
    with pytest.raises(bundle.BundleError, match="no signing key"):
        bundle.seal({}, None)
    assert bundle.import_file(stranger, path, extra_trust=[base64.b64decode(two["pub_a"])])["records"] == 7


def test_content_only_if_newer_and_site_status_survives(two):
    db_a, db_b = db_of(two["a"]), db_of(two["b"])
    fill(db_a, two["key_a"])
    db_a.execute("UPDATE contacts SET phone = '02 99 00 00 99' WHERE slug = 'urgence-112'")
    path = two["tmp"] / "paquet.kit"
    export(two["a"], path, two["key_a"])
    assert bundle.import_file(db_b, path)["content"] is False     # same content_date: not newer
    assert db_b.execute("SELECT phone FROM contacts WHERE slug = 'urgence-112'").fetchone() == ("112",)
    settings.put(db_a, "content_date", "2099-01-01")
    export(two["a"], path, two["key_a"])
    assert bundle.import_file(db_b, path)["content"] is True
    assert db_b.execute("SELECT phone FROM contacts WHERE slug = 'urgence-112'").fetchone() == ("02 99 00 00 99",)
    assert settings.get(db_b, "content_date") == "2099-01-01"
    assert db_b.execute("SELECT status, present FROM sites WHERE position = 0").fetchone() == ("ouvert", 12)
    settings.put(db_a, "content_date", "2000-01-01")             # older content never wins
    db_a.execute("UPDATE contacts SET phone = '01' WHERE slug = 'urgence-112'")
    export(two["a"], path, two["key_a"])
    assert bundle.import_file(db_b, path)["content"] is False


def test_register_only_when_asked_on_both_sides(two):
    db_a, db_b = db_of(two["a"]), db_of(two["b"])
    vulnerable.Register(db_a, two["a"].config["DATA_DIR"]).add(PERSON, "admin")
    plain, flagged = two["tmp"] / "plain.kit", two["tmp"] / "flagged.kit"
    kit_b = bytes(own_key.load(two["b"].config["DATA_DIR"]).verify_key)
    export(two["a"], plain, two["key_a"])
    with pytest.raises(bundle.BundleError, match="only encrypted"):
        export(two["a"], flagged, two["key_a"], with_vulnerable=True)          # to no one: refused
    export(two["a"], flagged, two["key_a"], with_vulnerable=True, recipients=[kit_b])
    def payload_text(path):
        return base64.b64decode(json.loads(path.read_bytes())["payload"]).decode()
    assert "Tartempion" not in payload_text(plain) and "vulnerable_people" not in payload_text(plain)
    assert "Tartempion" not in payload_text(flagged)                          # sealed to kit B
    register_b = vulnerable.Register(db_b, two["b"].config["DATA_DIR"])
    summary = bundle.import_file(db_b, flagged, data_dir=two["b"].config["DATA_DIR"])
    assert summary["vulnerable_skipped"] and register_b.entries() == []
    bundle.import_file(db_b, flagged, data_dir=two["b"].config["DATA_DIR"], with_vulnerable=True)
    assert [e["full_name"] for e in register_b.entries()] == ["Germaine Tartempion"]


def test_cli_round_trip(two, capsys):
    fill(db_of(two["a"]), two["key_a"])
    path = str(two["tmp"] / "cle-usb.kit")
    assert cli.main(["bundle", "export", path, "--data", two["a"].config["DATA_DIR"],
                     "--signing-key", str(two["key_a"])]) == 0
    stranger = str(two["tmp"] / "c")
    assert cli.main(["bundle", "import", path, "--data", stranger]) == 2
    assert "does not trust" in capsys.readouterr().err
    assert cli.main(["bundle", "import", path, "--data", stranger, "--trust-key", two["pub_a"]]) == 0
    assert "7 new records" in capsys.readouterr().out
    assert cli.main(["bundle", "import", path, "--data", stranger, "--trust-key", two["pub_a"]]) == 0
    assert "0 new records (7 already here)" in capsys.readouterr().out
    journal = db_of(two["a"]).execute("SELECT action FROM journal WHERE action LIKE 'bundle.%'").fetchall()
    assert journal == [("bundle.export",)]


def test_personal_data_left_out_unless_sealed_to_the_receiving_kit(two):
    """Issue 13 #14: check-in names and confidential contacts were in clear in every bundle.
    Now they are left out, or sealed (libsodium sealed boxes) to the kits named at export."""
    db_a, db_b = db_of(two["a"]), db_of(two["b"])
    fill(db_a, two["key_a"])
    settings.put(db_a, "content_date", "2099-01-01")
    secret_phone = db_a.execute("SELECT phone FROM contacts WHERE visibility = 'confidentiel'").fetchone()[0]
    plain, sealed_b = two["tmp"] / "plain.kit", two["tmp"] / "pour-b.kit"
    export(two["a"], plain, two["key_a"])
    kit_b = bytes(own_key.load(two["b"].config["DATA_DIR"]).verify_key)
    export(two["a"], sealed_b, two["key_a"], recipients=[kit_b])
    for path in (plain, sealed_b):
        text = base64.b64decode(json.loads(path.read_bytes())["payload"]).decode()
        assert "Paul Martin" not in text and "chez ma fille" not in text and secret_phone not in text
    stranger = make_kit(two["tmp"] / "c", trust=[two["pub_a"]])               # not a recipient
    summary = bundle.import_file(db_of(stranger), sealed_b, data_dir=stranger.config["DATA_DIR"])
    assert summary["personal_skipped"] and records.lookup_checkins(db_of(stranger), "paul martin") == []
    assert db_of(stranger).execute("SELECT count(*) FROM contacts WHERE visibility = 'confidentiel'"
                                   ).fetchone()[0] > 0                          # keeps its own
    summary = bundle.import_file(db_b, sealed_b, data_dir=two["b"].config["DATA_DIR"])
    assert summary["personal"] and records.lookup_checkins(db_b, "paul martin")[0]["note"] == "chez ma fille"
    assert db_b.execute("SELECT 1 FROM contacts WHERE phone = ?", [secret_phone]).fetchone()
