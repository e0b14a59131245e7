"""Purging residents' personal data after the retention period."""
import json
import time

import pytest
from helpers import kit_origin, plant
from test_exchange_support import alert, db_of, english, make_kit, new_key  # noqa: F401 (fixture)

from kit.cli import main as cli
from kit.core import journal
from kit.crypto import own_key
from kit.crypto.signing import load_key
from kit.exchange import bundle, purge
from kit.mesh import records as r
from kit.storage import queries as records
from kit.storage import settings

pytestmark = pytest.mark.usefixtures("english")

DAY = 86400


@pytest.fixture
def kit(tmp_path):
    key, pub = new_key(tmp_path / "a.key")
    app = make_kit(tmp_path / "a", key_path=key)
    return app, db_of(app), key, pub


def old_and_new(db, key):
    """An old crisis (40 days ago) and a recent one (2 days ago), on one kit."""
    origin, now = kit_origin(db), int(time.time())
    made = {}
    for label, at in (("old", now - 40 * DAY), ("new", now - 2 * DAY)):
        made[f"checkin-{label}"] = plant(db, r.Checkin, origin, exercise=False, now=at,
                                                   name=f"Paul {label}", note=f"chez ma fille {label}")
        made[f"board-{label}"] = plant(db, r.Board, origin, exercise=False, now=at,
                                                 text=f"Je cherche mon chat {label}", author=f"Jeanne {label}")
        made[f"need-{label}"] = plant(db, r.Need, origin, exercise=False, now=at,
                                                text=f"Besoin d'eau {label}", name=f"Ali {label}")
        made[f"report-{label}"] = plant(db, r.FieldReport, origin, exercise=False, now=at,
                                                  location="Pont du Moulin", incident=r.IncidentType.FLOOD,
                                                  severity=r.Severity.SEVERE, text=f"Route coupée {label}")
        db.execute("INSERT INTO pending_posts (kind, text, name, created_at) VALUES ('board', ?, ?, ?)",
                   [f"En attente {label}", f"Zoé {label}", at])
        journal.log(db, "op", "web", "moderation.approve", "x", f"Je cherche mon chat {label}", at=at)
    plant(db, r.Correction, origin, exercise=False, target=made["checkin-old"].uid,
                    text="finalement à l'hôpital")
    alert(db, key)
    return made


def body(db, record):
    return json.loads(db.execute("SELECT body FROM records WHERE origin = ? AND seq = ?",
                                 list(record.uid)).fetchone()[0])


def test_old_personal_data_is_blanked_and_the_rest_stays(kit):
    _app, db, key, _pub = kit
    made = old_and_new(db, key)
    count_before = db.execute("SELECT count(*) FROM records").fetchone()[0]
    vector_before = db.execute("SELECT * FROM origins").fetchall()
    counts = purge.purge(db)                                   # default retention: 30 days
    assert (counts["records"], counts["corrections"], counts["pending_posts"], counts["journal"]) == (3, 1, 1, 1)
    # the sync log keeps every record (digests stay contiguous), with empty personal fields
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == count_before
    assert db.execute("SELECT * FROM origins").fetchall() == vector_before
    assert (body(db, made["checkin-old"])["name"], body(db, made["checkin-old"])["note"]) == ("", "")
    assert (body(db, made["board-old"])["text"], body(db, made["board-old"])["author"]) == ("", "")
    assert body(db, made["need-old"])["name"] == ""
    assert body(db, made["report-old"])["text"] == "Route coupée old"     # operations stay
    assert records.lookup_checkins(db, "Paul old") == []
    assert records.lookup_checkins(db, "Paul new")[0]["note"] == "chez ma fille new"
    texts = [m["text"] for m in records.board_messages(db)]
    assert "Je cherche mon chat new" in texts and not any("old" in t for t in texts)
    everything = "".join(json.dumps(db.execute(f"SELECT * FROM {t}").fetchall(), ensure_ascii=False)
                         for t in ("records", "messages", "checkins", "pending_posts", "journal"))
    for personal in ("Paul old", "chez ma fille old", "Jeanne old", "Ali old", "Zoé old", "chat old",
                     "hôpital", "En attente old"):
        assert personal not in everything, personal
    for kept in ("Paul new", "Jeanne new", "Zoé new", "chat new"):
        assert kept in everything, kept
    assert db.execute("SELECT count(*) FROM alerts").fetchone()[0] == 1
    assert purge.purge(db)["records"] == 0                      # idempotent


def test_retention_setting_and_override(kit):
    _app, db, key, _pub = kit
    old_and_new(db, key)
    settings.put(db, "retention_days", "60")
    assert purge.purge(db)["records"] == 0
    assert purge.purge(db, older_than_days=1)["records"] == 6


def test_exercise_data_can_go_at_once(kit):
    _app, db, _key, _pub = kit
    drill = plant(db, r.Checkin, kit_origin(db), exercise=True, name="Figurant", note="plastron")
    real = plant(db, r.Checkin, kit_origin(db), exercise=False, name="Réel", note="vrai")
    assert purge.purge(db)["records"] == 0
    assert purge.purge(db, exercise=True)["records"] == 1
    assert body(db, drill)["name"] == "" and body(db, real)["name"] == "Réel"


def test_a_purged_record_stays_purged_when_a_bundle_brings_it_back(tmp_path, kit):
    """Another kit that has not purged yet: its full copy does not replace the blank one."""
    app, db, key, pub = kit
    made = old_and_new(db, key)
    path = tmp_path / "avant-purge.kit"
    other_app = make_kit(tmp_path / "b", trust=[pub])
    folders = (app.config["DATA_DIR"], other_app.config["DATA_DIR"])
    full = [bytes(own_key.load(folder).verify_key) for folder in folders]   # check-ins sealed for both
    bundle.export(db, path, load_key(key), recipients=full)
    purge.purge(db)
    assert bundle.import_file(db, path, extra_trust=[], data_dir=folders[0])["records"] == 0
    assert body(db, made["checkin-old"])["name"] == ""
    other = db_of(other_app)                                  # the other kit purges the same records
    bundle.import_file(other, path, data_dir=folders[1])
    assert purge.purge(other)["records"] == 3


def test_cli_purge_logs_in_the_main_courante(kit, capsys):
    app, db, key, _pub = kit
    old_and_new(db, key)
    assert cli.main(["purge", "--data", app.config["DATA_DIR"], "--older-than", "30"]) == 0
    assert "Purged: 3 records" in capsys.readouterr().out
    assert db.execute("SELECT author, source FROM journal WHERE action = 'purge'").fetchone() == ("cli", "cli")
