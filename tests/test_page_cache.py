"""The residents' page cache never serves a stale or another visitor's page."""
from kit.storage.db import connect


def cache(app):
    return app.extensions["page_cache"]


def test_a_second_visit_is_served_from_the_cache(app, client):
    first = client.get("/risques/inondation")
    hits = cache(app).hits
    second = client.get("/risques/inondation")
    assert cache(app).hits == hits + 1
    assert second.data == first.data and second.headers["ETag"] == first.headers["ETag"]
    assert client.get("/risques/inondation", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304


def test_any_committed_change_is_seen_at_once(app, client):
    client.get("/")
    db = connect(app.config["DATABASE"])
    db.execute("INSERT OR REPLACE INTO settings VALUES ('mode', 'crise')")
    assert "Crise en cours" in client.get("/").get_data(as_text=True)
    db.execute("UPDATE sites SET status = 'complet' WHERE slug = (SELECT slug FROM sites WHERE type='hebergement' "
               "LIMIT 1)")
    assert "Complet" in client.get("/lieux").get_data(as_text=True)


def test_a_write_from_the_same_thread_is_seen(app, client, post_form):
    """Requests write through this thread's connection; the cache watches from its own."""
    client.get("/api/v1/status")
    from kit.storage.db import thread_connection
    thread_connection(app.config["DATABASE"]).execute("INSERT OR REPLACE INTO settings VALUES ('mode', 'apres')")
    assert client.get("/api/v1/status").json["mode"] == "apres"


def test_languages_and_encodings_are_kept_apart(client):
    french = client.get("/").get_data(as_text=True)
    english = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Que faire" in french and "What to do" in english
    client.set_cookie("lang", "en")
    assert "What to do" in client.get("/").get_data(as_text=True)
    zipped = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in client.get("/").headers


def test_pages_with_forms_are_never_cached(app):
    one, two = app.test_client(), app.test_client()
    token_one = one.get("/messages").get_data(as_text=True)
    token_two = two.get("/messages").get_data(as_text=True)
    assert token_one != token_two  # each visitor gets their own CSRF token
    assert ("/messages", "", "fr", False) not in cache(app).entries


def test_radio_state_change_refreshes_the_home_page(app, client):
    class Radio:
        state = "connected"

        def status(self):
            return {"state": self.state, "node": "!01020304", "queue": 0, "airtime_pct": 0.0, "last_sync": None}

        def published(self, record):
            pass

    radio = Radio()
    app.extensions["kit"].attach_radio(radio)
    assert "Radio\u202f: reliée aux autres kits." in client.get("/").get_data(as_text=True)
    radio.state = "reconnecting"
    assert "Radio\u202f: pas reliée pour le moment." in client.get("/").get_data(as_text=True)


def test_unknown_hosts_still_go_through_the_portal(client):
    client.get("/")
    response = client.get("/", base_url="http://connectivity-check.ubuntu.com")
    assert response.status_code == 302
