"""JSON from outside (request bodies, bundles): parsed with limits, ValueError otherwise.

Python's json module recurses once per nesting level, so `[[[[…]]]]` 1000 deep raises
RecursionError (not ValueError: callers that catch ValueError answered 500); it also
accepts NaN, Infinity and 1e999 (→ inf), which no field of the kit can hold and which
RFC 8259 §6 does not allow. A "\ud800" escape makes a lone surrogate, which cannot be
encoded as UTF-8 (SQLite refused it with a 500): RFC 8259 §8.2 leaves such strings'
behaviour unpredictable, so they are refused too.
"""
from __future__ import annotations

import json
import math
import re

MAX_DEPTH = 32  # the kit's documents nest 4 levels at most
SURROGATE = re.compile("[\ud800-\udfff]")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def loads(data: str | bytes, max_depth: int = MAX_DEPTH):
    """json.loads, refusing nesting deeper than `max_depth`, NaN/Infinity and overflowing
    numbers with ValueError (json.JSONDecodeError is one too)."""
    try:
        value = json.loads(data, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if SURROGATE.search(item):
                raise ValueError("JSON text holds a lone surrogate (\\ud800-\\udfff)")
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise ValueError("JSON nested too deeply")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return value
