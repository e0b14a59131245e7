"""What tests share: small builders of kit state, waiting on a condition, free ports, systemd's
notify socket, the CSRF token and the operators' login, and the one way to skip for a missing
tool or privilege."""
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from kit.core import config as kit_config
from kit.core.kit import Kit
from kit.crypto.signing import sign_record
from kit.mesh import records as r
from kit.storage.db import transaction
from kit.storage.sqlite_store import SqliteStore

ALERT_DEFAULTS = dict(category=r.Category.MET, event="Crue", urgency=r.Urgency.IMMEDIATE,
                      severity=r.Severity.SEVERE, certainty=r.Certainty.LIKELY,
                      response_type=r.ResponseType.SHELTER, headline="Alerte")


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags for a closed network: no background calls home (they would be refused, many at a time).
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

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
    finish = (lambda alert: sign_record(alert, key)) if key is not None else None
    return plant(db, r.Alert, kit_origin(db), exercise=exercise, finish=finish, **(ALERT_DEFAULTS | fields))


def ingest(db, record) -> bool:
    """A record heard from another kit: stored once."""
    return SqliteStore(db.conn).put(record)


# -- waiting ----------------------------------------------------------------------------------

def wait_for(predicate, timeout: float, what: str | None = None, *, interval: float = 0.05) -> bool:
    """Poll `predicate` for up to `timeout` seconds (an OSError counts as "not yet": a port
    that does not listen yet). True once it holds; at the deadline, False, or an
    AssertionError naming `what` when given."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return True
        except OSError:
            pass
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    if what is not None:
        raise AssertionError(f"timed out waiting for {what}")
    return False


def free_ports(n: int) -> list[int]:
    """`n` distinct TCP ports free on 127.0.0.1 right now."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


# -- systemd ----------------------------------------------------------------------------------

class NotifySocket:
    """systemd's side of sd_notify: a datagram socket that records what the kit sends, when."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except OSError:
                continue
            self.messages.append((time.monotonic(), data.decode()))

    def pings(self, since: float) -> list[float]:
        return [t for t, m in list(self.messages) if t >= since and "WATCHDOG=1" in m]

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


# -- web forms --------------------------------------------------------------------------------

CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, path) -> str:
    """Load a form page and read its CSRF token, as a browser would."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF_TOKEN.search(page)
    assert match, f"no CSRF token on {path}"
    return match[1]


def login(client, name, password, *, lang=None):
    """Log in through the operators' real login form; `lang` sets the language cookie first."""
    if lang:
        client.set_cookie("lang", lang)
    token = csrf_token(client, "/admin/login")
    return client.post("/admin/login", data={"csrf_token": token, "name": name, "password": password})


# -- environment ------------------------------------------------------------------------------

def environment_skip(why: str):
    """A tool or privilege this test needs is missing: skip, except under CI (CI=…), whose
    .ci/run installs every tool and runs as root, so there a skip would hide a test: fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{why} — under CI this is a failure, not a skip", pytrace=False)
    pytest.skip(why)


def check_requirements(item) -> None:
    """`@pytest.mark.requires(ok, why)` on a test, its class or module: environment_skip(why)
    unless ok (called by conftest before any fixture is set up)."""
    for mark in item.iter_markers("requires"):
        ok, why = mark.args
        if not ok:
            environment_skip(why)


def decode_all(frame: bytes, sender: int, now: float) -> list:
    """The messages of an unsealed frame: one, or each record of a BATCH frame."""
    from kit.mesh.codec import Decoder, unbatch

    decoder = Decoder()
    return [decoder.decode(part, sender, now) for part in unbatch(frame)]


def engine_output(engine, until: float, now: float = 0.0) -> list:
    """(decoded message, send time) of everything a SyncEngine transmits until `until`,
    stepping from one of its wakeups to the next."""

    out = []
    while now <= until:
        engine.tick(now)
        frame = engine.next_transmission(now)
        if frame is not None:
            out += [(msg, now) for msg in decode_all(frame, engine.radio_node, now)]
        wake = engine.next_wakeup(now)
        if wake is None:
            break
        now = max(wake, now + 1e-3)
    return out
