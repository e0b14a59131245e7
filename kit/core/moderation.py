"""Moderation: residents' posts wait for an operator before they go on the radio.

A post is shown on its own kit at once (pending_posts) and becomes a shared record only
when approved. Operators can also hide or correct any shared message: a Deletion or a
Correction record, which reaches every kit and is never undone by a late original.
"""
from __future__ import annotations

import time

from kit.core import journal
from kit.storage import queries as records, settings
from kit.storage.db import transaction
from kit.mesh import records as r

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


def _post(db, post_id: int) -> dict:
    cursor = db.execute("SELECT * FROM pending_posts WHERE id = ?", [post_id])
    row = cursor.fetchone()
    if row is None:
        raise ModerationError(f"no post {post_id}")
    post = dict(zip([d[0] for d in cursor.description], row))
    if post["state"] != "pending":
        raise ModerationError(f"post {post_id} was already {post['state']}")
    return post


def approve(db, post_id: int, operator: str, origin: int) -> r.Record:
    """The post becomes a shared record (same text, its original exercise flag)."""
    fields = {}
    with records.LOCAL_WRITES, transaction(db):  # published and marked approved, or neither
        post = _post(db, post_id)
        fields["text"] = post["text"]
        fields["author" if post["kind"] == "board" else "name"] = post["name"]
        record = records.publish(db, POST_TYPES[post["kind"]], origin, exercise=bool(post["exercise"]),
                                 **fields)
        db.execute("UPDATE pending_posts SET state = 'approved', decided_by = ?, origin = ?, seq = ? "
                   "WHERE id = ?", [operator, *record.uid, post_id])
        journal.log(db, operator, "web", "moderation.approve", records.format_uid(record.uid),
                    post["text"][:120], exercise=bool(post["exercise"]), verification="verifiee")
    return record


def reject(db, post_id: int, operator: str) -> None:
    post = _post(db, post_id)
    with transaction(db):
        db.execute("UPDATE pending_posts SET state = 'rejected', decided_by = ? WHERE id = ?",
                   [operator, post_id])
        journal.log(db, operator, "web", "moderation.reject", f"local-{post_id}", post["text"][:120],
                    exercise=bool(post["exercise"]))


def _target(db, uid_text: str) -> r.Uid:
    try:
        uid = records.parse_uid(uid_text)
    except ValueError as exc:
        raise ModerationError(str(exc)) from None
    if not db.execute("SELECT 1 FROM records WHERE origin = ? AND seq = ?", uid).fetchone():
        raise ModerationError(f"no message {uid_text}")
    return r.Uid(*uid)


def hide(db, uid_text: str, operator: str, origin: int, reason: str = "") -> r.Record:
    target = _target(db, uid_text)
    exercise = settings.get(db, "exercise") == "1"
    record = records.publish(db, r.Deletion, origin, exercise=exercise, target=target, reason=reason[:140])
    journal.log(db, operator, "web", "message.hide", uid_text, reason, exercise=exercise, verification="verifiee")
    return record


def correct(db, uid_text: str, text: str, operator: str, origin: int) -> r.Record:
    target = _target(db, uid_text)
    exercise = settings.get(db, "exercise") == "1"
    record = records.publish(db, r.Correction, origin, exercise=exercise, target=target, text=text)
    journal.log(db, operator, "web", "message.correct", uid_text, text[:120], exercise=exercise,
                verification="verifiee")
    return record
