"""WCAG AA contrast of the kit's colour pairs, in light and dark mode."""
import re
from pathlib import Path

import pytest

CSS = (Path(__file__).parent.parent / "kit/web/templates/base.html").read_text()
# (foreground, background, minimum ratio): 4.5 for text, bold alert titles included.
PAIRS = [("fg", "bg", 4.5), ("mut", "bg", 4.5), ("ln", "bg", 4.5), ("al", "alb", 4.5),
         ("ok", "okb", 4.5), ("ex", "exb", 4.5), ("bg", "ln", 4.5), ("fg", "alb", 4.5), ("fg", "okb", 4.5)]


def palette(block: str) -> dict:
    return dict(re.findall(r"--(\w+):(#[0-9a-fA-F]{3,6})", block))


def luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


LIGHT = palette(re.search(r":root\{([^}]*)\}", CSS).group(1))
DARK = LIGHT | palette(re.search(r"prefers-color-scheme:dark\)\{:root\{([^}]*)\}", CSS).group(1))


@pytest.mark.parametrize("scheme", [LIGHT, DARK], ids=["light", "dark"])
@pytest.mark.parametrize("fg, bg, minimum", PAIRS)
def test_contrast_meets_wcag_aa(scheme, fg, bg, minimum):
    assert contrast(scheme[fg], scheme[bg]) >= minimum, (fg, bg, scheme[fg], scheme[bg])


def test_contrast_formula():
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
