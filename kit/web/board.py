"""The public board, and needs and offers (entraide): read and post, no JavaScript."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request

from kit.core import moderation
from kit.storage import queries as records
from kit.web import forms
from kit.web.common import kit_state, rate_limited, rerenders
from kit.web.connection import get_db
from kit.web.i18n import _
from kit.web.i18n import ngettext_ as ngettext

bp = Blueprint("board", __name__)

PAGES = {
    # endpoint → (template, kinds shown, kinds a post may take)
    "board.board": ("board.html", ("board", "radio"), ("board",)),
    "board.mutual_aid": ("mutual_aid.html", ("need", "offer"), ("need", "offer")),
}


def submit_post(kind: str, values: dict) -> str:
    """A resident's post: on this kit's board at once, on the radio once an operator
    approves it (kit/moderation.py). Returns its local id."""
    post_id = moderation.submit(get_db(), kind, values["text"], values.get("name", ""),
                                exercise=kit_state()["exercise"])
    return f"local-{post_id}"


def too_many(wait: int) -> str:
    return ngettext("Too many messages from this phone. Please wait %(num)d minute and send again.",
                    "Too many messages from this phone. Please wait %(num)d minutes and send again.",
                    max(1, (wait + 59) // 60))


def handle_post(endpoint: str):
    template, _shown, kinds = PAGES[endpoint]
    values, errors = forms.validate_post(request.form)
    kind = request.form.get("kind", kinds[0])
    values["kind"] = kind if kind in kinds else kinds[0]
    if kind not in kinds:
        errors.append(_("Please choose what kind of message this is."))
    if errors:
        return render_board(endpoint, values, errors), 400
    wait = rate_limited("post")
    if wait:
        return render_board(endpoint, values, [too_many(wait)]), 429
    post_id = submit_post(values["kind"], values)
    return redirect(f"{request.path}?ok={post_id}#ok", 303)


def render_board(endpoint: str, values: dict | None = None, errors: list[str] | None = None) -> str:
    template, shown, kinds = PAGES[endpoint]
    return render_template(
        template,
        messages=records.board_messages(get_db(), shown),
        values=values or {"kind": kinds[0]},
        errors=errors or [],
        posted=request.args.get("ok", ""),
        max_text=forms.MAX_TEXT,
        max_name=forms.MAX_NAME,
    )


@bp.route("/messages", methods=["GET", "POST"])
def board():
    if request.method == "POST":
        return handle_post("board.board")
    return render_board("board.board")


@bp.route("/entraide", methods=["GET", "POST"])
def mutual_aid():
    if request.method == "POST":
        return handle_post("board.mutual_aid")
    return render_board("board.mutual_aid")


for _endpoint in PAGES:
    rerenders(_endpoint)(lambda values, errors, e=_endpoint: render_board(e, values, errors))
