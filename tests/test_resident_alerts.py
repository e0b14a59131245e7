"""Residents' answers carry verified alerts only (issue 13 item 11)."""
from helpers import publish_alert

from kit.crypto import signing
from kit.mesh import records as r
from kit.storage.db import connect


def test_unsigned_and_forged_alerts_stay_off_the_residents_api(app, admin_app, signing_key, tmp_path):
    db = connect(app.config["DATABASE"])
    stranger = tmp_path / "stranger.key"
    signing.new_key(stranger)
    publish_alert(db, signing.load_key(signing_key), headline="Officielle")
    publish_alert(db, None, headline="Sans signature", severity=r.Severity.EXTREME)
    publish_alert(db, signing.load_key(stranger), headline="Contrefaite", severity=r.Severity.EXTREME)
    residents = app.test_client().get("/api/v1/alerts").json["alerts"]
    assert [(a["headline"], a["verified"]) for a in residents] == [("Officielle", True)]
    operators = admin_app.test_client().get("/api/v1/alerts").json["alerts"]
    assert sorted(a["headline"] for a in operators) == ["Contrefaite", "Officielle", "Sans signature"]
