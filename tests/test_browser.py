"""Real headless Chromium (Debian's package), JavaScript off, a 360×640 phone screen."""
import re
import shutil
import threading

import pytest
from waitress import create_server

from kit.core import config as kit_config
from kit.web.app import create_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.requires(shutil.which("chromium") is not None,
                         "Debian's chromium is not installed (.ci/run installs it)"),
]


@pytest.fixture(scope="module")
def kit_url(tmp_path_factory):
    app = create_app(kit_config.build(tmp_path_factory.mktemp("kit")))
    server = create_server(app, host="127.0.0.1", port=0, **{**kit_config.WAITRESS, "threads": 2})
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)


@pytest.fixture
def phone(browser):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 360, "height": 640},
                                  locale="fr-FR", device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    yield page
    context.close()


def assert_fits_the_screen(page):
    """Nothing wider than the phone: no sideways scrolling to read an instruction."""
    widths = [b["x"] + b["width"] for b in
              (page.locator(sel).first.bounding_box() for sel in ("h1", "nav", "main", "footer")) if b]
    assert widths and max(widths) <= 361, widths


def test_home_page_as_a_person_sees_it(phone, kit_url, tmp_path):
    phone.goto(kit_url + "/")
    heading = phone.locator("h1")
    assert heading.is_visible()
    assert "préparez-vous" in heading.inner_text().lower() or "temps normal" in heading.inner_text().lower()
    assert phone.get_by_role("link", name="Que faire").first.is_visible()
    assert "pas internet" in phone.locator("main").inner_text().lower() or "sans internet" in phone.locator("main").inner_text().lower()
    assert_fits_the_screen(phone)
    phone.screenshot(path=str(tmp_path / "home.png"), full_page=True)


def test_checklist_page(phone, kit_url):
    phone.goto(kit_url + "/risques/inondation")
    assert phone.locator("h1").inner_text() == "Inondation"
    for section in ("#avant", "#pendant", "#apres"):
        items = phone.locator(f"{section} li")
        assert items.count() >= 1 and items.first.is_visible()
    box = phone.locator("#avant li").first.bounding_box()
    assert box["width"] <= 360 and box["height"] >= 16  # readable, wrapped, not cut
    assert_fits_the_screen(phone)


def test_contact_sheet_calls_with_one_tap(phone, kit_url):
    phone.goto(kit_url + "/contacts")
    link = phone.locator('a[href="tel:112"]')
    assert link.is_visible()
    box = link.bounding_box()
    assert box["height"] >= 48  # a big button a finger cannot miss (issue 14)
    assert phone.locator('a[href="sms:114"]').is_visible()


def test_posting_without_javascript(phone, kit_url):
    phone.goto(kit_url + "/messages")
    phone.get_by_label("Votre message").fill("Rue des Saules : arbre tombé")
    phone.get_by_role("button", name="Envoyer").click()
    phone.wait_for_load_state()
    assert "/messages?ok=" in phone.url
    assert phone.get_by_text("Rue des Saules : arbre tombé").is_visible()
    assert phone.locator("#ok").is_visible()


def test_checklist_prints_on_a4_without_the_menu(phone, kit_url, tmp_path):
    phone.goto(kit_url + "/risques/inondation")
    phone.emulate_media(media="print")
    assert not phone.locator("nav").is_visible()
    assert not phone.locator(".lang").is_visible()
    assert phone.locator("footer .pr").is_visible()  # the kit's address on paper
    # The content date in words (issue 14: "2026-11-01" wrapped), the ISO date kept in <time>.
    assert re.search(r"Contenu du \d+(er)? \w+ 20\d\d", phone.locator("footer").inner_text())
    assert re.fullmatch(r"20\d\d-\d\d-\d\d", phone.locator("footer time").get_attribute("datetime"))
    pdf = phone.pdf(path=str(tmp_path / "checklist.pdf"), prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert boxes and all(abs(float(w) - 595) < 1 and abs(float(h) - 842) < 1 for w, h in boxes)  # A4


def test_dark_mode_follows_the_phone(browser, kit_url):
    context = browser.new_context(java_script_enabled=False, color_scheme="dark",
                                  viewport={"width": 360, "height": 640})
    page = context.new_page()
    page.goto(kit_url + "/")
    background = page.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
    context.close()
    assert background == "rgb(18, 18, 18)"
