"""Resident pages: reachable, translated, within the page budget, cache-friendly."""
import gzip
import re
from urllib.parse import urljoin, urlparse

import pytest

from kit.storage.db import connect

BUDGET_WIRE = 14_600   # first congestion window (RFC 6928)
BUDGET_RAW = 50_000
LANGS = {"fr": "fr", "en": "en", "falc": "fr"}


def crawl(client, lang):
    """Every page reachable from / by links, in one language (cookie), as a phone sees it."""
    client.set_cookie("lang", lang)
    seen, queue, pages = set(), ["/"], {}
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path, headers={"Accept-Encoding": "gzip"})
        pages[path] = response
        if response.mimetype != "text/html":
            continue
        html = gzip.decompress(response.data).decode() if response.headers.get("Content-Encoding") == "gzip" \
            else response.get_data(as_text=True)
        for href in re.findall(r'href="([^"]+)"', html):
            url = urlparse(urljoin("http://localhost" + path, href.replace("&amp;", "&")))
            if url.scheme == "http" and url.netloc == "localhost" and not url.path.startswith("/langue/"):
                queue.append(url.path + (f"?{url.query}" if url.query else ""))
    return pages


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_reachable_from_home_answers_within_budget(client, lang):
    pages = crawl(client, lang)
    html_pages = {p: r for p, r in pages.items() if r.mimetype == "text/html"}
    assert len(html_pages) >= 15, sorted(pages)
    for path, response in pages.items():
        assert response.status_code == 200, path
        wire = len(response.data)
        raw = len(gzip.decompress(response.data)) if response.headers.get("Content-Encoding") == "gzip" else wire
        assert wire <= BUDGET_WIRE, (path, wire)
        assert raw <= BUDGET_RAW, (path, raw)
    for path, response in html_pages.items():
        html = gzip.decompress(response.data).decode() if response.headers.get("Content-Encoding") == "gzip" \
            else response.get_data(as_text=True)
        assert f'<html lang="{LANGS[lang]}">' in html, path
        assert "<script" not in html and " src=" not in html and "<link" not in html, path


def test_french_by_default_english_by_browser_or_switch(client):
    assert "Que faire" in client.get("/").get_data(as_text=True)
    english = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert "What to do" in english
    switch = client.get("/langue/en?next=/contacts")
    assert switch.status_code == 303 and switch.headers["Location"] == "/contacts"
    assert "Phone numbers" in client.get("/contacts").get_data(as_text=True)
    assert client.get("/langue/en?next=https://evil.example").headers["Location"] == "/"


def test_falc_shows_easy_to_read_content(app, client):
    db = connect(app.config["DATABASE"])
    fr, falc = db.execute("SELECT text_fr, text_falc FROM checklist_items WHERE risk='inondation' "
                          "AND audience='habitant' AND text_fr != text_falc LIMIT 1").fetchone()
    client.set_cookie("lang", "falc")
    page = client.get("/risques/inondation").get_data(as_text=True)
    from markupsafe import escape
    assert str(escape(falc)) in page and str(escape(fr)) not in page


def test_risk_page_has_three_phases_and_audiences(client):
    html = client.get("/risques/inondation").get_data(as_text=True)
    for anchor in ('id="avant"', 'id="pendant"', 'id="apres"'):
        assert anchor in html
    assert "?pour=benevole" in html and "?pour=cellule" in html
    volunteer = client.get("/risques/inondation?pour=benevole").get_data(as_text=True)
    assert volunteer != html
    assert client.get("/risques/nope").status_code == 404


def test_print_styles_and_content_date(client):
    html = client.get("/risques/canicule").get_data(as_text=True)
    assert "@media print" in html and "size:A4" in html
    assert re.search(r"20\d\d-\d\d-\d\d", html.split("<footer>")[1])
    assert "prefers-color-scheme:dark" in html


def test_home_changes_with_mode_and_shows_alerts_first(app, client, signing_key):
    db = connect(app.config["DATABASE"])
    veille = client.get("/").get_data(as_text=True)
    db.execute("INSERT OR REPLACE INTO settings VALUES ('mode','crise'), ('active_risk','inondation')")
    from helpers import publish_alert

    from kit.crypto.signing import load_key
    publish_alert(db, load_key(signing_key), headline="Montez à l'étage",
                  instruction="Quittez le rez-de-chaussée")
    publish_alert(db, None, headline="Faux message non signé")
    crise = client.get("/").get_data(as_text=True)
    assert crise != veille
    assert crise.index("Montez à l&#39;étage") < crise.index("Inondation")
    assert "Faux message" not in crise  # unsigned: never shown to residents as official
    item = db.execute("SELECT text_fr FROM checklist_items WHERE risk='inondation' AND phase='pendant' "
                      "AND audience='habitant' ORDER BY position LIMIT 1").fetchone()[0]
    from markupsafe import escape
    assert str(escape(item)) in crise  # the "during" checklist is pinned on the home page


def test_etag_and_304(client):
    first = client.get("/risques/inondation")
    assert first.headers["ETag"] and first.headers["Cache-Control"] == "no-cache"
    again = client.get("/risques/inondation", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    zipped = client.get("/risques/inondation", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["ETag"] != first.headers["ETag"]
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert client.get("/risques/inondation", headers={
        "Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}).status_code == 304


def test_security_headers(client):
    response = client.get("/")
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'none'
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_contact_sheet_public_only_with_tel_links_and_vcards(app, client):
    db = connect(app.config["DATABASE"])
    html = client.get("/contacts").get_data(as_text=True)
    assert 'href="tel:112"' in html and 'href="sms:114"' in html
    for (phone,) in db.execute("SELECT phone FROM contacts WHERE visibility != 'public'").fetchall():
        assert phone not in html
    sheet = client.get("/contacts.vcf")
    assert sheet.mimetype == "text/vcard"
    text = sheet.get_data(as_text=True)
    public = db.execute("SELECT count(*) FROM contacts WHERE visibility='public'").fetchone()[0]
    assert text.count("BEGIN:VCARD") == public and text.count("VERSION:3.0") == public
    one = client.get("/contacts/samu.vcf").get_data(as_text=True)
    assert one.startswith("BEGIN:VCARD\r\nVERSION:3.0\r\n") and "TEL;TYPE=WORK,VOICE:15\r\n" in one
    hidden = db.execute("SELECT slug FROM contacts WHERE visibility != 'public' LIMIT 1").fetchone()[0]
    assert client.get(f"/contacts/{hidden}.vcf").status_code == 404


def test_sites_with_status_and_geo_links(app, client):
    db = connect(app.config["DATABASE"])
    html = client.get("/lieux").get_data(as_text=True)
    assert len(re.findall(r'href="geo:-?\d+\.\d+,-?\d+\.\d+\?q=', html)) == db.execute(
        "SELECT count(*) FROM sites WHERE visibility='public' AND type != 'pcc'").fetchone()[0]
    pcc = db.execute("SELECT name FROM sites WHERE type='pcc'").fetchone()
    if pcc:
        assert pcc[0] not in html  # the crisis command post is not public
    db.execute("UPDATE sites SET status='ouvert', present=37 WHERE slug=(SELECT slug FROM sites "
               "WHERE type='hebergement' LIMIT 1)")
    html = client.get("/lieux").get_data(as_text=True)
    assert "Ouvert" in html and "37" in html
