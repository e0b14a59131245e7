"""Captive portal, app side: answer the phones' connectivity probes.

Strategy (as offspot/captive-portal and IIAB's captiveportal role do): a client not yet accepted gets a 302 to a small
welcome page, so its OS opens the sign-in sheet; one tap on "Open the kit" accepts its
address for an hour of idle time, after which its probes get each OS's own "online"
answer, so the phone keeps the network. Requests for any other host go to the kit.
"""
from __future__ import annotations

import threading
import time
from urllib.parse import urljoin

from flask import Blueprint, Response, current_app, redirect, render_template, request

from kit.web.common import client_ip

bp = Blueprint("portal", __name__)

APPLE_SUCCESS = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
FIREFOX_CANONICAL = (
    '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>'
)

# path → (status, body, content type, extra headers) once the client is accepted.
PROBE_SUCCESS = {
    "/generate_204": (204, "", None, {}),                      # Android, ChromeOS
    "/gen_204": (204, "", None, {}),                           # Android (www.google.com)
    "/hotspot-detect.html": (200, APPLE_SUCCESS, "text/html", {}),         # iOS, macOS
    "/library/test/success.html": (200, APPLE_SUCCESS, "text/html", {}),   # older Apple
    "/connecttest.txt": (200, "Microsoft Connect Test", "text/plain", {}),  # Windows 10/11
    "/ncsi.txt": (200, "Microsoft NCSI", "text/plain", {}),                 # older Windows
    "/canonical.html": (200, FIREFOX_CANONICAL, "text/html", {}),            # Firefox
    "/success.txt": (200, "success\n", "text/plain", {}),                    # Firefox
    "/check_network_status.txt": (200, "NetworkManager is online\n", "text/plain", {}),  # GNOME
}
# Hosts whose probe is the root path.
HOST_PROBES = {
    "connectivity-check.ubuntu.com": (204, "", None, {"X-NetworkManager-Status": "online"}),
}


class AcceptedClients:
    """Client addresses that tapped "Open the kit", forgotten after `idle` seconds unseen."""

    def __init__(self, idle: float, clock=time.monotonic):
        self.idle = idle
        self.clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def accept(self, address: str) -> None:
        with self._lock:
            self._seen[address] = self.clock()
            if len(self._seen) > 4096:
                self._forget_idle()

    def is_accepted(self, address: str, *, touch: bool = True) -> bool:
        now = self.clock()
        with self._lock:
            last = self._seen.get(address)
            if last is None or now - last > self.idle:
                self._seen.pop(address, None)
                return False
            if touch:
                self._seen[address] = now
            return True

    def _forget_idle(self) -> None:
        now = self.clock()
        for address in [a for a, t in self._seen.items() if now - t > self.idle]:
            del self._seen[address]


def init_app(app) -> None:
    app.extensions["portal"] = AcceptedClients(app.config["PORTAL_IDLE_SECONDS"])
    app.before_request(intercept)


def _host() -> str:
    host = request.host.lower()
    if host.startswith("["):  # [::1]:8080
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0]


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _answer(status: int, body: str, content_type: str | None, headers: dict) -> Response:
    response = Response(body, status=status, content_type=content_type)
    response.headers.update(headers)
    return _no_store(response)


def welcome_url() -> str:
    return urljoin(current_app.config["PORTAL_URL"], "welcome")


def intercept():
    """Before every request: probes and foreign hosts are the portal's business."""
    clients: AcceptedClients = current_app.extensions["portal"]
    host = _host()
    known = host in current_app.config["PORTAL_HOSTS"]
    success = PROBE_SUCCESS.get(request.path) or (HOST_PROBES.get(host) if request.path == "/" else None)
    if success is not None and not (known and request.path == "/"):
        if clients.is_accepted(client_ip()):
            return _answer(*success)
        return _no_store(redirect(welcome_url(), 302))
    if not known:
        target = current_app.config["PORTAL_URL"]
        if not clients.is_accepted(client_ip()):
            target = welcome_url()
        return _no_store(redirect(target, 302))
    clients.is_accepted(client_ip())  # any visit keeps an accepted phone's slot alive
    return None


@bp.get("/welcome")
def welcome():
    return _no_store(Response(render_template("welcome.html")))


@bp.get("/welcome/open")
def open_kit():
    """The one button of the welcome page: accept this phone, then show the kit."""
    current_app.extensions["portal"].accept(client_ip())
    return _no_store(redirect("/", 302))  # relative: kit.lan and 10.42.0.1 both work
