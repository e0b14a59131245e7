"""Accessibility of every resident page, measured in the real Chromium (issue 14).

* axe-core (vendored in tests/vendor/axe-core, MPL-2.0) on every page reachable from `/`
  and `/welcome`, in French, easy-read French and English, light and dark: zero violations.
* Every tap target at least 44 x 44 CSS px on a 360 px phone (WCAG 2.5.5).
* Each resident checklist and the contact sheet print on ONE A4 page (pages counted in the
  PDF Chromium prints).
* In crisis mode the "Pendant" steps are on the first screen.
"""
import re
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from waitress import create_server

from kit.core import config as kit_config
from kit.storage.db import connect
from kit.web.app import create_app

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
LANGS = ("fr", "falc", "en")
PHONE = {"width": 360, "height": 640}
TARGET = 44  # CSS px, WCAG 2.5.5 (target size, enhanced)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.requires(shutil.which("chromium") is not None,
                         "Debian's chromium is not installed (.ci/run installs it)"),
]


@contextmanager
def served(tmp_path, settings=()):
    app = create_app(kit_config.build(tmp_path))
    if settings:
        db = connect(app.config["DATABASE"])
        with db.conn:
            db.conn.executemany("INSERT OR REPLACE INTO settings VALUES (?, ?)", settings)
        db.conn.close()
    server = create_server(app, host="127.0.0.1", port=0, **{**kit_config.WAITRESS, "threads": 2})
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def kit_url(tmp_path_factory):
    with served(tmp_path_factory.mktemp("kit")) as url:
        yield url


@contextmanager
def phone(browser, kit_url, lang="fr", scheme="light", javascript=False):
    context = browser.new_context(java_script_enabled=javascript, viewport=PHONE, color_scheme=scheme,
                                  locale="fr-FR", device_scale_factor=1, is_mobile=True)
    context.add_cookies([{"name": "lang", "value": lang, "url": kit_url}])
    try:
        yield context.new_page()
    finally:
        context.close()


def resident_pages(page, kit_url) -> list[str]:
    """Every page of the kit reachable by links from / and /welcome (not the language
    switch nor the portal's accept button, which only redirect; not vCard downloads)."""
    seen, queue = [], ["/", "/welcome"]
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.append(path)
        page.goto(kit_url + path)
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
            url = urlparse(urljoin(kit_url + path, href))
            target = url.path + (f"?{url.query}" if url.query else "")
            if (f"{url.scheme}://{url.netloc}" == kit_url and not url.path.startswith(("/langue/", "/welcome/open"))
                    and not url.path.endswith(".vcf") and target not in seen):
                queue.append(target)
    return seen


@pytest.fixture(scope="module")
def pages(browser, kit_url):
    with phone(browser, kit_url) as page:
        found = resident_pages(page, kit_url)
    assert len(found) >= 15, found
    return found


def axe_violations(page) -> list[str]:
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")  # CDP evaluation: not subject to the CSP
    result = page.evaluate("() => axe.run(document)")
    return [f"{v['id']} ({v['impact']}): {v['help']} — " + " | ".join(n["html"][:120] for n in v["nodes"][:3])
            for v in result["violations"]]


def problems_on_every_page(browser, kit_url, pages, lang, scheme, check) -> dict:
    """{path: what `check(page)` found} over every resident page, in one language and scheme."""
    problems = {}
    with phone(browser, kit_url, lang, scheme, javascript=True) as page:
        for path in pages:
            page.goto(kit_url + path)
            found = check(page)
            if found:
                problems[path] = found
    return problems


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("lang", LANGS)
def test_axe_finds_no_violation_on_any_resident_page(browser, kit_url, pages, lang, scheme):
    # axe needs JavaScript to run; the pages themselves have none (test_pages checks it).
    problems = problems_on_every_page(browser, kit_url, pages, lang, scheme, axe_violations)
    assert not problems, problems


