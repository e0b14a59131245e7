from helpers import ingest, plant
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.mesh import records as r
from kit.mesh.store import MemoryStore
from kit.storage import db
from kit.storage import queries as records
from kit.storage.names import name_key
from kit.storage.sqlite_store import SqliteStore


def fresh(tmp_path):
    database = db.connect(tmp_path / "k.db")
    db.migrate(database)
    return database


def alert(origin, seq, headline, **extra):
    fields = dict(category=r.Category.MET, event="Crue", urgency=r.Urgency.IMMEDIATE,
                  severity=r.Severity.SEVERE, certainty=r.Certainty.LIKELY,
                  response_type=r.ResponseType.SHELTER, headline=headline) | extra
    return r.Alert(origin=origin, seq=seq, created_at=1_800_000_000 + seq, **fields)


def board(origin, seq, text="x", **extra):
    return r.Board(origin=origin, seq=seq, created_at=1_800_000_000 + seq, text=text, **extra)


def test_sequences_are_per_origin_and_gapless(tmp_path):
    database = fresh(tmp_path)
    a = [plant(database, r.Board, 1, exercise=False, text=f"a{i}") for i in range(3)]
    b = plant(database, r.Board, 2, exercise=False, text="b")
    assert [x.seq for x in a] == [1, 2, 3] and b.seq == 1
    assert records.format_uid(a[0].uid) == "00000001-1"


def test_ingest_is_idempotent(tmp_path):
    database = fresh(tmp_path)
    record = r.Board(origin=0xABCDEF01, seq=7, created_at=1_700_000_000, exercise=True,
                     text="de loin", author="K2")
    assert ingest(database, record) is True
    assert ingest(database, record) is False
    messages = records.board_messages(database)
    assert len(messages) == 1 and messages[0]["id"] == "abcdef01-7" and messages[0]["exercise"] is True
    assert messages[0]["name"] == "K2"


def test_stored_record_reads_back_identical(tmp_path):
    database = fresh(tmp_path)
    store = SqliteStore(database.conn)
    samples = [
        alert(3, 1, "Montez", references=r.Uid(3, 9), expires=1_900_000_000, signature=bytes(range(64))),
        r.SiteStatus(origin=3, seq=2, created_at=5, site=1, status=r.SiteState.OUVERT, present=4,
                     needs=r.Needs.WATER | r.Needs.POWER),
        r.VolunteerText(origin=3, seq=3, created_at=5, sender=77, sender_name="Bénévole 7",
                        packet_id=123456, text="pont coupé"),
        r.Deletion(origin=3, seq=4, created_at=6, target=r.Uid(3, 3), reason="doublon"),
        r.Health(origin=3, seq=5, created_at=7, uptime_s=100, radio=r.RadioState.OK, queue_len=2,
                 airtime_ms_hour=1234, last_sync=None, mode=r.KitMode.CRISE, battery_pct=80),
    ]
    for sample in samples:
        assert store.put(sample)
        assert store.get(sample.uid) == sample


def test_deletion_before_its_target_still_hides_it(tmp_path):
    database = fresh(tmp_path)
    ingest(database, r.Deletion(origin=5, seq=2, created_at=1, target=r.Uid(5, 1)))
    ingest(database, board(5, 1, "spam"))
    assert records.board_messages(database) == []


def test_correction_applies_in_any_order(tmp_path):
    for order in ((0, 1), (1, 0)):
        (tmp_path / str(len(order) + order[0])).mkdir()
        database = fresh(tmp_path / str(len(order) + order[0]))
        items = [board(5, 1, "Eau potable au gymase"),
                 r.Correction(origin=5, seq=2, created_at=1_800_000_100, target=r.Uid(5, 1),
                              text="Eau potable au gymnase")]
        for i in order:
            ingest(database, items[i])
        assert [m["text"] for m in records.board_messages(database)] == ["Eau potable au gymnase"]


