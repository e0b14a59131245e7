"""A response cache in front of the residents' app, for the crowd on the hotspot.

The public pages (home, risks, checklists, contacts, sites, and their JSON twins) are the
same for everyone who reads the same language: rendering them once per change instead of
once per phone is what lets one Pi serve a crowd. An entry is reused while

  * nothing was committed to the database (SQLite's `PRAGMA data_version`, read on a
    connection of its own so that every writer counts, this process's included),
  * the radio's state and last exchange are unchanged (the home page shows them),
  * and it is younger than `ttl` seconds (alerts expire with the clock).

Only answers that set no cookie, vary on no cookie and allow storing are kept; pages with
forms carry a per-visitor CSRF token and never qualify.
"""
from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections import OrderedDict

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from kit.web.i18n import DEFAULT_LANG, LANGS

CACHED_PREFIXES = ("/risques", "/contacts", "/lieux", "/api/v1/risks", "/api/v1/contacts",
                   "/api/v1/sites", "/api/v1/alerts", "/api/v1/status")
LANG_COOKIE = re.compile(r"(?:^|;\s*)lang=([a-z]+)")


class PageCache:
    def __init__(self, app, max_entries: int = 256, ttl: float = 30.0):
        self.app = app
        self.inner = app.wsgi_app
        self.max_entries = max_entries
        self.ttl = ttl
        self.entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._langs: dict[str, str] = {}
        self._rendering: dict[tuple, threading.Event] = {}
        self.hits = self.misses = 0
        app.wsgi_app = self

    # --- the key and the version of what a page shows -----------------------------------
    def _lang(self, environ) -> str:
        match = LANG_COOKIE.search(environ.get("HTTP_COOKIE", ""))
        if match and match[1] in LANGS:
            return match[1]
        header = environ.get("HTTP_ACCEPT_LANGUAGE", "")
        lang = self._langs.get(header)
        if lang is None:
            lang = parse_accept_header(header, LanguageAccept).best_match(["fr", "en"], default=DEFAULT_LANG)
            if len(self._langs) < 1024:
                self._langs[header] = lang
        return lang

    def _version(self) -> tuple:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(self.app.config["DATABASE"], check_same_thread=False)
        radio = self.app.extensions["kit"].radio.status()
        return (conn.execute("PRAGMA data_version").fetchone()[0], radio.get("state"), radio.get("last_sync"),
                radio.get("node"), int(time.monotonic() // self.ttl))

    def _cacheable_request(self, environ) -> bool:
        path = environ.get("PATH_INFO", "")
        host = environ.get("HTTP_HOST", "").rsplit(":", 1)[0].lower()
        return (environ.get("REQUEST_METHOD") in ("GET", "HEAD")
                and (path == "/" or path.startswith(CACHED_PREFIXES))
                and host in self.app.config["PORTAL_HOSTS"])

    # --- WSGI -----------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        if not self._cacheable_request(environ):
            return self.inner(environ, start_response)
        gzip = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
        key = (environ["PATH_INFO"], environ.get("QUERY_STRING", ""), self._lang(environ), gzip)
        version = self._version()
        entry, leader = self._lookup(key, version)
        if entry is None and leader is None:  # another thread is rendering it: wait for it
            entry, leader = self._lookup(key, version, wait=True)
        if entry is None:
            try:
                entry, status, headers, body = self._render(environ, key, version)
            finally:
                if leader is not None:
                    with self._lock:
                        self._rendering.pop(key, None)
                    leader.set()
            if entry is None:  # not cacheable after all: pass the answer through
                start_response(status, headers)
                return [body]
        portal = self.app.extensions.get("portal")
        if portal is not None:  # a visit keeps an accepted phone's slot, as in portal.intercept
            portal.is_accepted(environ.get("REMOTE_ADDR", "?"))
        _version, status, headers, body, etag = entry
        if etag and environ.get("HTTP_IF_NONE_MATCH") == etag:
            kept = [(k, v) for k, v in headers if k in ("ETag", "Cache-Control", "Vary")]
            start_response("304 NOT MODIFIED", kept)
            return [b""]
        start_response(status, headers)
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def _lookup(self, key, version, wait: bool = False):
        """(entry, None) on a hit; else (None, event) when this thread must render it, or
        (None, None) when another thread is already rendering it (single flight: a crowd
        arriving just after a change renders the page once, not once per phone)."""
        if wait:
            with self._lock:
                pending = self._rendering.get(key)
            if pending is not None:
                pending.wait(5)
        with self._lock:
            entry = self.entries.get(key)
            if entry is not None and entry[0] == version:
                self.entries.move_to_end(key)
                self.hits += 1
                return entry, None
            self.misses += 1
            if key in self._rendering and not wait:
                return None, None
            event = self._rendering[key] = self._rendering.get(key) or threading.Event()
            return None, event

    def _render(self, environ, key, version):
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        result = self.inner(environ, capture)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        status, headers = captured["status"], captured["headers"]
        names = {k.lower(): v for k, v in headers}
        if (not status.startswith("200") or "set-cookie" in names or "cookie" in names.get("vary", "").lower()
                or "no-store" in names.get("cache-control", "")):
            return None, status, headers, body
        entry = (version, status, headers, body, names.get("etag"))
        with self._lock:
            self.entries[key] = entry
            while len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)
        return entry, status, headers, body
