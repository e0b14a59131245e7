"""How people's names are matched for the "I'm safe" lookup."""
from __future__ import annotations

import unicodedata


def name_key(name: str) -> str:
    """Normalise a person's name for exact lookup: case, accents, hyphens and spacing fold.

    "  Jean-Pierre  DURAND " and "jean pierre durand" are the same person to a family
    typing on a phone; "Durand" alone is not (no prefix or partial matches).
    """
    # NFKD twice: compatibility forms (𝑨, ﬁ) may casefold into letters that decompose again.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", name).casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    cleaned = "".join(c if c.isalnum() else " " for c in letters)
    return " ".join(cleaned.split())
