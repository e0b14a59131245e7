"""The territory's MQTT broker as one more link of the kit: the same kit-key-sealed frames
as on LoRa, driven by a sync engine of its own on the kit's one record store.

One thread owns the engine; paho-mqtt's network thread keeps the connection (reconnecting
with capped backoff, 1 → 60 s by default) and its callbacks only enqueue, as the radio
service does with the meshtastic library. Frames go out with QoS 1 on a persistent session
(clean_session False: the broker keeps what arrives for this kit while it is away), and
the engine's digests repair whatever was lost anyway (a broker restarted without its
persistence file, a kit that was off). The broker is never trusted: a frame counts only if
its kit-key tag opens (kit/mesh/frame_auth.py) and an alert only if its signature verifies,
exactly as on LoRa; the broker's ACL only keeps an account to its own topic.

No airtime here: the engine runs with a budget no broker link reaches and no gap between
frames; every record is pushed once (no repeats, no urgent relays: the broker hands each
frame to every kit). A record arriving over the broker is stored once in the kit's store and
then offered to the kit's LoRa mesh by the radio's own engine, within its airtime budget
(`Kit.heard_record` → `SyncEngine.bridged`), and the reverse.
"""
from __future__ import annotations

import logging
import queue
import random
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from kit.core.federation import BrokerSpec
from kit.core.kit import Kit
from kit.mesh import records as r
from kit.mesh.scheduler import SchedulerConfig
from kit.mesh.sync import (
    FrameRejected,
    RecordConflict,
    RecordReceived,
    SyncConfig,
    SyncEngine,
)
from kit.radio.supervisor import run_supervised
from kit.storage.sqlite_store import SqliteStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerConfig:
    backoff_s: tuple[float, float] = (1.0, 60.0)   # reconnection, and the loop's restarts
    keepalive_s: int = 30
    # Digests over IP cost nothing on air: every 2 s after a change, at most every 60 s.
    digest_min_s: float = 2.0
    digest_max_s: float = 60.0
    status_every_s: float = 5.0


def engine_config(config: BrokerConfig) -> SyncConfig:
    """The sync engine on a link with no airtime limit and where every kit hears every
    frame: short timers, no repeats and no urgent relays (the broker delivers each frame to
    every kit, QoS 1), and a budget (1000 × a 10 s window) that no broker link reaches."""
    return SyncConfig(
        digest_min_s=config.digest_min_s, digest_max_s=config.digest_max_s,
        request_timeout_s=5.0, hole_grace_s=1.0, reply_window_s=1.0, piggyback_hold_s=5.0,
        aired_s=2.0, alert_repeats_s=(), urgent_relay_copies=0,
        scheduler=SchedulerConfig(preset="SHORT_FAST", duty_cycle=1000.0, window_s=10.0, min_gap_s=0.0,
                                  control_share=1.0, source_share=1.0))


