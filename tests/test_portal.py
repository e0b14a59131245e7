"""Captive portal, app side: probes before and after the tap on "Open the kit"."""
import re

import pytest

from kit.web.portal import AcceptedClients

PHONE = {"REMOTE_ADDR": "10.42.0.57"}

PROBES = [
    # (host, path, expected status, expected body, expected header)
    ("connectivitycheck.gstatic.com", "/generate_204", 204, b"", None),
    ("clients3.google.com", "/generate_204", 204, b"", None),
    ("www.google.com", "/gen_204", 204, b"", None),
    ("captive.apple.com", "/hotspot-detect.html", 200,
     b"<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>", None),
    ("www.apple.com", "/library/test/success.html", 200,
     b"<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>", None),
    ("www.msftconnecttest.com", "/connecttest.txt", 200, b"Microsoft Connect Test", None),
    ("www.msftncsi.com", "/ncsi.txt", 200, b"Microsoft NCSI", None),
    ("detectportal.firefox.com", "/success.txt", 200, b"success\n", None),
    ("detectportal.firefox.com", "/canonical.html", 200,
     b'<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>', None),
    ("nmcheck.gnome.org", "/check_network_status.txt", 200, b"NetworkManager is online\n", None),
    ("connectivity-check.ubuntu.com", "/", 204, b"", ("X-NetworkManager-Status", "online")),
]


@pytest.mark.parametrize("host, path, status, body, header", PROBES)
def test_probe_redirects_then_succeeds_after_the_tap(client, host, path, status, body, header):
    before = client.get(path, base_url=f"http://{host}", environ_base=PHONE)
    assert before.status_code == 302
    assert before.headers["Location"] == "http://kit.lan/welcome"
    assert before.headers["Cache-Control"] == "no-store"

    tap = client.get("/welcome/open", base_url="http://kit.lan", environ_base=PHONE)
    assert tap.status_code == 302 and tap.headers["Location"] == "/"

    after = client.get(path, base_url=f"http://{host}", environ_base=PHONE)
    assert after.status_code == status
    assert after.data == body
    assert after.headers["Cache-Control"] == "no-store"
    if header:
        assert after.headers[header[0]] == header[1]


def test_acceptance_is_per_phone(client):
    client.get("/welcome/open", base_url="http://kit.lan", environ_base=PHONE)
    other = client.get("/generate_204", base_url="http://connectivitycheck.gstatic.com",
                       environ_base={"REMOTE_ADDR": "10.42.0.99"})
    assert other.status_code == 302


def test_welcome_page_is_small_and_has_one_way_in(client):
    page = client.get("/welcome", base_url="http://kit.lan", environ_base=PHONE)
    assert page.status_code == 200
    assert len(page.data) <= 5 * 1024
    html = page.get_data(as_text=True)
    # One way into the kit; the other links only switch the language (issue 14).
    ways_in = [h for h in re.findall(r'<a [^>]*href="([^"]+)"', html) if not h.startswith("/langue/")]
    assert ways_in == ["/welcome/open"]
    assert 'href="/langue/en?next=/welcome"' in html and "<main>" in html
    assert "<script" not in html
    assert "internet" in html


def test_unknown_host_goes_to_the_kit(client):
    response = client.get("/some/page?x=1", base_url="http://www.example.org", environ_base=PHONE)
    assert response.status_code == 302 and response.headers["Location"] == "http://kit.lan/welcome"
    client.get("/welcome/open", base_url="http://kit.lan", environ_base=PHONE)
    response = client.get("/some/page", base_url="http://www.example.org", environ_base=PHONE)
    assert response.headers["Location"] == "http://kit.lan/"


def test_kit_pages_answer_on_kit_names(client):
    for host in ("kit.lan", "10.42.0.1", "localhost"):
        assert client.get("/", base_url=f"http://{host}").status_code == 200


def test_acceptance_expires_after_idle_time_and_visits_keep_it():
    now = [0.0]
    clients = AcceptedClients(idle=3600, clock=lambda: now[0])
    clients.accept("a")
    now[0] = 3000
    assert clients.is_accepted("a")      # a visit at 50 min refreshes…
    now[0] = 6000
    assert clients.is_accepted("a")      # …so it is still there 50 min later
    now[0] = 6000 + 3601
    assert not clients.is_accepted("a")  # idle over an hour: forgotten
