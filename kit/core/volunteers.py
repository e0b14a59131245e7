"""Volunteers' handhelds: first-class but bounded.

Every handheld holds the channel key, so a node number says nothing about who holds the
radio. A handheld the crisis cell has enrolled (by its node number, in the profile or on
the crisis cell's pages) acts at once: its `#site` changes the site on every kit, its
`#besoin` goes to every board. Any other node's commands wait here until an operator
approves them; its plain texts are shown as coming from that radio, never as a kit.
"""
from __future__ import annotations

import json
import time

from kit.core.messages import _
from kit.core.volunteer_commands import Planned
from kit.mesh import records as r
from kit.storage import json_records

MAX_HELD_PER_NODE = 5


class VolunteerError(ValueError):
    pass


def parse_node(text: str) -> int:
    """'!a1b2c3d4', 'a1b2c3d4' or a decimal node number → int; VolunteerError otherwise."""
    text = text.strip().lower()
    try:
        node = int(text[1:], 16) if text.startswith("!") else int(text, 16) if len(text) == 8 else int(text)
    except ValueError:
        node = 0
    if not 1 <= node < r.MAX_NODE:
        raise VolunteerError(_("A radio is named by its node number, e.g. !a1b2c3d4."))
    return node


def is_enrolled(db, node: int) -> bool:
    return db.execute("SELECT 1 FROM enrolled_nodes WHERE node = ?", [node]).fetchone() is not None


def enroll(db, node: int, label: str, by: str) -> bool:
    """True when the node was not enrolled yet."""
    return db.execute("INSERT OR IGNORE INTO enrolled_nodes (node, label, added_by, added_at) VALUES (?, ?, ?, ?)",
                      [node, label[:60], by, int(time.time())]).rowcount == 1


def withdraw(db, node: int) -> bool:
    return db.execute("DELETE FROM enrolled_nodes WHERE node = ?", [node]).rowcount == 1


def enrolled(db) -> list[dict]:
    cursor = db.execute("SELECT node, label, added_by, added_at FROM enrolled_nodes ORDER BY label, node")
    return [dict(zip([d[0] for d in cursor.description], row)) for row in cursor.fetchall()]


def hold(db, node: int, node_name: str, text: str, planned: Planned, now: int) -> int | None:
    """A command from a node not enrolled: kept until an operator decides. None when that
    node already has MAX_HELD_PER_NODE waiting: a handheld flooding commands can neither
    fill the disk nor bury the others' on the crisis cell's page."""
    waiting = db.execute("SELECT count(*) FROM pending_commands WHERE node = ? AND state = 'pending'",
                         [node]).fetchone()[0]
    if waiting >= MAX_HELD_PER_NODE:
        return None
    draft = planned.record_type(origin=1, seq=1, created_at=now, **planned.fields)  # validates the fields
    return db.execute(
        "INSERT INTO pending_commands (node, node_name, text, kind, fields, reply, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [node, node_name[:60], text[:200], draft.KIND, json_records.dumps(draft), planned.reply, now]).lastrowid


def pending(db) -> list[dict]:
    cursor = db.execute("SELECT id, node, node_name, text, kind, received_at FROM pending_commands "
                        "WHERE state = 'pending' ORDER BY id")
    return [dict(zip([d[0] for d in cursor.description], row)) for row in cursor.fetchall()]


def held_command(db, command_id: int) -> tuple[dict, Planned]:
    """A waiting command and what it makes once approved; VolunteerError otherwise."""
    cursor = db.execute("SELECT * FROM pending_commands WHERE id = ?", [command_id])
    row = cursor.fetchone()
    if row is None:
        raise VolunteerError(_("No such command."))
    command = dict(zip([d[0] for d in cursor.description], row))
    if command["state"] != "pending":
        raise VolunteerError(_("This command was already decided."))
    draft = json_records.loads(command["kind"], 1, 1, command["received_at"], False, command["fields"])
    fields = {k: getattr(draft, k) for k in json.loads(command["fields"])}
    return command, Planned(type(draft), fields, command["reply"])