class BrokerService:
    def __init__(self, kit: Kit, spec: BrokerSpec, config: BrokerConfig | None = None,
                 clock=time.time, seed: int | None = None):
        self.kit, self.spec = kit, spec
        self.config = config or BrokerConfig()
        self.clock = clock
        self.rng = random.Random(seed)
        self.inbox: queue.Queue = queue.Queue()
        self.engine: SyncEngine | None = None
        self.client: mqtt.Client | None = None
        self.connected = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status = {"state": "connecting", "broker": spec.describe(), "error": None, "loop_errors": 0,
                        "queue": 0, "frames_rejected": 0, "last_sync": None, "connections": 0, "kits": 0}
        # node → (its broker account, time of its last authenticated frame): the territory
        # view's "last contact over IP"
        self.last_ip: dict[int, tuple[str, float]] = {}

    # --- called from other threads ---------------------------------------------------------
    def start(self) -> "BrokerService":
        self._thread = threading.Thread(target=self._run, name="kit-broker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.inbox.put(("stop", None))
        if self._thread:
            self._thread.join(timeout)
        self._disconnect()

    def published(self, record: r.Record, source: str = "local") -> None:
        """RadioPort: a record this kit made: push it to the broker."""
        self.inbox.put(("local", record.uid))

    def bridged(self, uid: r.Uid) -> None:
        """RadioPort: another kit's record the kit stored from its radio: push it too."""
        self.inbox.put(("bridged", uid))

    def status(self) -> dict:
        with self._lock:
            return dict(self._status)

    def contacts(self) -> dict[int, tuple[str, float]]:
        """node → (broker account, time of its last authenticated frame over the broker)."""
        with self._lock:
            return dict(self.last_ip)

    def _set_status(self, **values) -> None:
        with self._lock:
            self._status.update(values)

    # paho runs these on its network thread: enqueue only.
    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            self.inbox.put(("refused", str(reason_code)))
            return
        client.subscribe(self.spec.subscription, qos=1)
        self.inbox.put(("up", None))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        self.inbox.put(("down", str(reason_code)))

    def _on_message(self, client, userdata, message) -> None:
        self.inbox.put(("frame", (message.topic, bytes(message.payload))))

    # --- the broker thread -----------------------------------------------------------------
    def _run(self) -> None:
        """Supervised like the radio's loop: one bug is logged, counted and shown, the
        connection is dropped, and the loop resumes after a capped backoff."""
        run_supervised(self._loop, self._stop, self.config.backoff_s, self._failed, "broker")

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            self._status["loop_errors"] += 1
            self._status["error"] = f"{type(exc).__name__}: {exc}"
        self._disconnect()

    def _loop(self) -> None:
        now = self.clock()
        if self.engine is None:
            origin = self.kit.origin
            self.engine = SyncEngine(origin, SqliteStore(self.kit.db().conn, clock=self.clock), self.rng, now,
                                     engine_config(self.config), keys=self.kit.frame_keys)
            for origin, seq in self.kit.db().execute("SELECT origin, seq FROM outbox ORDER BY seq").fetchall():
                self._local(r.Uid(origin, seq), now)
        if self.client is None:
            self._connect()
        status_at = 0.0
        while not self._stop.is_set():
            self._drain(self._wait_time())
            now = self.clock()
            with self.kit.write_lock:
                self._note(self.engine.tick(now))
            self._transmit(now)
            if time.monotonic() >= status_at:
                status_at = time.monotonic() + self.config.status_every_s
                engine_status = self.engine.status(now)
                self._set_status(queue=sum(engine_status.queue_lengths.values()),
                                 frames_rejected=engine_status.frames_rejected, kits=len(self.contacts()))

    def _connect(self) -> None:
        spec = self.spec
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"kit-{spec.account}",
                             clean_session=False, protocol=mqtt.MQTTv311)
        client.username_pw_set(spec.account, spec.password or None)
        if spec.tls:
            client.tls_set(ca_certs=spec.ca_file or None, certfile=spec.cert_file or None,
                           keyfile=spec.key_file or None)
        low, high = self.config.backoff_s
        client.reconnect_delay_set(max(1, int(low)), max(1, int(high)))
        client.on_connect, client.on_disconnect = self._on_connect, self._on_disconnect
        client.on_message = self._on_message
        client.connect_async(spec.host, spec.port, self.config.keepalive_s)
        client.loop_start()  # paho's thread: connects, reconnects with the backoff above
        self.client = client

    def _disconnect(self) -> None:
        client, self.client = self.client, None
        self.connected = False
        if client is not None:
            client.disconnect()
            client.loop_stop()
            self._set_status(state="absent")

    def _wait_time(self) -> float:
        """Until the engine's next timer; while the broker is away, the frames it has wait
        (its next wakeup would be "now" for ever): the inbox wakes the loop on reconnection."""
        limit = self.config.status_every_s
        if not self.connected:
            return limit
        now = self.clock()
        wakeup = self.engine.next_wakeup(now)
        return max(0.0, min(limit, (wakeup - now) if wakeup is not None else limit))

    def _drain(self, timeout: float) -> None:
        try:
            item = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return
        while item is not None:
            kind, value = item
            now = self.clock()
            if kind == "frame":
                self._frame(*value, now)
            elif kind == "local":
                self._local(value, now)
            elif kind == "bridged":
                self.engine.bridged(value, now, push=True)
            elif kind == "up":
                self.connected = True
                with self._lock:
                    self._status.update(state="connected", error=None)
                    self._status["connections"] += 1
                log.info("broker connected: %s", self.spec.describe())
            elif kind == "refused":
                self.connected = False
                self._set_status(state="refused", error=value)
                log.warning("broker refused this kit: %s", value)
            elif kind == "down":
                self.connected = False
                if self.status()["state"] != "refused":  # the refusal's own disconnect
                    self._set_status(state="reconnecting", error=value)
                    log.warning("broker connection lost: %s", value)
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                item = None

    def _local(self, uid: r.Uid, now: float) -> None:
        if uid.origin == self.engine.node:
            record = self.engine.store.get(uid)
            if record is not None:
                self.engine.publish(record, now)
        else:  # made under an earlier origin (the kit adopted its radio's number since)
            self.engine.bridged(uid, now, push=True)

    def _transmit(self, now: float) -> None:
        """While connected, everything the engine has goes (QoS 1). Frames wait in the
        engine while the broker is away; paho keeps the ones already handed to it."""
        while self.connected and self.client is not None:
            with self.kit.write_lock:
                payload = self.engine.next_transmission(now)
            if payload is None:
                return
            self.client.publish(self.spec.topic(self.engine.radio_node), payload, qos=1)

    def _frame(self, topic: str, payload: bytes, now: float) -> None:
        parsed = self.spec.parse_topic(topic)
        if parsed is None:
            with self._lock:
                self._status["frames_rejected"] += 1
            return
        account, node = parsed
        if node == self.engine.radio_node:
            return  # our own frame, back from the broker
        with self.kit.write_lock:
            events = self.engine.receive(payload, node, now)
            self._note(events)
        if not any(isinstance(e, FrameRejected) for e in events):
            with self._lock:  # read by the web's threads (contacts())
                self.last_ip[node] = (account, now)  # authenticated: this kit was heard over IP

    def _note(self, events) -> None:
        for event in events:
            if isinstance(event, RecordReceived) and event.record.origin != self.engine.node:
                self._set_status(last_sync=int(self.clock()))
                self.kit.heard_record(self, event.record.uid)  # the radio offers it to the mesh
            elif isinstance(event, FrameRejected):
                log.info("broker: frame from !%08x rejected: %s", event.from_node, event.reason)
            elif isinstance(event, RecordConflict):
                log.warning("broker: two versions of %s heard: a kit key may be compromised", event.held.uid)
                self.kit.record_conflict(event.held, event.heard, event.from_node)


def start(kit: Kit, spec: BrokerSpec | None, config: BrokerConfig | None = None) -> BrokerService | None:
    """Start the broker link of a kit with a `[federation]` profile section and attach it."""
    if spec is None:
        return None
    service = BrokerService(kit, spec, config).start()
    kit.attach_link(service)
    return service
