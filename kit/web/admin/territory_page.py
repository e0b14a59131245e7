"""/admin/territoire: every kit of the territory (kit/core/territory_view.py)."""
from __future__ import annotations

from flask import Blueprint

from kit.web.admin import requires
from kit.web.territory_app import page

bp = Blueprint("territory_page", __name__, url_prefix="/admin")


@bp.get("/territoire")
@requires("volunteer")
def territory():
    return page()
