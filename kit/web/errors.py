"""Error pages that keep what the visitor typed."""
from __future__ import annotations

import errno
import logging
import sqlite3

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError

from kit.web import forms
from kit.web.common import RERENDER
from kit.web.i18n import _

log = logging.getLogger(__name__)


def storage_full(error: BaseException) -> bool:
    """SQLite's SQLITE_FULL (or the I/O error it can give then), or the OS's ENOSPC: the
    data folder has no room left."""
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        return "full" in text or "disk i/o error" in text
    return isinstance(error, OSError) and error.errno == errno.ENOSPC


def keep_typed(message: str, status: int):
    """Show the form again with the visitor's text and `message`, or a plain page."""
    if request.path.startswith("/api/"):
        return jsonify({"error": message}), status
    render = RERENDER.get(request.endpoint)
    if render is not None and request.method == "POST":
        values = {key: forms.normalise(value) for key, value in request.form.items()}
        return render(values, [message]), status
    return render_template("error.html", title=_("Not saved"), message=message), status


def init_app(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_failed(_error):
        return keep_typed(_("This form expired or your browser refused its cookie. "
                            "Your text is below: please send it again."), 400)

    @app.errorhandler(sqlite3.OperationalError)
    @app.errorhandler(OSError)
    def disk_full(error):
        if not storage_full(error):
            raise error
        log.error("data folder full: %s", error)
        body, status = keep_typed(_("The kit has no room left to save this. Nothing was saved: "
                                    "your text is below. Tell the mairie's team."), 503)
        return body, status, {"Retry-After": "60"}
