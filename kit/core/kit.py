"""The composition root: one `Kit` per process, with no Flask and no meshtastic in it.

The web apps (the residents' listener and the crisis cell's), the CLI and the radio
service all receive the same Kit. It owns the database, the kit's identity and keys, the
radio port, and the lock under which this kit's sequence numbers are taken. Every action
that changes what the kit shares — a resident's check-in, an operator's alert, a
volunteer's `#site` — goes through `publish` or `writing`: the record, its outbox row and
its line in the main courante are written in one transaction, and the radio is told once
it has committed.
"""
from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from kit.core import alerts, auth, identity, journal, moderation, volunteers
from kit.core import config as kit_config
from kit.core.messages import _
from kit.core.radio_port import NoRadio, RadioPort
from kit.crypto import signing
from kit.crypto.signing import sign_record
from kit.mesh import records as r
from kit.mesh.frame_auth import FrameKeys
from kit.mesh.records import Record, Uid
from kit.storage import db as kit_db
from kit.storage import seed, settings
from kit.storage.json_records import format_uid
from kit.storage.projections import reverify_alerts
from kit.storage.sqlite_store import SqliteStore


@dataclass(frozen=True)
class Entry:
    """A line for the main courante, written with the record it goes with."""
    author: str
    source: str            # web, api, cli, radio, profile
    action: str
    subject: str = ""
    detail: str = ""
    verification: str = "verifiee"


def prepare_database(path: str | Path) -> None:
    """Create or upgrade the schema, make the identity, load the bundled content once."""
    kit_db.make_private(path)
    database = kit_db.connect(path)
    try:
        kit_db.migrate(database)
        identity.ensure(database)
        seed.load_defaults(database)
    finally:
        database.conn.close()


