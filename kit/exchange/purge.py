"""After the crisis: purge residents' personal data older than the retention period.

What goes: check-ins (name and note), residents' posts (board, needs, offers: text and
name), the text of corrections made to them, residents' posts still waiting in moderation,
and the details the main courante copied from them. What stays: alerts, site statuses,
field reports, volunteers' radio texts and the main courante's lines themselves (who did
what, when: the legal log), with their personal details blanked.

Why records are blanked, not deleted: the sync log must stay contiguous per origin, or
the anti-entropy digests would ask every other kit for the "missing" records and bring the
personal data straight back. So a purged record keeps its id and kind, its personal
fields become empty and it is hidden. If another kit later asks for it, it gets the empty
version.

Why the cut-off is the record's `created_at` and not the moment the mode went to "apres":
created_at is stated by the record's origin and is the same on every kit, so kits with the
same `retention_days` (setting, default 30) purge exactly the same records, whatever their
mode or clock. A kit that has not purged yet may still hand a full record to one that has
not got it; that kit blanks it at its next purge (it is just as old there).

Exercise data is purgeable at once (`exercise=True`): drills use real names too.
"""
from __future__ import annotations

import json
import time

from kit.storage import settings
from kit.storage.db import transaction

DEFAULT_RETENTION_DAYS = 30
RESIDENT_KINDS = ("checkin", "board", "need", "offer")
PERSONAL_FIELDS = {"checkin": ("name", "note"), "board": ("text", "author"),
                   "need": ("text", "name"), "offer": ("text", "name")}
# Main courante actions whose detail copies a resident's text or name.
# Written in the main courante in place of purged details (stored text: both languages).
PURGED = "[données personnelles effacées · personal data purged]"
JOURNAL_ACTIONS = ("moderation.approve", "moderation.reject", "checkin", "safe", "message.correct")


def retention_days(db) -> int:
    try:
        days = int(settings.get(db, "retention_days", str(DEFAULT_RETENTION_DAYS)))
    except ValueError:
        days = DEFAULT_RETENTION_DAYS
    return max(days, 0)


def purge(db, *, older_than_days: int | None = None, exercise: bool = False, now: int | None = None) -> dict:
    """Blank residents' personal data created before the cut-off (and, with `exercise`,
    all exercise data whatever its age). Idempotent. Returns counts per kind of data."""
    now = int(time.time()) if now is None else now
    days = retention_days(db) if older_than_days is None else older_than_days
    cutoff = now - days * 86400
    marks = ", ".join("?" * len(RESIDENT_KINDS))
    condition = "(created_at <= ? OR (? AND exercise = 1))"
    counts = {"records": 0, "corrections": 0, "pending_posts": 0, "journal": 0}
    with transaction(db):
        rows = db.execute(f"SELECT origin, seq, kind, body FROM records WHERE kind IN ({marks}) AND {condition}",
                          [*RESIDENT_KINDS, cutoff, int(exercise)]).fetchall()
        for origin, seq, kind, body in rows:
            values = json.loads(body)
            if not any(values.get(f) for f in PERSONAL_FIELDS[kind]):
                continue  # already purged
            values.update({f: "" for f in PERSONAL_FIELDS[kind]})
            db.execute("UPDATE records SET body = ? WHERE origin = ? AND seq = ?",
                       [json.dumps(values, ensure_ascii=False, separators=(",", ":")), origin, seq])
            counts["records"] += 1
        # Projections and corrections of every purged record (also those purged earlier).
        db.execute(f"UPDATE checkins SET name = '', name_key = '', note = '', hidden = 1 "
                   f"WHERE {condition}", [cutoff, int(exercise)])
        db.execute(f"UPDATE messages SET text = '', name = '', hidden = 1 "
                   f"WHERE kind IN ('board', 'need', 'offer') AND {condition}", [cutoff, int(exercise)])
        for origin, seq, body in db.execute(
                f"SELECT c.origin, c.seq, c.body FROM records c JOIN records t "
                f"ON t.origin = c.target_origin AND t.seq = c.target_seq "
                f"WHERE c.kind = 'correction' AND t.kind IN ({marks}) "
                f"AND (t.created_at <= ? OR (? AND t.exercise = 1))",
                [*RESIDENT_KINDS, cutoff, int(exercise)]).fetchall():
            values = json.loads(body)
            if values.get("text"):
                values["text"] = ""
                db.execute("UPDATE records SET body = ? WHERE origin = ? AND seq = ?",
                           [json.dumps(values, ensure_ascii=False, separators=(",", ":")), origin, seq])
                counts["corrections"] += 1
        counts["pending_posts"] = db.execute(
            f"DELETE FROM pending_posts WHERE {condition}", [cutoff, int(exercise)]).rowcount
        blank = PURGED
        actions = " OR ".join("action LIKE ?" for _a in JOURNAL_ACTIONS)
        counts["journal"] = db.execute(
            f"UPDATE journal SET detail = ? WHERE ({actions}) AND detail != ? "
            f"AND (at <= ? OR (? AND exercise = 1))",
            [blank, *(f"{a}%" for a in JOURNAL_ACTIONS), blank, cutoff, int(exercise)]).rowcount
    counts["cutoff"] = cutoff
    return counts
