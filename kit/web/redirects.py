"""One rule for every redirect target taken from a request (`?next=`): our own pages only.

Browsers do not follow the target as written: the WHATWG URL parser drops tabs and newlines
anywhere and reads a backslash as a slash (https://url.spec.whatwg.org/#concept-basic-url-parser),
so `/\t/evil.example` and `/\\evil.example` both become `//evil.example`, another site. The
target is therefore refused, not cleaned, when it holds anything a browser would rewrite;
what remains is checked as a path on this host.
"""
from __future__ import annotations

from urllib.parse import quote, urlsplit


def safe_target(target: str | None, default: str = "/", prefix: str = "/") -> str:
    """`target` if it is a plain path on this kit starting with `prefix`, else `default`."""
    if not isinstance(target, str) or not target:
        return default
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target) or "\\" in target:
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(prefix):
        return default
    # Percent-encode anything that is not plain ASCII so the header stays valid.
    return quote(target, safe="/?&=#%+-._~:@!$'()*,;")


def login_redirect(path: str) -> str:
    """The login page, coming back to `path` afterwards (quoted: a path may hold anything)."""
    return "/admin/login?next=" + quote(path, safe="/")