class Kit:
    def __init__(self, config: dict):
        """`config` is `kit.core.config.build(...)`: DATA_DIR, DATABASE, SIGNING_KEY,
        TRUST_KEYS and the rest (the web app reads its own keys from it too)."""
        self.config = config
        self.data_dir = Path(config["DATA_DIR"])
        self.database = str(config["DATABASE"])
        self.write_lock = threading.RLock()
        self.radio: RadioPort = NoRadio()
        # Further links (the territory's MQTT broker, kit/radio/broker.py): told of every
        # record this kit makes, like the radio, and each of a record another link brought.
        self.links: list[RadioPort] = []
        self._local = threading.local()   # records published in this thread's open write
        prepare_database(self.database)
        key_path = config.get("SIGNING_KEY")
        self.signing_key = signing.load_key(key_path) if key_path else None
        # The kit key ring: frames on the mesh are sealed and checked with it.
        ring, current = kit_config.kit_keys_from_text(config.get("KIT_KEYS")
                                                      or [kit_config.own_kit_key(self.data_dir)])
        self.frame_keys = FrameKeys(ring, current)
        if config.get("TRUST_KEYS") is not None:  # None: leave the trusted keys as they are (CLI)
            self._trust(config["TRUST_KEYS"])
        # Held for the kit's life: SQLite then keeps its WAL index files, so that opening a
        # connection needs no new disk space — the kit still reads when its disk is full.
        self._keeper = kit_db.connect(self.database)

    @classmethod
    def open(cls, data: str | Path | None = None, **overrides) -> "Kit":
        return cls(kit_config.build(data, **overrides))

    def close(self) -> None:
        self._keeper.conn.close()

    # --- the parts --------------------------------------------------------------------------
    def db(self) -> sqlite_utils.Database:
        """This thread's connection (kept open between requests: opening one costs more
        than serving a cached page)."""
        return kit_db.thread_connection(self.database)

    def attach_radio(self, port: RadioPort) -> None:
        self.radio = port

    def attach_link(self, port: RadioPort) -> None:
        self.links.append(port)

    def heard_record(self, via, uid: Uid) -> None:
        """Link `via` stored another kit's record, new to this kit (a uid is stored once,
        so this happens once per record: no loop): the other links carry it on, each
        within its own budget (a kit with backhaul bridges its mesh and the broker)."""
        for port in (self.radio, *self.links):
            if port is not via:
                port.bridged(uid)

    def _trust(self, keys: list[str]) -> None:
        """The kit trusts its own key and the ones given. When that set changes, every
        stored alert is verified again: a key removed stops vouching for old alerts too."""
        own = {signing.public_key_text(self.signing_key)} if self.signing_key else set()
        trusted = sorted(own | {key for key in keys if signing.parse_public_key(key)})
        db = kit_db.connect(self.database)
        try:
            if settings.get(db, "trusted_keys", "[]") != json.dumps(trusted):
                settings.put(db, "trusted_keys", json.dumps(trusted))
                reverify_alerts(db.conn)
        finally:
            db.conn.close()

    # --- state ------------------------------------------------------------------------------
    def setting(self, key: str, default: str | None = None) -> str | None:
        return settings.get(self.db(), key, default)

    @property
    def origin(self) -> int:
        return int(self.setting("kit_origin"))

    def exercise(self) -> bool:
        """A drill is on: everything made now is marked EXERCICE."""
        return self.setting("exercise") == "1"

    def adopt_origin(self, node: int) -> int:
        """A kit that has made no record yet takes its radio's node number as its origin:
        the codec then leaves the origin out of the kit's own pushes (the radio's `from`
        says it). Returns the origin in force."""
        with self.write_lock:
            db = self.db()
            origin = self.origin
            own = db.execute("SELECT count(*) FROM records WHERE origin = ?", [origin]).fetchone()[0]
            if node != origin and own == 0 and self._own_seq(db, origin) == 0:
                settings.put(db, "kit_origin", str(node))
                return node
            return origin

    @staticmethod
    def _own_seq(db, origin: int) -> int:
        """The highest seq this kit gave its own records (its own counter: a kit never takes
        its next seq from what the mesh says of its origin)."""
        value = settings.get(db, f"own_seq:{origin:08x}")
        if value is None:  # a kit from before the counter: what it holds of its origin
            row = db.execute("SELECT highest FROM origins WHERE origin = ?", [origin]).fetchone()
            return row[0] if row else 0
        return int(value)

    def _next_own_seq(self, db, store, origin: int) -> int:
        seq = self._own_seq(db, origin) + 1
        while store.has(Uid(origin, seq)):  # held already (this kit's own, back from a backup)
            seq += 1
        settings.put(db, f"own_seq:{origin:08x}", str(seq))
        return seq

    # --- writing ----------------------------------------------------------------------------
    @contextmanager
    def writing(self):
        """`with kit.writing() as db:` — this kit's lock and one transaction. Records
        published inside go to the radio once the outermost block has committed."""
        db = self.db()
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self._local.published = []
        self._local.depth = depth + 1
        try:
            with self.write_lock, kit_db.transaction(db):
                yield db
        finally:
            self._local.depth = depth
        if depth == 0:  # reached only when the block committed
            published, self._local.published = self._local.published, []
            for record, source in published:
                for port in (self.radio, *self.links):
                    port.published(record, source)

    def publish(self, record_type: type[Record], *, source: str = "local", exercise: bool | None = None,
                now: int | None = None, finish=None, entry: Entry | None = None, **fields) -> Record:
        """Create this kit's record with its next sequence number, store it, put it in the
        outbox and (with `entry`) in the main courante, atomically; then tell the radio.
        `finish(record) -> record` completes it once its id is known (an alert's signature
        covers its id). `source` (a phone's address, "radio") gets its share of airtime."""
        now = int(time.time()) if now is None else now
        with self.writing() as db:
            store = SqliteStore(db.conn)
            origin = self.origin
            record = record_type(origin=origin, seq=self._next_own_seq(db, store, origin), created_at=now,
                                 exercise=self.exercise() if exercise is None else exercise, **fields)
            if finish is not None:
                record = finish(record)
            store.put(record)
            db.execute("INSERT INTO outbox (origin, seq) VALUES (?, ?)", list(record.uid))
            if entry is not None:
                self.log(entry, exercise=record.exercise)
            self._local.published.append((record, source))
        return record

    def log(self, entry: Entry, *, exercise: bool | None = None, at: int | None = None) -> int:
        """A line in the main courante, marked EXERCICE during a drill."""
        return journal.log(self.db(), entry.author, entry.source, entry.action, entry.subject, entry.detail,
                           exercise=self.exercise() if exercise is None else exercise,
                           verification=entry.verification, at=at)

    # --- what operators do, whatever the interface (pages, JSON API, CLI) -------------------
    def set_mode(self, changes: dict, author: str, source: str) -> dict:
        """Apply {mode, exercise ("0"/"1"), active_risk}; returns all settings."""
        with self.writing() as db:
            settings.put_many(db, changes)
            self.log(Entry(author, source, "mode.set", "", ", ".join(f"{k}={v}" for k, v in changes.items())))
        return settings.all_settings(self.db())

    def create_alert(self, fields: dict, author: str, source: str, *, exercise: bool | None = None) -> r.Alert:
        """Sign, store and send an alert made of validated CAP fields (alerts.fields_from).
        Raises AlertError (no signing key, unknown reference)."""
        if self.signing_key is None:
            raise alerts.AlertError(_("this kit has no signing key: start it with --signing-key "
                                      "(see kit keys new)"))
        with self.writing() as db:
            if fields.get("references") and not db.execute(
                    "SELECT 1 FROM alerts WHERE origin = ? AND seq = ?", list(fields["references"])).fetchone():
                raise alerts.AlertError(_("'references': no such alert on this kit"))
            alert = self.publish(r.Alert, exercise=exercise, finish=lambda a: sign_record(a, self.signing_key),
                                 **alerts.record_fields(fields))
            self.log(Entry(author, source, "alert.create", format_uid(alert.uid),
                           f"{alert.event}: {alert.headline}"), exercise=alert.exercise)
        return alert

    def site_status(self, site: tuple[int, str], slug: str, state: r.SiteState, author: str, source: str, *,
                    present: int | None = None, capacity: int | None = None,
                    needs: r.Needs = r.Needs.NONE) -> r.SiteStatus:
        """A site's status for every kit. `site` is (position, name)."""
        return self.publish(r.SiteStatus, site=site[0], status=state, needs=needs, present=present,
                            capacity=capacity, entry=Entry(author, source, "site.status", slug,
                                                           f"{site[1]}: {state.name.lower()}"))

    def verify_entry(self, entry: int, state: str, author: str, source: str) -> bool:
        """Change a main courante entry's verification state; the change is itself logged.
        Raises ValueError for a state not in journal.STATES."""
        with self.writing() as db:
            found = journal.set_verification(db, entry, state)
            if found:
                self.log(Entry(author, source, "journal.verify", f"#{entry}", state))
        return found

    # moderation: residents' posts wait for an operator before they go on the radio
    def approve_post(self, post_id: int, operator: str, source: str = "web") -> Record:
        """The post becomes a shared record (same text, its original exercise flag)."""
        with self.writing() as db:
            post = moderation.pending_post(db, post_id)
            record_type, fields = moderation.record_of(post)
            record = self.publish(record_type, exercise=bool(post["exercise"]), **fields)
            self.log(Entry(operator, source, "moderation.approve", format_uid(record.uid), post["text"][:120]),
                     exercise=record.exercise)
            db.execute("UPDATE pending_posts SET state = 'approved', decided_by = ?, origin = ?, seq = ? "
                       "WHERE id = ?", [operator, *record.uid, post_id])
        return record

    def reject_post(self, post_id: int, operator: str, source: str = "web") -> None:
        with self.writing() as db:
            post = moderation.pending_post(db, post_id)
            db.execute("UPDATE pending_posts SET state = 'rejected', decided_by = ? WHERE id = ?",
                       [operator, post_id])
            self.log(Entry(operator, source, "moderation.reject", f"local-{post_id}", post["text"][:120],
                           verification="a_verifier"), exercise=bool(post["exercise"]))

    def hide_message(self, uid_text: str, operator: str, reason: str = "", source: str = "web") -> Record:
        """A tombstone that hides a shared message on every kit."""
        return self._tombstone(r.Deletion, uid_text, Entry(operator, source, "message.hide", uid_text, reason),
                               reason=reason[:140])

    def correct_message(self, uid_text: str, text: str, operator: str, source: str = "web") -> Record:
        return self._tombstone(r.Correction, uid_text, Entry(operator, source, "message.correct", uid_text,
                                                             text[:120]), text=text)

    def _tombstone(self, record_type, uid_text: str, entry: Entry, **fields) -> Record:
        """Kits honour a correction or deletion from the target's own kit, or signed by a
        crisis cell they trust: another kit's message needs this kit's signing key."""
        target = moderation.target(self.db(), uid_text)
        if target.origin != self.origin and self.signing_key is None:
            raise moderation.ModerationError(_(
                "this kit has no crisis-cell signing key: it can hide or correct only its own kit's "
                "messages (start it with --signing-key)"))
        finish = (lambda t: sign_record(t, self.signing_key)) if self.signing_key else None
        return self.publish(record_type, target=target, finish=finish, entry=entry, **fields)

    def record_conflict(self, held: Record, heard: Record, from_node: int | None) -> None:
        """Two authenticated versions of one uid (a kit key in the wrong hands): both kept
        for the crisis cell, neither shown to residents; written in the main courante."""
        with self.writing() as db:
            SqliteStore(db.conn).note_conflict(held, heard, from_node)
            self.log(Entry("radio", "radio", "mesh.conflict", format_uid(held.uid),
                           f"two versions heard (from !{from_node or 0:08x}): a kit key may be compromised",
                           verification="a_verifier"), exercise=held.exercise)

    # volunteers' handhelds: enrolled ones act at once, the others' commands wait here
    def enroll_node(self, node: int, label: str, author: str, source: str) -> bool:
        with self.writing():
            added = volunteers.enroll(self.db(), node, label, author)
            self.log(Entry(author, source, "volunteer.enroll", f"!{node:08x}", label))
        return added

    def withdraw_node(self, node: int, author: str, source: str) -> bool:
        with self.writing():
            removed = volunteers.withdraw(self.db(), node)
            self.log(Entry(author, source, "volunteer.withdraw", f"!{node:08x}"))
        return removed

    def approve_command(self, command_id: int, operator: str, source: str = "web") -> Record:
        """A waiting volunteer's command carried out: its record goes to every kit."""
        with self.writing() as db:
            command, planned = volunteers.held_command(db, command_id)
            record = self.publish(planned.record_type, source="radio", **planned.fields)
            db.execute("UPDATE pending_commands SET state = 'approved', decided_by = ? WHERE id = ?",
                       [operator, command_id])
            self.log(Entry(operator, source, "volunteer.approve", format_uid(record.uid),
                           f"!{command['node']:08x} {command['node_name']}: {command['text']}"))
        return record

    def reject_command(self, command_id: int, operator: str, source: str = "web") -> None:
        with self.writing() as db:
            command, _planned = volunteers.held_command(db, command_id)
            db.execute("UPDATE pending_commands SET state = 'rejected', decided_by = ? WHERE id = ?",
                       [operator, command_id])
            self.log(Entry(operator, source, "volunteer.reject", f"!{command['node']:08x}", command["text"]))

    # accounts (no account and no default password exist until one is added)
    def add_user(self, name: str, role: str, author: str, source: str, **password) -> str:
        """Create an account; returns its password (generated unless `password=` or
        `password_hash=` is given), to be shown once."""
        with self.writing() as db:
            generated = auth.add_user(db, name, role, **password)
            self.log(Entry(author, source, "account.create", name, role))
        return generated

    def set_password(self, name: str, author: str, source: str, password: str | None = None) -> str:
        with self.writing() as db:
            new = auth.set_password(db, name, password)
            self.log(Entry(author, source, "account.password", name))
        return new

    def set_disabled(self, name: str, disabled: bool, author: str, source: str) -> None:
        with self.writing() as db:
            auth.set_disabled(db, name, disabled)
            self.log(Entry(author, source, "account.disable" if disabled else "account.enable", name))
