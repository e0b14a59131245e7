"""One rule for the characters of free text (alerts, messages, check-ins, notes).

Refused: C0 and C1 control characters except newline and tab (NUL truncates C strings and
the radio's text packing; ESC starts terminal escape sequences in logs and `kit` output),
lone surrogates (not encodable as UTF-8: SQLite and the radio cannot store them), the
Unicode bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069:
"Trojan Source", CVE-2021-42574, make text display in another order than it reads), and
U+FFFD (what a decoder makes of bytes that were not UTF-8).
"""
from __future__ import annotations

import unicodedata

ALLOWED_CONTROLS = frozenset("\n\t")
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def bad_character(value: str) -> str | None:
    """The first character free text may not hold, or None."""
    for c in value:
        if c in BIDI_CONTROLS or c == "\ufffd":
            return c
        if unicodedata.category(c) in ("Cc", "Cs") and c not in ALLOWED_CONTROLS:
            return c
    return None
