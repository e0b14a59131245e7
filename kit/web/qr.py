"""Inline SVG QR codes made by segno: no image file, no network, sized by the page's CSS."""
from __future__ import annotations

import segno
from markupsafe import Markup

KIT_URL = "http://kit.lan/"
QR_OPTIONS = {"error": "m", "micro": False}
SVG_OPTIONS = {"border": 4, "dark": "#000", "light": "#fff", "omitsize": True}  # sized by CSS (mm)


def qr_svg(payload: str) -> Markup:
    """An inline SVG QR code (a viewBox, no size: the sheet's CSS sizes it in mm); the
    payload is encoded in the modules, never written into the SVG as text."""
    return Markup(segno.make(payload, **QR_OPTIONS).svg_inline(**SVG_OPTIONS))
