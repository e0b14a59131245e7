"""The crisis cell's pages in a browser's shoes: real login form, CSRF tokens, effects
checked on the residents' pages, the database and the radio's outbox."""
import dataclasses
import json
import re
import time

import pytest
import segno
from helpers import csrf_token, login, plant

from kit.core import auth, journal, moderation
from kit.mesh import records as r
from kit.storage import settings
from kit.storage.db import connect
from kit.web.admin import printables

OPERATOR_PAGES = ["/admin/alertes", "/admin/mode", "/admin/moderation", "/admin/contenu",
                  "/admin/contenu/consignes/inondation", "/admin/contenu/contacts/nouveau",
                  "/admin/imprimer/contacts?pour=cellule"]


@pytest.fixture
def db(app):
    return connect(app.config["DATABASE"])


@pytest.fixture
def as_role(admin_app, db):
    """A logged-in browser for a role (session cookie from the real login form); the
    account `<role>1` is made on first use (password hashing is slow on purpose)."""
    accounts = {}

    def browser(role):
        if role not in accounts:
            accounts[role] = (f"{role}1", auth.add_user(db, f"{role}1", role))
        client = admin_app.test_client()
        assert login(client, *accounts[role]).status_code == 303
        return client
    return browser


def send(client, page, action, data):
    """Submit a form of `page` to `action`, as a browser does."""
    return client.post(action, data={"csrf_token": csrf_token(client, page), **data})


def outbox_kinds(db):
    return [k for (k,) in db.execute("SELECT r.kind FROM outbox o JOIN records r USING (origin, seq) ORDER BY o.seq")]


def last_entry(db, action):
    return next(e for e in journal.entries(db) if e["action"] == action)


def test_mode_and_exercise_change_the_residents_home(client, as_role, db):
    operator = as_role("operator")
    assert "Normal times" in client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    response = send(operator, "/admin/mode", "/admin/mode",
                    {"mode": "crise", "exercise": "1", "active_risk": "inondation"})
    assert response.status_code == 303
    home = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Crisis in progress" in home and "EXERCICE EXERCICE EXERCICE" in home
    assert "Flood" in home or "Inondation" in home
    entry = last_entry(db, "mode.set")
    assert (entry["author"], entry["source"], entry["exercise"]) == ("operator1", "web", 1)
    bad = send(operator, "/admin/mode", "/admin/mode", {"mode": "panique", "active_risk": "inondation"})
    assert bad.status_code == 400 and 'value="inondation" selected' in bad.get_data(as_text=True)
    assert settings.get(db, "mode") == "crise"


def test_alert_from_the_form_is_signed_verified_and_on_the_residents_home(client, as_role, db):
    operator = as_role("operator")
    form = {"msg_type": "Alert", "category": "Met", "event": "Crue de la Vézène", "urgency": "Immediate",
            "severity": "Extreme", "certainty": "Observed", "response_type": "Shelter",
            "headline": "Montez à l'étage", "description": "La Vézène déborde aux Grèves.", "instruction": "Quittez le rez-de-chaussée", "area": "Les Grèves",
            "expires": "2099-01-01T18:00", "references": ""}
    response = send(operator, "/admin/alertes", "/admin/alertes", form)
    assert response.status_code == 303, response.get_data(as_text=True)
    alert = db.execute("SELECT origin, seq, verified, severity, expires_at FROM alerts").fetchone()
    assert alert[2:4] == (1, "Extreme") and alert[4] > time.time()
    assert "Montez à l&#39;étage" in client.get("/").get_data(as_text=True)
    if "description" in {f.name for f in dataclasses.fields(r.Alert)}:  # CAP <description> carried on air
        assert "La Vézène déborde aux Grèves." in client.get("/").get_data(as_text=True)
    assert outbox_kinds(db) == ["alert"]
    assert last_entry(db, "alert.create")["author"] == "operator1"
    uid = f"{alert[0]:08x}-{alert[1]}"
    # Ending it: the form starts from the alert it replaces.
    prefilled = operator.get(f"/admin/alertes?ref={uid}&type=Cancel").get_data(as_text=True)
    assert 'value="Crue de la Vézène"' in prefilled and f'value="{uid}" selected' in prefilled
    ended = send(operator, "/admin/alertes", "/admin/alertes", form | {"msg_type": "Cancel", "references": uid,
                                                                       "response_type": "AllClear"})
    assert ended.status_code == 303
    assert "Montez à l&#39;étage" not in client.get("/").get_data(as_text=True)


