"""Residents' forms: validation, nothing lost, CSRF, escaping, rate limits."""
from helpers import csrf_token

from kit.storage import queries as records
from kit.storage.db import connect


def test_board_post_then_redirect_shows_the_message(client, post_form):
    response = post_form("/messages", {"kind": "board", "text": "Route du moulin coupée", "name": "Léa"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/messages?ok=local-1#ok"
    page = client.get("/messages").get_data(as_text=True)
    assert "Route du moulin coupée" in page and "Léa" in page


def test_validation_error_gives_the_text_back(client, post_form):
    long_text = "Nous sommes bloqués au deuxième étage, l'eau monte. " * 10  # > 280 characters
    response = post_form("/messages", {"kind": "board", "text": long_text, "name": "Ana"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "280" in html                      # says what the limit is
    assert "l&#39;eau monte" in html           # the resident's text is back in the form, escaped
    assert "Ana" in html
    assert client.get("/api/v1/messages").json["messages"] == []


def test_empty_message_is_refused_clearly(post_form):
    response = post_form("/messages", {"kind": "board", "text": "   "})
    assert response.status_code == 400
    assert 'role="alert"' in response.get_data(as_text=True)


def test_missing_csrf_token_is_refused_and_keeps_the_text(client):
    client.get("/messages")  # has a session, but posts without the token
    response = client.post("/messages", data={"kind": "board", "text": "Besoin d'eau rue Haute"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Besoin d&#39;eau rue Haute" in html
    assert 'name="csrf_token"' in html  # a fresh token: sending again works
    assert client.get("/api/v1/messages").json["messages"] == []


def test_forged_token_is_refused(client):
    client.get("/securite")
    response = client.post("/securite", data={"csrf_token": "forged", "name": "Paul Martin"})
    assert response.status_code == 400
    assert "Paul Martin" in response.get_data(as_text=True)


def test_markup_is_escaped_everywhere(client, post_form):
    post_form("/messages", {"kind": "board", "text": "<script>alert(1)</script><b>x</b>",
                            "name": "<img src=x onerror=alert(1)>"})
    html = client.get("/messages").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_invalid_utf8_is_a_clear_error(client):
    token = csrf_token(client, "/messages")
    body = b"csrf_token=" + token.encode() + b"&kind=board&text=caf%E9+ouvert"  # Latin-1 byte
    response = client.post("/messages", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "could not be read" in response.get_data(as_text=True) or "pu être lus" in response.get_data(as_text=True)


def test_control_characters_are_refused(post_form):
    response = post_form("/messages", {"kind": "board", "text": "hello\x00world"})
    assert response.status_code == 400


def test_oversize_request_is_refused_before_reading(client):
    response = client.post("/messages", data={"text": "x" * 100_000})
    assert response.status_code == 413


def test_rate_limit_answers_too_many_and_keeps_the_text(app, client, post_form):
    for i in range(5):
        assert post_form("/messages", {"kind": "board", "text": f"message {i}"}).status_code == 303
    response = post_form("/messages", {"kind": "board", "text": "le sixième"})
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "le sixième" in html
    # another phone is not affected
    other = app.test_client()
    token = csrf_token(other, "/messages")
    assert other.post("/messages", data={"csrf_token": token, "kind": "board", "text": "moi"},
                      environ_base={"REMOTE_ADDR": "10.42.0.200"}).status_code == 303


def test_needs_and_offers(client, post_form):
    post_form("/entraide", {"kind": "need", "text": "Lait pour bébé, gymnase"})
    post_form("/entraide", {"kind": "offer", "text": "Groupe électrogène disponible"})
    html = client.get("/entraide").get_data(as_text=True)
    assert "Lait pour bébé" in html and "Groupe électrogène" in html
    bad = post_form("/entraide", {"kind": "sell", "text": "Vends bois"})
    assert bad.status_code == 400 and "Vends bois" in bad.get_data(as_text=True)


def test_checkin_and_lookup_by_exact_name_only(app, client, post_form):
    response = post_form("/securite", {"name": "Jean-Pierre Durand", "note": "Au gymnase avec les enfants"})
    assert response.status_code == 303
    found = post_form("/securite", {"name": "  jean pierre DURAND "}, action="/securite/chercher")
    html = found.get_data(as_text=True)
    assert "Au gymnase avec les enfants" in html
    partial = post_form("/securite", {"name": "Durand"}, action="/securite/chercher")
    assert "Au gymnase" not in partial.get_data(as_text=True)  # no partial matches
    # never listed on any page
    for page in ("/", "/securite", "/messages", "/entraide"):
        assert "Jean-Pierre Durand" not in client.get(page).get_data(as_text=True)
    stored = connect(app.config["DATABASE"]).execute("SELECT body FROM records WHERE kind='checkin'").fetchone()[0]
    assert "lat" not in stored and "lon" not in stored  # only what the resident typed


def test_checkin_made_during_an_exercise_is_marked(app, client, post_form):
    db = connect(app.config["DATABASE"])
    db.execute("UPDATE settings SET value='1' WHERE key='exercise'") if db.execute(
        "SELECT 1 FROM settings WHERE key='exercise'").fetchone() else db.execute(
        "INSERT INTO settings VALUES ('exercise', '1')")
    post_form("/securite", {"name": "Marie Curie"})
    assert records.lookup_checkins(db, "marie curie")[0]["exercise"] is True
    assert "EXERCICE EXERCICE EXERCICE" in client.get("/").get_data(as_text=True)