def test_volunteer_text_heard_by_two_kits_shows_once(tmp_path):
    database = fresh(tmp_path)
    heard = dict(created_at=10, sender=0x1234, sender_name="Vol", packet_id=99, text="Route barrée")
    ingest(database, r.VolunteerText(origin=7, seq=1, **heard))
    ingest(database, r.VolunteerText(origin=3, seq=1, **heard))  # a smaller uid, later
    shown = records.board_messages(database)
    assert [(m["text"], m["id"]) for m in shown] == [("Route barrée", "00000003-1")]


def trusting(database):
    """A database whose kit trusts a fresh key; returns the key."""
    import json

    from nacl.signing import SigningKey

    from kit.crypto.signing import public_key_text
    key = SigningKey.generate()
    database.execute("INSERT INTO settings VALUES ('trusted_keys', ?)", [json.dumps([public_key_text(key)])])
    return key


def test_alert_update_supersedes_in_any_order(tmp_path):
    from kit.crypto.signing import sign_record
    database = fresh(tmp_path)
    key = trusting(database)
    update = sign_record(alert(1, 2, "Vigilance rouge", msg_type=r.MsgType.UPDATE, references=r.Uid(1, 1)), key)
    ingest(database, update)  # the update arrives first
    ingest(database, sign_record(alert(1, 1, "Vigilance orange"), key))
    assert [a["headline"] for a in records.active_alerts(database, now=0)] == ["Vigilance rouge"]
    ingest(database, sign_record(alert(1, 3, "Fin", msg_type=r.MsgType.CANCEL,
                                              references=r.Uid(1, 2)), key))
    assert records.active_alerts(database, now=0) == []


def test_forged_cancel_does_not_retire_a_signed_alert(tmp_path):
    from kit.crypto.signing import sign_record
    database = fresh(tmp_path)
    key = trusting(database)
    ingest(database, sign_record(alert(1, 1, "Évacuez le quartier des Grèves"), key))
    ingest(database, alert(666, 1, "Fin de l'alerte", msg_type=r.MsgType.CANCEL, references=r.Uid(1, 1)))
    shown = records.active_alerts(database, now=0, verified_only=True)
    assert [a["headline"] for a in shown] == ["Évacuez le quartier des Grèves"]


def test_expired_alerts_are_not_active(tmp_path):
    database = fresh(tmp_path)
    ingest(database, alert(1, 1, "h", expires=100))
    assert records.active_alerts(database, now=99) and not records.active_alerts(database, now=100)


def test_newest_site_status_wins(tmp_path):
    database = fresh(tmp_path)
    database.execute("INSERT INTO sites (slug, position, name, type, address, lat, lon, status, visibility, "
                     "updated_at) VALUES ('g', 4, 'Gymnase', 'hebergement', 'a', 47, 2, 'ferme', 'public', '')")
    newer = r.SiteStatus(origin=1, seq=2, created_at=200, site=4, status=r.SiteState.COMPLET, present=120)
    older = r.SiteStatus(origin=2, seq=1, created_at=100, site=4, status=r.SiteState.OUVERT, present=40)
    ingest(database, newer)
    ingest(database, older)
    assert database.execute("SELECT status, present FROM sites").fetchone() == ("complet", 120)


def test_failed_projection_stores_nothing(tmp_path):
    database = fresh(tmp_path)
    database.execute("DROP TABLE messages")
    try:
        ingest(database, board(5, 1))
    except Exception:
        pass
    assert database["records"].count == 0 and database["origins"].count == 0


uids = st.tuples(st.integers(1, 3), st.integers(1, 12))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(uids, st.sampled_from(["board", "deletion", "correction", "volunteer"]), uids),
                max_size=25))
