"""Resident pages as a screen reader and a French reader meet them (issue 14): errors
named and linked to their field, the welcome page, cheap favicon/robots, French typography."""
import gzip
import re
import time

from flask import Flask

from kit.web import typography
from kit.web.i18n import gettext_, ngettext_


def text(response) -> str:
    data = response.data
    return (gzip.decompress(data) if response.headers.get("Content-Encoding") == "gzip" else data).decode()


def test_a_form_error_says_error_marks_the_field_and_is_gzipped(client, post_form):
    response = post_form("/messages", {"kind": "board", "text": "x" * 400, "name": "Ana"},
                         headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 400 and response.headers["Content-Encoding"] == "gzip"
    html = text(response)
    assert re.search(r"<title>Erreur · ", html)
    field = re.search(r"<textarea [^>]*>", html)[0]
    assert 'aria-invalid="true"' in field and 'aria-describedby="err-text text-help"' in field
    assert '<li id="err-text">' in html and "x" * 400 in html  # the text typed comes back
    name = re.search(r'<input type="text" id="name"[^>]*>', html)[0]
    assert "aria-invalid" not in name
    # The summary is first in the form and the form goes to it after the POST (no JS needed).
    assert 'action="/messages#errors"' in html and 'id="errors" tabindex="-1"' in html


def test_check_in_errors_point_at_the_right_form(client, post_form):
    html = text(post_form("/securite", {"name": "A", "note": ""}))
    ci_name = re.search(r'<input type="text" id="ci-name"[^>]*>', html)[0]
    lk_name = re.search(r'<input type="text" id="lk-name"[^>]*>', html)[0]
    assert 'aria-invalid="true"' in ci_name and 'aria-describedby="err-name"' in ci_name
    assert "aria-invalid" not in lk_name


def test_error_pages_say_error_and_are_compressed(client):
    response = client.get("/nulle-part", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 404 and response.headers["Content-Encoding"] == "gzip"
    assert "<title>Erreur · " in text(response)
    assert len(response.data) < len(gzip.decompress(response.data)) / 2  # compressed like the other pages


def test_favicon_and_robots_are_cheap(client):
    favicon = client.get("/favicon.ico")
    assert favicon.status_code == 204 and favicon.data == b"" and "max-age" in favicon.headers["Cache-Control"]
    robots = client.get("/robots.txt")
    assert robots.status_code == 200 and robots.mimetype == "text/plain" and len(robots.data) < 100


def test_pages_have_a_description(client):
    for path in ("/", "/contacts", "/welcome"):
        assert re.search(r'<meta name="description" content="[^"]{40,}">', client.get(path).get_data(as_text=True))


def test_welcome_has_main_a_language_switch_and_marks_french_in_english(client):
    french = client.get("/welcome").get_data(as_text=True)
    assert "<main>" in french and 'href="/langue/falc?next=/welcome"' in french
    client.set_cookie("lang", "en")
    english = client.get("/welcome").get_data(as_text=True)
    assert '<html lang="en">' in english
    assert re.search(r'<title lang="fr">', english) and re.search(r'<h1 lang="fr">', english)
    home = client.get("/").get_data(as_text=True)
    assert re.search(r'<header>\n<a href="/" lang="fr"', home)


def test_french_typography_through_one_filter(client):
    html = client.get("/").get_data(as_text=True)
    main = html.split("<main", 1)[1]
    assert not re.search(r"\w [:;?!]", main), re.findall(r".{20}\w [:;?!].{10}", main)[:3]
    assert "'" not in re.sub(r"<[^>]*>", "", main)  # no straight apostrophe in the text
    assert "Contenu du 1er novembre 2026" in html
    contacts = client.get("/contacts").get_data(as_text=True)
    assert "Numéros d’urgence" in contacts and "Vérifié le 15 octobre 2026" in contacts
    sites = client.get("/lieux").get_data(as_text=True)
    assert re.search(r"Mis à jour\u202f: \d+(er)? \w+ 20\d\d à \d+\u00a0h\u00a0\d\d", sites)
    # A resident's text is never rewritten: the filter runs before values are put in.
    assert typography.french("Note : l'eau ? « oui »") == "Note\u202f: l’eau\u202f? «\u202foui\u202f»"
    assert typography.french("http://kit.lan/x?y=1 à 14:03") == "http://kit.lan/x?y=1 à 14:03"


def test_french_dates_and_plurals():
    assert typography.long_date("2026-11-01", "fr") == "1er novembre 2026"
    assert typography.long_date("2026-11-02", "en") == "2 November 2026"
    with Flask(__name__).test_request_context(headers={"Accept-Language": "fr"}):
        now = time.time()
        assert typography.ago(now - 300, "fr", ngettext_, gettext_, now=now) == "il y a 5 min"
        assert typography.ago(now - 7200, "fr", ngettext_, gettext_, now=now) == "il y a 2 h"
        older = typography.ago(now - 86400 * 40, "fr", ngettext_, gettext_, now=now)
        assert re.fullmatch(r"\d+(er)? \w+ 20\d\d à \d+\u00a0h\u00a0\d\d", older), older
    with Flask(__name__).test_request_context(headers={"Accept-Language": "en"}):
        assert typography.ago(now - 60, "en", ngettext_, gettext_, now=now) == "1 minute ago"


def test_plurals_go_through_ngettext():
    """French counts 0 and 1 as singular ("0 personne", never "0 personnes")."""
    with Flask(__name__).test_request_context(headers={"Accept-Language": "fr"}):
        assert ngettext_("%(num)d person", "%(num)d people", 0) == "0 personne"
        assert ngettext_("%(num)d person", "%(num)d people", 2) == "2 personnes"
    with Flask(__name__).test_request_context(headers={"Accept-Language": "en"}):
        assert ngettext_("%(num)d person", "%(num)d people", 1) == "1 person"


def test_easy_read_has_its_own_interface_and_pictograms(client):
    client.set_cookie("lang", "falc")
    home = client.get("/").get_data(as_text=True)
    assert '<body class="falc">' in home and ">Je vais bien</a>" in home and "Malade ou blessé" in home
    assert "Ce Wi-Fi n’a pas internet.\nC’est le kit de la mairie." in home  # one idea per line
    assert home.count('<svg class="pi"') >= 15  # each risk, guide and emergency button
    client.set_cookie("lang", "fr")
    french = client.get("/").get_data(as_text=True)
    assert ">Je suis en sécurité</a>" in french and "falc" not in french.split("<main")[0].split("<body")[1]


def test_the_mairies_french_words_are_marked_french_on_english_pages(app, client, signing_key):
    from helpers import publish_alert

    from kit.crypto import signing
    from kit.storage.db import connect

    publish_alert(connect(app.config["DATABASE"]), signing.load_key(signing_key), headline="Montez à l’étage")
    client.set_cookie("lang", "en")
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'<h2 id="alert-[\w-]+" lang="fr">Montez à l’étage</h2>', html)
    assert re.search(r'<small lang="en">\d+ minutes? ago</small>', html)  # the interface stays English
    assert "Official message, verified by this kit." in html.split("Montez à l’étage")[1]
