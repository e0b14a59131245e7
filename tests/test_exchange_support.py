"""Shared by the test_exchange_* files (no tests here): kits on real folders, real SQLite, real keys."""
import time

import pytest
from flask import Flask
from helpers import kit_of, kit_origin, plant

from kit.core import alerts, moderation
from kit.core import config as kit_config
from kit.crypto import signing
from kit.mesh import records as r
from kit.storage import queries as records
from kit.storage.db import connect
from kit.web.app import create_app


def make_kit(folder, *, key_path=None, trust=(), listener="resident"):
    """A kit on `folder`; it signs with `key_path` (if given) and trusts `trust` keys."""
    config = kit_config.build(folder, TESTING=True, SIGNING_KEY=str(key_path) if key_path else None,
                              TRUST_KEYS=list(trust), LISTENER=listener)
    return create_app(config)


def new_key(path):
    """(path, public key text) of a new signing key."""
    return path, signing.new_key(path)


def db_of(app):
    return connect(app.config["DATABASE"])


def alert(db, key_path, *, exercise=False, **fields):
    data = {"event": "Crue de la Vézène", "headline": "Montée rapide des eaux",
            "category": "Met", "urgency": "Immediate", "severity": "Severe", "certainty": "Likely",
            "response_type": "Evacuate", "instruction": "Montez à l'étage.", "area": "Quartier du Moulin",
            "description": "La Vézène déborde au pont du Moulin.",
            "expires": int(time.time()) + 6 * 3600} | fields
    return kit_of(db, key_path).create_alert(alerts.fields_from(data), "op", "cli", exercise=exercise)


PERSON = {"full_name": "Germaine Tartempion", "birth_year": "1938", "address": "3 rue du Moulin",
          "category": "age65", "consent": "demande", "phone": "06 99 00 00 01"}


def fill(db, key_path):
    """A crisis on kit A: posts, a check-in, an alert, a site status, a hidden and a corrected post."""
    origin = kit_origin(db)
    kit = kit_of(db)
    made = {}
    for text in ("Route coupée au pont", "Besoin de sacs de sable", "Bonjour à tous"):
        post = moderation.submit(db, "board", text, "Jeanne", exercise=False)
        made[text] = kit.approve_post(post, "op")
    plant(db, r.Checkin, origin, exercise=False, name="Paul Martin", note="chez ma fille")
    alert(db, key_path)
    plant(db, r.SiteStatus, origin, exercise=False, site=0, status=r.SiteState.OUVERT, present=12)
    kit.hide_message(records.format_uid(made["Bonjour à tous"].uid), "op", "hors sujet")
    kit.correct_message(records.format_uid(made["Besoin de sacs de sable"].uid), "Besoin de 50 sacs", "op")
    return made


@pytest.fixture
def english():
    """Messages in English whatever the catalogs say: library code outside a request speaks
    French (the default language), and the tests match on the English msgids."""
    with Flask("english").test_request_context(headers={"Cookie": "lang=en"}):
        yield
