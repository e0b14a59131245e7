"""Small builders shared by tests."""
from kit.storage import queries as records
from kit.mesh import records as r
from kit.crypto.signing import sign_alert

ALERT_DEFAULTS = dict(category=r.Category.MET, event="Crue", urgency=r.Urgency.IMMEDIATE,
                      severity=r.Severity.SEVERE, certainty=r.Certainty.LIKELY,
                      response_type=r.ResponseType.SHELTER, headline="Alerte")


def kit_origin(db) -> int:
    return int(db.execute("SELECT value FROM settings WHERE key='kit_origin'").fetchone()[0])


def publish_alert(db, key=None, *, exercise=False, **fields):
    """A local alert, signed with `key` (a nacl SigningKey) when given."""
    finish = (lambda alert: sign_alert(alert, key)) if key is not None else None
    return records.publish(db, r.Alert, kit_origin(db), exercise=exercise, finish=finish,
                           **(ALERT_DEFAULTS | fields))
