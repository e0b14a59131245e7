"""Small builders shared by tests."""
import time
from pathlib import Path

from kit.core import config as kit_config
from kit.core.kit import Kit
from kit.crypto.signing import sign_alert
from kit.mesh import records as r
from kit.storage.db import transaction
from kit.storage.sqlite_store import SqliteStore

ALERT_DEFAULTS = dict(category=r.Category.MET, event="Crue", urgency=r.Urgency.IMMEDIATE,
                      severity=r.Severity.SEVERE, certainty=r.Certainty.LIKELY,
                      response_type=r.ResponseType.SHELTER, headline="Alerte")


def kit_origin(db) -> int:
    return int(db.execute("SELECT value FROM settings WHERE key='kit_origin'").fetchone()[0])


def kit_of(db, key_path=None) -> Kit:
    """A Kit on the database `db` is connected to (signing with `key_path` if given; the keys
    it trusts are left as they are), as the CLI would open it."""
    path = Path(db.execute("PRAGMA database_list").fetchone()[2])
    return Kit(kit_config.build(path.parent, DATABASE=str(path), TRUST_KEYS=None,
                                SIGNING_KEY=str(key_path) if key_path else None))


def plant(db, record_type, origin: int, *, exercise=False, now=None, finish=None, **fields):
    """A record stored as if kit `origin` had made it (at time `now`), with its outbox row:
    for other kits' records and records from the past, which no Kit action makes."""
    with transaction(db) as conn:
        store = SqliteStore(conn)
        record = record_type(origin=origin, seq=store.next_seq(origin), exercise=exercise,
                             created_at=int(time.time() if now is None else now), **fields)
        record = finish(record) if finish else record
        store.put(record)
        conn.execute("INSERT INTO outbox (origin, seq) VALUES (?, ?)", list(record.uid))
    return record


def publish_alert(db, key=None, *, exercise=False, **fields):
    """A local alert, signed with `key` (a nacl SigningKey) when given."""
    finish = (lambda alert: sign_alert(alert, key)) if key is not None else None
    return plant(db, r.Alert, kit_origin(db), exercise=exercise, finish=finish, **(ALERT_DEFAULTS | fields))


def ingest(db, record) -> bool:
    """A record heard from another kit: stored once."""
    return SqliteStore(db.conn).put(record)