def test_sqlite_store_answers_like_the_memory_store(tmp_path_factory, operations):
    """The contract the sync engine relies on, checked against the reference store."""
    database = fresh(tmp_path_factory.mktemp("s"))
    sql, memory = SqliteStore(database.conn), MemoryStore()
    for (origin, seq), kind, target in operations:
        common = dict(origin=origin, seq=seq, created_at=seq)
        record = {
            "board": lambda: r.Board(text=f"t{seq}", **common),
            "deletion": lambda: r.Deletion(target=r.Uid(*target), **common),
            "correction": lambda: r.Correction(target=r.Uid(*target), text="fixed", **common),
            "volunteer": lambda: r.VolunteerText(sender=target[0], sender_name="v", packet_id=target[1],
                                                 text="v", **common),
        }[kind]()
        assert sql.put(record) == memory.put(record)
    assert sql.vector() == memory.vector()
    for origin in (1, 2, 3):
        assert sql.missing(origin, 14, 5) == memory.missing(origin, 14, 5)
        assert sql.range(origin, 2, 9) == memory.range(origin, 2, 9)
        for seq in range(1, 13):
            uid = r.Uid(origin, seq)
            assert sql.get(uid) == memory.get(uid)
            assert sorted(map(str, sql.tombstones_for(uid))) == sorted(map(str, memory.tombstones_for(uid)))
            assert sql.first_with_key((origin, seq)) == memory.first_with_key((origin, seq))


@given(st.text(max_size=60))
def test_name_key_is_stable(name):
    key = name_key(name)
    assert name_key(key) == key
    assert key == key.strip() and "  " not in key


def test_name_key_folds_what_people_type_differently():
    assert name_key("  Jean-Pierre  DURAND ") == name_key("jean pierre durand")
    assert name_key("Élodie Lefèvre") == name_key("elodie lefevre")
    assert name_key("Durand") != name_key("Jean Durand")


def test_a_drills_site_status_shows_during_the_drill_only(tmp_path):
    from kit.core.sites import shown
    database = fresh(tmp_path)
    database.execute("INSERT INTO sites (slug, position, name, type, address, lat, lon, status, visibility, "
                     "updated_at) VALUES ('g', 4, 'Gymnase', 'hebergement', 'a', 47, 2, 'ouvert', 'public', '')")
    ingest(database, r.SiteStatus(origin=1, seq=1, created_at=100, exercise=True, site=4,
                                          status=r.SiteState.EVACUE))
    during = shown(database, exercise=True)[0]
    after = shown(database, exercise=False)[0]
    assert (during["status"], during["drill"]) == ("evacue", 1)
    assert (after["status"], after["drill"]) == ("ouvert", 0)  # the real status was never touched


def test_a_crisis_cell_signature_gives_another_kit_authority(tmp_path):
    """A deletion from kit 9 of kit 5's message counts only when signed by a key this kit
    trusts; trusting the key later (profile change) applies it to what is held."""
    import base64
    import json

    from nacl.signing import SigningKey

    from kit.crypto.signing import sign_record
    from kit.storage.projections import reverify_alerts

    database = fresh(tmp_path)
    key = SigningKey.generate()
    ingest(database, board(5, 1, "Rendez-vous au pont"))
    ingest(database, r.Deletion(origin=9, seq=1, created_at=2, target=r.Uid(5, 1)))  # unsigned: nothing
    ingest(database, sign_record(r.Deletion(origin=9, seq=2, created_at=3, target=r.Uid(5, 1)), key))
    assert [m["text"] for m in records.board_messages(database)] == ["Rendez-vous au pont"]  # key not trusted
    database.execute("INSERT INTO settings (key, value) VALUES ('trusted_keys', ?)",
                     [json.dumps([base64.b64encode(bytes(key.verify_key)).decode()])])
    reverify_alerts(database.conn)
    assert records.board_messages(database) == []


def test_two_versions_of_one_uid_are_kept_off_the_public_pages(tmp_path):
    from kit.storage.sqlite_store import SqliteStore

    database = fresh(tmp_path)
    held, other = board(5, 1, "Eau au gymnase"), board(5, 1, "Évacuez le gymnase")
    ingest(database, held)
    SqliteStore(database.conn).note_conflict(held, other, 0x66)
    assert records.board_messages(database) == []
    row = database.execute("SELECT held, heard, from_node FROM record_conflicts").fetchone()
    assert "Eau au gymnase" in row[0] and "Évacuez" in row[1] and row[2] == 0x66