def small_targets(page) -> list[str]:
    """Visible links, buttons and fields smaller than 44 x 44 CSS px. A radio button or a
    checkbox is measured by its label, which is what the finger taps."""
    return page.evaluate(f"""() => {{
        const out = [];
        for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')) {{
            const target = (el.type === 'radio' || el.type === 'checkbox') && el.closest('label') ? el.closest('label') : el;
            const box = target.getBoundingClientRect();
            if (box.width === 0 || box.height === 0 || box.right <= 0 || getComputedStyle(target).visibility === 'hidden') continue;
            if (box.width < {TARGET} || box.height < {TARGET})
                out.push(`${{target.outerHTML.slice(0, 80)}} ${{Math.round(box.width)}}x${{Math.round(box.height)}}`);
        }}
        return out;
    }}""")


@pytest.mark.parametrize("lang", LANGS)
def test_every_tap_target_is_at_least_44_px_on_a_360_px_phone(browser, kit_url, pages, lang):
    problems = problems_on_every_page(browser, kit_url, pages, lang, "light", small_targets)
    assert not problems, problems


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def printed(page, url) -> bytes:
    page.goto(url)
    page.emulate_media(media="print")
    return page.pdf(prefer_css_page_size=True)


@pytest.mark.parametrize("lang", LANGS)
def test_each_checklist_and_the_contact_sheet_print_on_one_a4_page(browser, kit_url, pages, lang):
    sheets = [p for p in pages if re.fullmatch(r"/risques/[a-z0-9-]+", p)] + ["/contacts"]
    assert len(sheets) >= 10, sheets
    counts = {}
    with phone(browser, kit_url, lang) as page:
        for path in sheets:
            pdf = printed(page, kit_url + path)
            assert re.search(rb"/MediaBox \[0 0 59[45][.\d]* 84[12][.\d]*\]", pdf)  # A4
            counts[path] = pdf_pages(pdf)
            if path != "/contacts":  # boxes to tick, the content date, the kit's address, the QR code
                assert page.locator("ul.check li").first.evaluate(
                    "li => getComputedStyle(li, '::before').borderTopStyle") == "solid"
            footer = page.locator("footer")
            assert footer.locator("time").is_visible() and "http://kit.lan" + path in footer.inner_text()
            assert footer.locator("svg").is_visible()
    assert all(n == 1 for n in counts.values()), counts


def test_in_a_crisis_the_steps_for_now_are_on_the_first_screen(browser, tmp_path):
    with served(tmp_path, [("mode", "crise"), ("active_risk", "inondation")]) as url:
        with phone(browser, url) as page:
            page.goto(url + "/risques/inondation")
            first = page.locator("#pendant li").first
            assert first.is_visible() and first.bounding_box()["y"] + 20 < PHONE["height"]
            assert page.locator("section.card").first.get_attribute("id") == "pendant"
            for phase in ("avant", "pendant", "apres"):  # the other phases one tap away
                assert page.locator(f'.jump a[href="#{phase}"]').is_visible()
            page.goto(url + "/")
            assert page.locator("main .card li").first.bounding_box()["y"] < PHONE["height"]
            assert page.locator('a[href="tel:112"]').count() == 1
            page.goto(url + "/risques")  # the list of risks puts the current one first
            assert page.locator("main .card a").first.get_attribute("href") == "/risques/inondation#pendant"
        for scheme in ("light", "dark"):  # the crisis-only parts pass axe too
            with phone(browser, url, "fr", scheme, javascript=True) as page:
                for path in ("/", "/risques", "/risques/inondation"):
                    page.goto(url + path)
                    assert not axe_violations(page), (path, scheme)
                    assert not small_targets(page), path


