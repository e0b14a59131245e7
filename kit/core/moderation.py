"""Moderation: residents' posts wait for an operator before they go on the radio.

A post is shown on its own kit at once (pending_posts) and becomes a shared record only
when approved. Operators can also hide or correct any shared message: a Deletion or a
Correction record, which reaches every kit and is never undone by a late original.
"""
from __future__ import annotations

import time

from kit.mesh import records as r
from kit.storage.json_records import parse_uid

POST_TYPES = {"board": r.Board, "need": r.Need, "offer": r.Offer}


class ModerationError(ValueError):
    pass


def submit(db, kind: str, text: str, name: str, *, exercise: bool) -> int:
    cursor = db.execute(
        "INSERT INTO pending_posts (kind, text, name, created_at, exercise) VALUES (?, ?, ?, ?, ?)",
        [kind, text, name, int(time.time()), int(exercise)])
    return cursor.lastrowid


def pending(db) -> list[dict]:
    cursor = db.execute("SELECT * FROM pending_posts WHERE state = 'pending' ORDER BY id")
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def pending_post(db, post_id: int) -> dict:
    """A post still waiting for an operator; ModerationError otherwise."""
    cursor = db.execute("SELECT * FROM pending_posts WHERE id = ?", [post_id])
    row = cursor.fetchone()
    if row is None:
        raise ModerationError(f"no post {post_id}")
    post = dict(zip([d[0] for d in cursor.description], row))
    if post["state"] != "pending":
        raise ModerationError(f"post {post_id} was already {post['state']}")
    return post


def record_of(post: dict) -> tuple[type[r.Record], dict]:
    """The record type and fields a resident's post becomes once approved."""
    author = "author" if post["kind"] == "board" else "name"
    return POST_TYPES[post["kind"]], {"text": post["text"], author: post["name"]}


def target(db, uid_text: str) -> r.Uid:
    """The shared message an operator hides or corrects; ModerationError if unknown."""
    try:
        uid = parse_uid(uid_text)
    except ValueError as exc:
        raise ModerationError(str(exc)) from None
    if not db.execute("SELECT 1 FROM records WHERE origin = ? AND seq = ?", list(uid)).fetchone():
        raise ModerationError(f"no message {uid_text}")
    return r.Uid(*uid)
