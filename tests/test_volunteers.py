"""The crisis cell enrols volunteers' radios and decides on the others' commands."""
import json

import pytest
from helpers import csrf_token, login

from kit.core import volunteers
from kit.core.volunteer_commands import parse, plan
from kit.storage.db import connect


@pytest.fixture
def operator(admin_app):
    kit = admin_app.extensions["kit"]
    password = kit.add_user("op1", "operator", "test", "cli")
    client = admin_app.test_client()
    assert login(client, "op1", password).status_code == 303
    return client


def post(client, path, data):
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/benevoles"), **data})


def test_enrol_and_withdraw_a_radio(operator, app):
    assert post(operator, "/admin/benevoles/radios", {"node": "pas une radio"}).status_code == 400
    assert post(operator, "/admin/benevoles/radios", {"node": "!a1b2c3d4", "label": "Équipe nord"}).status_code == 303
    db = connect(app.config["DATABASE"])
    assert volunteers.is_enrolled(db, 0xA1B2C3D4)
    assert "Équipe nord" in operator.get("/admin/benevoles").get_data(as_text=True)
    assert post(operator, f"/admin/benevoles/radios/{0xA1B2C3D4}/retirer", {}).status_code == 303
    assert not volunteers.is_enrolled(db, 0xA1B2C3D4)
    actions = [a for (a,) in db.execute("SELECT action FROM journal WHERE action LIKE 'volunteer.%' ORDER BY id")]
    assert actions == ["volunteer.enroll", "volunteer.withdraw"]


def test_a_held_command_changes_nothing_until_approved(operator, app):
    db = connect(app.config["DATABASE"])
    kit = app.extensions["kit"]
    sites = [tuple(s) for s in db.execute("SELECT position, name FROM sites ORDER BY position")]
    _, name = next(s for s in sites if not isinstance(plan(parse(f"#site {s[1].split()[-1]} evacue"), "x", sites), str))
    planned = plan(parse(f"#site {name.split()[-1]} evacue"), "Radio inconnue", sites)
    held = volunteers.hold(db, 0x66, "Radio inconnue", "#site … evacue", planned, 1_800_000_000)
    assert db.execute("SELECT status FROM sites WHERE position = ?", [planned.fields["site"]]).fetchone()[0] != "evacue"
    page = operator.get("/admin/benevoles").get_data(as_text=True)
    assert "Radio inconnue" in page and "#site … evacue" in page
    assert post(operator, f"/admin/benevoles/commandes/{held}", {"decision": "approve"}).status_code == 303
    assert db.execute("SELECT status FROM sites WHERE position = ?", [planned.fields["site"]]).fetchone()[0] == "evacue"
    assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] >= 1  # it goes to every kit
    assert post(operator, f"/admin/benevoles/commandes/{held}", {"decision": "approve"}).status_code == 409
    assert kit.db().execute("SELECT state FROM pending_commands WHERE id = ?", [held]).fetchone()[0] == "approved"
    assert json.loads(db.execute("SELECT fields FROM pending_commands").fetchone()[0])["status"] == "EVACUE"


def test_residents_and_volunteer_accounts_cannot_decide(admin_app, app):
    kit = admin_app.extensions["kit"]
    client = admin_app.test_client()
    assert login(client, "vol1", kit.add_user("vol1", "volunteer", "test", "cli")).status_code == 303
    assert client.get("/admin/benevoles").status_code == 403
    assert app.test_client().get("/admin/benevoles").status_code == 404


def test_two_versions_of_a_record_are_raised_on_the_dashboard(operator, app):
    from kit.mesh import records as r

    kit = app.extensions["kit"]
    held = r.Board(origin=0x0BADCAFE, seq=1, created_at=1_800_000_000, text="Eau au gymnase")
    from helpers import ingest
    ingest(kit.db(), held)
    kit.record_conflict(held, r.Board(origin=0x0BADCAFE, seq=1, created_at=1_800_000_000, text="Évacuez tout"), 0x66)
    page = operator.get("/admin/").get_data(as_text=True)
    assert "0badcafe-1" in page and "Évacuez tout" in page and "Eau au gymnase" in page
    assert "Eau au gymnase" not in app.test_client().get("/messages").get_data(as_text=True)


def test_a_flooding_radio_cannot_fill_the_waiting_list(app):
    db = connect(app.config["DATABASE"])
    sites = [tuple(s) for s in db.execute("SELECT position, name FROM sites ORDER BY position")]
    _, name = next(s for s in sites if not isinstance(plan(parse(f"#site {s[1].split()[-1]} evacue"), "x", sites), str))
    planned = plan(parse(f"#site {name.split()[-1]} evacue"), "Radio inconnue", sites)
    held = [volunteers.hold(db, 0x66, "Radio inconnue", f"#site {i}", planned, 1_800_000_000) for i in range(50)]
    assert sum(h is not None for h in held) == volunteers.MAX_HELD_PER_NODE
    assert held[volunteers.MAX_HELD_PER_NODE:] == [None] * (50 - volunteers.MAX_HELD_PER_NODE)
    assert volunteers.hold(db, 0x67, "Autre radio", "#site", planned, 1_800_000_000) is not None