def test_alert_form_errors_give_the_typed_values_back(as_role, db):
    operator = as_role("operator")
    response = send(operator, "/admin/alertes", "/admin/alertes",
                    {"msg_type": "Update", "event": "Tempête <b>", "headline": "", "references": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and 'value="Tempête &lt;b&gt;"' in page and 'role="alert"' in page
    past = send(operator, "/admin/alertes", "/admin/alertes",
                {"event": "x", "headline": "y", "expires": "2001-01-01T00:00"})
    assert past.status_code == 400 and "déjà passé" in past.get_data(as_text=True)  # in French, the operator's language
    assert db.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0


def test_unverified_alert_is_shown_to_operators_only(client, as_role, db):
    from helpers import publish_alert

    publish_alert(db, headline="Évacuez tout (faux ?)")  # unsigned, like a forged one from the mesh
    assert "Évacuez tout" not in client.get("/").get_data(as_text=True)
    page = as_role("operator").get("/admin/alertes", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Évacuez tout" in page and "Not verified" in page


def test_moderation_approve_reject_hide_correct(client, as_role, db):
    operator = as_role("operator")
    keep = moderation.submit(db, "need", "Besoin de sacs de sable rue Basse", "Lina", exercise=False)
    drop = moderation.submit(db, "board", "pub pour un casino", "", exercise=False)
    page = operator.get("/admin/moderation").get_data(as_text=True)
    assert "Besoin de sacs de sable" in page and "pub pour un casino" in page
    assert send(operator, "/admin/moderation", f"/admin/moderation/{keep}", {"decision": "approve"}).status_code == 303
    assert send(operator, "/admin/moderation", f"/admin/moderation/{drop}", {"decision": "reject"}).status_code == 303
    assert outbox_kinds(db) == ["need"]
    origin, seq = db.execute("SELECT origin, seq FROM messages WHERE kind = 'need'").fetchone()
    uid = f"{origin:08x}-{seq}"
    assert "pub pour un casino" not in client.get("/messages").get_data(as_text=True)
    # Correct, then an empty correction is refused with the page and the error.
    assert send(operator, "/admin/moderation", f"/admin/messages/{uid}/corriger",
                {"text": "Besoin de sacs de sable rue Haute"}).status_code == 303
    assert "rue Haute" in client.get("/entraide").get_data(as_text=True)
    assert send(operator, "/admin/moderation", f"/admin/messages/{uid}/corriger", {"text": " "}).status_code == 400
    assert send(operator, "/admin/moderation", f"/admin/messages/{uid}/masquer", {"reason": "doublon"}).status_code == 303
    assert "sacs de sable" not in client.get("/entraide").get_data(as_text=True)
    assert outbox_kinds(db) == ["need", "correction", "deletion"]
    assert [e["action"] for e in journal.entries(db)][:4] == ["message.hide", "message.correct",
                                                              "moderation.reject", "moderation.approve"]
    missing = send(operator, "/admin/moderation", "/admin/messages/par-identifiant",
                   {"uid": "00000001-99", "action": "hide", "text": ""})
    assert missing.status_code == 404 and 'value="00000001-99"' in missing.get_data(as_text=True)


def test_site_status_goes_to_the_outbox_and_the_residents_page(client, as_role, db):
    volunteer = as_role("volunteer")  # volunteers report sites, as with #site on a handheld
    slug, name = db.execute("SELECT slug, name FROM sites WHERE type = 'hebergement' ORDER BY position").fetchone()
    page = f"/admin/lieux/{slug}/etat"
    response = send(volunteer, page, page, {"status": "ouvert", "present": "12", "capacity": "80",
                                            "needs": [str(int(r.Needs.WATER)), str(int(r.Needs.FOOD))]})
    assert response.status_code == 303
    assert outbox_kinds(db) == ["site_status"]
    body = json.loads(db.execute("SELECT body FROM records WHERE kind = 'site_status'").fetchone()[0])
    assert body["status"] == "OUVERT" and body["needs"] == int(r.Needs.WATER | r.Needs.FOOD)
    card = client.get("/lieux", headers={"Accept-Language": "en"}).get_data(as_text=True).split(f'id="{slug}"')[1]
    assert "Open" in card.split("</div>")[0] and "12 people / 80 places" in card
    bad = send(volunteer, page, page, {"status": "ouvert", "present": "-3", "capacity": "80"})
    assert bad.status_code == 400 and 'value="-3"' in bad.get_data(as_text=True)
    dashboard = volunteer.get("/admin/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert name in dashboard and "water, food" in dashboard


def test_site_description_edit(client, as_role, db):
    operator = as_role("operator")
    slug = db.execute("SELECT slug FROM sites WHERE visibility = 'public' ORDER BY position").fetchone()[0]
    page = f"/admin/contenu/lieux/{slug}"
    data = {"name": "Gymnase Jean-Moulin (entrée B)", "type": "hebergement", "address": "5 avenue des Coteaux",
            "lat": "47,7752", "lon": "2.3791", "visibility": "public", "note_fr": "", "note_en": "",
            "amenities": ["toilettes", "accessible"]}
    assert send(operator, page, page, data).status_code == 303
    assert "Gymnase Jean-Moulin (entrée B)" in client.get("/lieux").get_data(as_text=True)
    assert db.execute("SELECT amenities, lat FROM sites WHERE slug = ?", [slug]).fetchone() == \
        ("toilettes accessible", 47.7752)
    bad = send(operator, page, page, data | {"lat": "nord"})
    assert bad.status_code == 400 and 'value="nord"' in bad.get_data(as_text=True)


def test_checklist_edit_add_delete_show_on_the_risk_page(client, as_role, db):
    operator = as_role("operator")
    page = "/admin/contenu/consignes/inondation"
    item = db.execute("SELECT id, phase, audience, position, source FROM checklist_items "
                      "WHERE risk = 'inondation' AND audience = 'habitant' ORDER BY position").fetchone()
    fields = {"phase": item[1], "audience": item[2], "position": str(item[3]), "source": item[4],
              "text_fr": "Montez les papiers à l'étage (texte de la mairie)", "text_falc": "", "text_en": ""}
    assert send(operator, page, f"{page}/{item[0]}", fields).status_code == 303
    # Shown through the French typography filter: the apostrophe becomes ’ (issue 14).
    assert "Montez les papiers à l’étage (texte de la mairie)" in client.get("/risques/inondation").get_data(as_text=True)
    added = send(operator, page, f"{page}/nouveau", fields | {"text_fr": "Repérez le point de rassemblement"})
    assert added.status_code == 303
    new_id = int(re.search(r"ok=(\d+)", added.headers["Location"])[1])
    assert "Repérez le point de rassemblement" in client.get("/risques/inondation").get_data(as_text=True)
    assert send(operator, page, f"{page}/{new_id}", fields | {"delete": "1"}).status_code == 303
    assert "Repérez le point de rassemblement" not in client.get("/risques/inondation").get_data(as_text=True)
    empty = send(operator, page, f"{page}/{item[0]}", fields | {"text_fr": "", "text_en": "kept"})
    assert empty.status_code == 400 and ">kept</textarea>" in empty.get_data(as_text=True)
    assert [e["action"] for e in journal.entries(db)][:3] == ["content.checklist.delete", "content.checklist.add",
                                                              "content.checklist.edit"]


def test_contact_edit_shows_on_the_contacts_page(client, as_role, db):
    operator = as_role("operator")
    slug = db.execute("SELECT slug FROM contacts WHERE visibility = 'public' AND grp = 'commune'").fetchone()[0]
    page = f"/admin/contenu/contacts/{slug}"
    html = operator.get(page).get_data(as_text=True)
    values = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]*)"', html))
    values |= {"phone": "02 38 99 99 99", "checked_today": "1", "grp": "commune", "visibility": "public"}
    values.pop("csrf_token")
    response = send(operator, page, page, values)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert "02 38 99 99 99" in client.get("/contacts").get_data(as_text=True)
    assert db.execute("SELECT last_verified FROM contacts WHERE slug = ?", [slug]).fetchone()[0] == \
        time.strftime("%Y-%m-%d")
    bad = send(operator, page, page, values | {"phone": "appelez Jean"})
    assert bad.status_code == 400 and 'value="appelez Jean"' in bad.get_data(as_text=True)
    created = send(operator, "/admin/contenu/contacts/nouveau", "/admin/contenu/contacts/nouveau",
                   {"name_fr": "Astreinte voirie", "role_fr": "Routes, arbres tombés", "phone": "06 00 00 00 01",
                    "grp": "cellule", "visibility": "cellule", "position": "50", "checked_today": "1"})
    assert created.status_code == 303
    assert db.execute("SELECT visibility FROM contacts WHERE slug = 'astreinte-voirie'").fetchone() == ("cellule",)
    assert "06 00 00 00 01" not in client.get("/contacts").get_data(as_text=True)
    cell_sheet = operator.get("/admin/imprimer/contacts?pour=cellule").get_data(as_text=True)
    assert "06 00 00 00 01" in cell_sheet
    assert "06 00 00 00 01" not in operator.get("/admin/imprimer/contacts").get_data(as_text=True)


def test_accounts_page_creates_an_account_whose_password_works_once_shown(admin_app, as_role, db):
    admin = as_role("admin")
    response = send(admin, "/admin/comptes", "/admin/comptes", {"name": "Camille.B", "role": "volunteer"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code class="pw">([^<]+)</code>', page)[1]
    assert password not in admin.get("/admin/comptes").get_data(as_text=True)  # shown once
    newcomer = admin_app.test_client()
    assert login(newcomer, "camille.b", password).status_code == 303
    assert newcomer.get("/admin/").status_code == 200
    # A new password ends the old one's session; disabling stops logins.
    reset = send(admin, "/admin/comptes", "/admin/comptes/camille.b/mot-de-passe", {})
    new_password = re.search(r'<code class="pw">([^<]+)</code>', reset.get_data(as_text=True))[1]
    assert newcomer.get("/admin/").status_code == 303
    assert login(admin_app.test_client(), "camille.b", password).status_code == 401
    assert send(admin, "/admin/comptes", "/admin/comptes/camille.b/etat", {"disabled": "1"}).status_code == 303
    assert login(admin_app.test_client(), "camille.b", new_password).status_code == 401
    assert send(admin, "/admin/comptes", "/admin/comptes/admin1/etat", {"disabled": "1"}).status_code == 400
    duplicate = send(admin, "/admin/comptes", "/admin/comptes", {"name": "camille.b", "role": "operator"})
    assert duplicate.status_code == 400 and 'value="camille.b"' in duplicate.get_data(as_text=True)
    actions = [e["action"] for e in journal.entries(db) if e["subject"] == "camille.b"]
    assert actions == ["account.disable", "account.password", "account.create"]
    assert not any(password in e["detail"] or new_password in e["detail"] for e in journal.entries(db))


def test_main_courante_add_filter_and_verify(as_role, db):
    operator = as_role("operator")
    response = send(operator, "/admin/main-courante", "/admin/main-courante",
                    {"channel": "phone", "subject": "Préfecture", "detail": "Vigilance rouge crues à 16 h",
                     "verification": "a_verifier"})
    assert response.status_code == 303
    entry = last_entry(db, "note.phone")
    assert (entry["author"], entry["source"], entry["subject"]) == ("operator1", "web", "Préfecture")
    assert "Vigilance rouge crues" in operator.get("/admin/main-courante?verification=a_verifier").get_data(as_text=True)
    page = "/admin/main-courante?verification=a_verifier"
    assert send(operator, page, f"/admin/main-courante/{entry['id']}/verification?verification=a_verifier",
                {"state": "verifiee"}).status_code == 303
    assert db.execute("SELECT verification FROM journal WHERE id = ?", [entry["id"]]).fetchone() == ("verifiee",)
    assert last_entry(db, "journal.verify")["subject"] == f"#{entry['id']}"
    assert "Vigilance rouge crues" not in operator.get(page).get_data(as_text=True)
    assert "Vigilance rouge crues" not in operator.get("/admin/main-courante?exercice=exercice").get_data(as_text=True)
    assert "Vigilance rouge crues" not in operator.get("/admin/main-courante?du=2001-01-01&au=2001-01-02").get_data(as_text=True)
    empty = send(operator, "/admin/main-courante", "/admin/main-courante",
                 {"channel": "visit", "subject": "M. Martin", "detail": "", "verification": "a_verifier"})
    assert empty.status_code == 400 and 'value="M. Martin"' in empty.get_data(as_text=True)


def test_volunteers_write_in_the_main_courante_and_see_their_own_entries(as_role, db):
    journal.log(db, "operator1", "web", "note.phone", "", "secret de la cellule")
    volunteer = as_role("volunteer")
    assert send(volunteer, "/admin/main-courante", "/admin/main-courante",
                {"channel": "visit", "detail": "Arbre tombé rue des Saules", "verification": "a_verifier"}).status_code == 303
    page = volunteer.get("/admin/main-courante").get_data(as_text=True)
    assert "Arbre tombé" in page and "secret de la cellule" not in page and "/verification" not in page
    entry = last_entry(db, "note.visit")
    assert send(volunteer, "/admin/main-courante", f"/admin/main-courante/{entry['id']}/verification",
                {"state": "verifiee"}).status_code == 403


def qr(payload):
    """What segno makes of exactly this payload, with the sheets' options."""
    return segno.make(payload, error="m", micro=False).svg_inline(border=4, dark="#000", light="#fff", omitsize=True)


def test_wifi_poster_qr_codes_are_exactly_the_expected_payloads(as_role, db):
    operator = as_role("operator")
    page = operator.get("/admin/imprimer/wifi").get_data(as_text=True)
    for payload in ("WIFI:T:nopass;S:Kit-Sainte-Ondine-sur-Vézène;;", "http://kit.lan/"):
        assert qr(payload) in page, payload
    assert page.count("<svg") == 2 and "http://10.42.0.1/" in page and "EXERCICE" not in page
    settings.put_many(db, {"wifi_ssid": 'Mairie;Wi"Fi', "exercise": "1"})
    page = operator.get("/admin/imprimer/wifi").get_data(as_text=True)
    assert qr('WIFI:T:nopass;S:Mairie\\;Wi\\"Fi;;') in page and 'class="wm"' in page and "EXERCICE EXERCICE EXERCICE" in page
    assert "Mairie;Wi&#34;Fi" in page  # the name in text is escaped like any text


def test_printed_sheets_carry_a_qr_back_to_the_page(as_role):
    operator = as_role("operator")
    sheet = operator.get("/admin/imprimer/consignes/inondation").get_data(as_text=True)
    assert qr("http://kit.lan/risques/inondation") in sheet and 'class="check"' in sheet
    contacts = operator.get("/admin/imprimer/contacts").get_data(as_text=True)
    assert qr("http://kit.lan/contacts") in contacts and "112" in contacts
    assert "@page{size:A4" in contacts


def test_long_ssids_are_cut_to_32_bytes():
    assert printables.wifi_ssid({"commune_name": "Saint-Rémy-en-Bouzemont-Saint-Genest-et-Isson"}).encode() \
        == "Kit-Saint-Rémy-en-Bouzemont-Sai".encode()
    assert len(printables.wifi_ssid({"commune_name": "é" * 40}).encode()) <= 32


def test_dashboard_shows_kits_sites_needs_reports_with_age(as_role, db):

    origin = int(settings.get(db, "kit_origin"))
    plant(db, r.Health, 0x0BADCAFE, exercise=False, now=int(time.time()) - 7200, uptime_s=5000,
                    radio=r.RadioState.DEGRADED, queue_len=4, airtime_ms_hour=9000, last_sync=None,
                    mode=r.KitMode.CRISE, battery_pct=63)
    plant(db, r.Need, origin, exercise=True, text="Couvertures pour le gymnase", name="Lina")
    plant(db, r.FieldReport, origin, exercise=False, location="Pont de la Vézène",
                    incident=r.IncidentType.FLOOD, severity=r.Severity.SEVERE, text="Eau sur le tablier")
    page = as_role("volunteer").get("/admin/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "!0badcafe" in page and "63 %" in page and "degraded" in page and "2 h" in page
    assert "Couvertures pour le gymnase" in page and "EXERCICE" in page
    assert "Pont de la Vézène" in page and "Eau sur le tablier" in page
    assert "Gymnase Jean-Moulin" in page


@pytest.mark.parametrize("path", OPERATOR_PAGES)
def test_volunteers_cannot_reach_operator_pages(as_role, path):
    assert as_role("volunteer").get(path).status_code == 403


def test_volunteers_cannot_post_operator_forms(as_role, db):
    volunteer = as_role("volunteer")
    csrf = csrf_token(volunteer, "/admin/main-courante")
    for action, data in [("/admin/mode", {"mode": "crise"}), ("/admin/alertes", {"event": "x", "headline": "y"}),
                         ("/admin/moderation/1", {"decision": "approve"}),
                         ("/admin/messages/00000001-1/masquer", {}), ("/admin/comptes", {"name": "x", "role": "admin"})]:
        assert volunteer.post(action, data={"csrf_token": csrf, **data}).status_code == 403, action
    assert settings.get(db, "mode") == "veille"


def test_only_admins_reach_the_accounts_page(admin_app, as_role):
    assert as_role("operator").get("/admin/comptes").status_code == 403
    assert as_role("admin").get("/admin/comptes").status_code == 200
    anonymous = admin_app.test_client()
    for path in ["/admin/", "/admin/comptes", "/admin/mode", "/admin/imprimer/wifi"]:
        response = anonymous.get(path)
        assert response.status_code == 303 and response.headers["Location"].startswith("/admin/login")


def test_forms_without_a_csrf_token_are_refused(as_role, db):
    assert as_role("operator").post("/admin/mode", data={"mode": "crise"}).status_code == 400
    assert settings.get(db, "mode") == "veille"


def test_every_cap_value_has_a_label_in_the_form(admin_app):
    from kit.core import alerts
    from kit.web.admin import alerts_page

    with admin_app.test_request_context():
        labels = alerts_page.choices()
    for name, enum in alerts.ENUMS.items():
        assert {alerts.cap_name(member) for member in enum} == {code for code, _label in labels[name]}, name


def test_the_territory_page_counts_its_kits_in_words(as_role):
    """ngettext, not "kit(s)": French puts 0 and 1 in the singular, English only 1."""
    browser = as_role("admin")
    for language, words in (("fr", "· 0 kit ·"), ("en", "· 0 kits ·")):
        page = browser.get("/admin/territoire", headers={"Accept-Language": language}).get_data(as_text=True)
        assert "kit(s)" not in page and words in page.replace("\u202f", " ")