def test_the_header_is_one_row_and_the_skip_link_comes_first(browser, kit_url):
    with phone(browser, kit_url) as page:
        page.goto(kit_url + "/contacts")
        assert page.locator("header").bounding_box()["height"] <= 64  # was 230 px of a 640 px screen
        before_main = page.evaluate("""() => [...document.querySelectorAll('a[href], button, input, textarea, select')]
            .filter(e => e.compareDocumentPosition(document.querySelector('main')) & Node.DOCUMENT_POSITION_FOLLOWING)
            .map(e => e.getAttribute('href'))""")
        assert before_main == ["#main", "/", "#menu"]  # was 11 tab stops
        assert page.locator('nav a[aria-current="page"]').get_attribute("href") == "/contacts"
        page.keyboard.press("Tab")
        skip = page.locator(".skip")
        assert skip.evaluate("e => e === document.activeElement") and skip.bounding_box()["x"] >= 0


def test_emergency_buttons_are_big_and_named_apart(browser, kit_url):
    with phone(browser, kit_url) as page:
        for path in ("/", "/contacts"):
            page.goto(kit_url + path)
            for href in ("tel:112", "tel:15", "tel:17", "tel:18", "sms:114"):
                box = page.locator(f'.sos a[href="{href}"]').bounding_box()
                assert box["height"] >= 48 and box["width"] >= 48, (path, href, box)
        page.goto(kit_url + "/contacts")
        assert page.locator(".sos").bounding_box()["y"] < PHONE["height"]  # at the top
        names = page.eval_on_selector_all('a[href$=".vcf"]:not([href="/contacts.vcf"])',
                                          "links => links.map(a => a.textContent.trim())")
        assert len(names) >= 10 and len(set(names)) == len(names), names
        page.goto(kit_url + "/lieux")
        maps = page.eval_on_selector_all('a[href^="geo:"]', "links => links.map(a => a.textContent.trim())")
        assert maps and len(set(maps)) == len(maps), maps


def test_a_form_error_takes_the_focus_without_javascript(browser, kit_url):
    with phone(browser, kit_url) as page:
        page.goto(kit_url + "/messages")
        page.get_by_label("Votre message").fill("x" * 400)
        page.get_by_role("button", name="Envoyer").click()
        page.wait_for_load_state()
        assert page.url.endswith("/messages#errors") and page.title().startswith("Erreur")
        summary = page.locator("#errors")
        assert summary.is_visible() and summary.bounding_box()["y"] < PHONE["height"]
        assert page.locator("textarea").input_value() == "x" * 400  # what was typed comes back
        # The fragment target is focusable (tabindex=-1): the browser moves the focus there,
        # so a screen reader reads the errors first and Tab continues into the form.
        focused = page.context.new_cdp_session(page).send(
            "Runtime.evaluate", {"expression": "document.activeElement.id", "returnByValue": True})
        assert focused["result"]["value"] == "errors"


def sideways(page) -> list[str]:
    """If the page scrolls sideways, the elements whose content is wider than their box."""
    # The screen's width, not innerWidth: a mobile browser widens its layout viewport to
    # what sticks out, so innerWidth grows with the fault.
    width = page.viewport_size["width"]
    return page.evaluate(f"""() => document.documentElement.scrollWidth <= {width} ? [] :
        [...document.querySelectorAll('body *')].filter(e => e.scrollWidth > e.clientWidth + 1 && e.clientWidth)
        .slice(-3).map(e => `${{e.outerHTML.slice(0, 60)}} ${{e.scrollWidth}}>${{e.clientWidth}}`)""")


@pytest.mark.parametrize("lang", LANGS)
def test_zoomed_200_percent_nothing_sticks_out(browser, kit_url, pages, lang):
    """A 360 px phone zoomed to 200 % is 180 CSS px wide (WCAG 1.4.4, 1.4.10): long French
    words ("réapprovisionnement") wrap instead of running off the screen."""
    problems = {}
    with phone(browser, kit_url, lang, javascript=True) as page:
        page.set_viewport_size({"width": PHONE["width"] // 2, "height": PHONE["height"] // 2})
        for path in pages:
            page.goto(kit_url + path)
            found = sideways(page)
            if found:
                problems[path] = found
    assert not problems, problems
