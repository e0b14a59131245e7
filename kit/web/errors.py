"""Error pages that keep what the visitor typed."""
from __future__ import annotations

from flask import render_template, request
from flask_wtf.csrf import CSRFError

from ..i18n import _
from . import forms
from .common import RERENDER


def init_app(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_failed(_error):
        message = _("This form expired or your browser refused its cookie. "
                    "Your text is below: please send it again.")
        render = RERENDER.get(request.endpoint)
        if render is not None:
            values = {key: forms.normalise(value) for key, value in request.form.items()}
            return render(values, [message]), 400
        return render_template("error.html", title=_("Form expired"), message=message), 400
