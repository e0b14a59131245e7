from hypothesis import given, strategies as st

from kit import db, records


def fresh(tmp_path):
    database = db.connect(tmp_path / "k.db")
    db.migrate(database)
    return database


def test_sequences_are_per_origin_and_gapless(tmp_path):
    database = fresh(tmp_path)
    a = [records.publish(database, 1, "board", {"text": f"a{i}"}, exercise=False) for i in range(3)]
    b = records.publish(database, 2, "board", {"text": "b"}, exercise=False)
    assert [r.seq for r in a] == [1, 2, 3] and b.seq == 1
    assert a[0].uid == "00000001-1"


def test_ingest_is_idempotent(tmp_path):
    database = fresh(tmp_path)
    record = records.Record(0xABCDEF01, 7, "board", 1_700_000_000, True, {"text": "de loin", "name": "K2"})
    assert records.ingest(database, record) is True
    assert records.ingest(database, record) is False
    messages = records.board_messages(database)
    assert len(messages) == 1 and messages[0]["id"] == "abcdef01-7" and messages[0]["exercise"] is True


def test_failed_apply_stores_nothing(tmp_path):
    database = fresh(tmp_path)
    bad = records.Record(5, 1, "board", 0, False, {"no_text": True})
    try:
        records.ingest(database, bad)
    except KeyError:
        pass
    assert database["records"].count == 0  # the log and the board stay consistent


def test_alert_update_supersedes(tmp_path):
    database = fresh(tmp_path)
    first = records.publish(database, 1, "alert", {"event": "Crue", "headline": "Vigilance orange"},
                            exercise=False)
    assert [a["headline"] for a in records.active_alerts(database)] == ["Vigilance orange"]
    records.publish(database, 1, "alert", {"event": "Crue", "headline": "Vigilance rouge",
                                           "msg_type": "Update", "references_id": first.uid},
                    exercise=False)
    assert [a["headline"] for a in records.active_alerts(database)] == ["Vigilance rouge"]
    records.publish(database, 1, "alert", {"event": "Crue", "headline": "Fin", "msg_type": "Cancel",
                                           "references_id": "00000001-2"}, exercise=False)
    assert records.active_alerts(database) == []


def test_expired_alerts_are_not_active(tmp_path):
    database = fresh(tmp_path)
    records.publish(database, 1, "alert", {"event": "Canicule", "headline": "h", "expires_at": 100},
                    exercise=False, now=50)
    assert records.active_alerts(database, now=99) and not records.active_alerts(database, now=100)


@given(st.text(max_size=60))
def test_name_key_is_stable(name):
    key = records.name_key(name)
    assert records.name_key(key) == key
    assert key == key.strip() and "  " not in key


def test_name_key_folds_what_people_type_differently():
    assert records.name_key("  Jean-Pierre  DURAND ") == records.name_key("jean pierre durand")
    assert records.name_key("Élodie Lefèvre") == records.name_key("elodie lefevre")
    assert records.name_key("Durand") != records.name_key("Jean Durand")
