"""The mesh service: one thread owns the radio link and the sync engine.

Everything radio happens on this thread (one owner: the meshtastic library is not
thread-safe, and its pubsub callbacks run on its reader thread, so they only enqueue). Its loop waits on an inbox — packets heard, records published by the web app,
link events — or until the engine's next timer, then lets the engine decide what goes on
air. Its parts: the supervised link (supervisor.py), the engine and the outbox
(pump.py), the volunteers' commands (kit/core/volunteer_commands.py) and this kit's
health (kit/core/kit_health.py). The loop itself never dies of one bug: an exception is
logged, counted and shown in the status, the link is closed, and the loop goes on after
a backoff.
"""
from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import deque
from dataclasses import dataclass

from pubsub import pub

from kit.core import config as kit_config
from kit.core import kit_health as health
from kit.core import volunteer_commands as commands
from kit.core import volunteers
from kit.core.kit import Kit
from kit.core.radio_port import RadioSpec
from kit.mesh import records as r
from kit.mesh.sync import FrameRejected, RecordConflict, RecordReceived
from kit.radio.pump import EnginePump
from kit.radio.supervisor import RadioLink
from kit.storage.sqlite_store import SqliteStore

log = logging.getLogger(__name__)

PRIVATE_APP = "PRIVATE_APP"
TEXT_APP = "TEXT_MESSAGE_APP"
BROADCAST = 0xFFFFFFFF
TEXT_REPLY_GAP_S = 2.5  # the radio takes one text per 2 s from its client
# A command sent to the whole channel is heard by several kits: each waits up to this long
# and carries it out only if no other kit has published the same record meanwhile.
COMMAND_DELAY_S = 20.0


@dataclass
class ServiceConfig:
    sync_interval_s: float = kit_config.SYNC_INTERVAL_S
    heartbeat_s: float = 60.0
    answer_timeout_s: float = 10.0
    backoff_s: tuple[float, float] = (1.0, 60.0)
    duty_cycle: float = 0.08         # of the 10 % legal limit (see kit/mesh/scheduler.py SchedulerConfig)
    sync_hops: int = 0               # hop limit of sync frames (kit/mesh/sync.py SyncConfig.sync_hops)
    preset: str = kit_config.PRESET
    history_save_s: float = 300.0
    speed: float = 1.0               # clock seconds per real second (a sped-up simulated mesh)
    # A Health record is ~20 B, ≈ 0.56 s on LONG_FAST: two an hour are 0.6 % of this kit's
    # 180 s/h budget, and ten kits relayed three times stay near 1 % of the channel.
    health_interval_s: float = health.DEFAULT_INTERVAL_S


class MeshService:
    def __init__(self, kit: Kit, spec: RadioSpec, config: ServiceConfig | None = None,
                 clock=time.time, seed: int | None = None):
        self.kit, self.spec = kit, spec
        self.config = config or ServiceConfig()
        self.clock = clock
        self.rng = random.Random(seed)
        self.inbox: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status = {"state": "connecting", "node": None, "queue": 0, "airtime_pct": 0.0,
                        "last_sync": None, "frames_rejected": 0, "error": None, "radio_problem": None, "loop_errors": 0,
                        "pending_texts": 0, "unknown_key_frames": 0, "channel_util": None, "deferred": 0}
        self.link = RadioLink(spec, self.config.heartbeat_s, self.config.answer_timeout_s, self._set_status)
        self.pump: EnginePump | None = None
        self._replies: deque = deque()        # (node, text) answers to volunteers
        self._commands: dict = {}             # (sender, packet id) → (due, Planned)
        self._next_reply_at = 0.0
        self._health_at = 0.0                 # clock time of the next health report
        pub.subscribe(self._on_receive, "meshtastic.receive")
        pub.subscribe(self._on_lost, "meshtastic.connection.lost")

    # --- called from other threads -------------------------------------------------------
    def start(self) -> "MeshService":
        self._thread = threading.Thread(target=self._run, name="kit-mesh", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.inbox.put(("stop", None))
        if self._thread:
            self._thread.join(timeout)
        pub.unsubscribe(self._on_receive, "meshtastic.receive")
        pub.unsubscribe(self._on_lost, "meshtastic.connection.lost")

    def published(self, record: r.Record, source: str = "local") -> None:
        """RadioPort: a local record was stored with its outbox row: send it. `source` (a
        phone's address) gets its fair share of airtime."""
        self.inbox.put(("local", (record.uid, source)))

    def bridged(self, uid: r.Uid) -> None:
        """RadioPort: the kit stored a record from another link (the broker): offer it to
        this mesh, within the airtime budget."""
        self.inbox.put(("bridged", uid))

    def status(self) -> dict:
        with self._lock:
            return dict(self._status)

    def _set_status(self, **values) -> None:
        with self._lock:
            self._status.update(values)

    # pubsub runs these on the library's publishing thread: enqueue only.
    def _on_receive(self, packet, interface=None) -> None:
        if interface is not None and interface is self.link.iface:
            self.inbox.put(("packet", packet))

    def _on_lost(self, interface=None) -> None:
        if interface is not None and interface is self.link.iface:
            self.inbox.put(("lost", None))

    # --- the mesh thread -----------------------------------------------------------------
    def _run(self) -> None:
        """The loop, supervised: one bug (in the engine, a handler, the library) is logged,
        counted and shown, the link is closed, and the loop resumes after a backoff."""
        delay = self.config.backoff_s[0]
        while not self._stop.is_set():
            try:
                self._loop()
                break
            except Exception as exc:  # noqa: BLE001
                log.exception("radio loop failed; restarting it")
                with self._lock:
                    self._status["loop_errors"] += 1
                    self._status["error"] = f"{type(exc).__name__}: {exc}"
                self.link.close("radio loop failed")
                self._stop.wait(delay)
                delay = min(delay * 2, self.config.backoff_s[1])
        if self.pump is not None:
            self.pump.save_history(force=True)
        self.link.close("stopped", stopping=True)

    def _loop(self) -> None:
        if self.pump is None:
            self.pump = EnginePump(self.kit, SqliteStore(self.kit.db().conn, clock=self.clock), self.rng,
                                   preset=self.config.preset, duty_cycle=self.config.duty_cycle,
                                   sync_interval_s=self.config.sync_interval_s, sync_hops=self.config.sync_hops,
                                   history_save_s=self.config.history_save_s)
        delay = self.config.backoff_s[0]
        while not self._stop.is_set():
            if not self.link.up:
                if not self.link.open():
                    self._drain(timeout=delay)
                    delay = min(delay * 2, self.config.backoff_s[1])
                    continue
                delay = self.config.backoff_s[0]
                if self.pump.engine is None:
                    self.pump.start(self.link.node, self.clock())
                else:  # the same kit, maybe another radio: frames name it
                    self.pump.engine.radio_node = self.link.node
            self._drain(timeout=self._wait_time())
            if self.link.up:
                self._step()

    def _wait_time(self) -> float:
        """Real seconds until something is due: an engine timer, a retry, a reply, the heartbeat."""
        if self.pump is None or self.pump.engine is None:
            return 0.0
        now = self.clock()
        wakeup = self.pump.engine.next_wakeup(now)
        # No polling: sleep until the next thing due (an inbox item wakes the loop at once).
        clock_times = [self.config.heartbeat_s * self.config.speed]
        if self._health_at:
            clock_times.append(self._health_at - now)
        if wakeup is not None:
            clock_times.append(wakeup - now)
        if self.pump.retry:
            clock_times.append(self.pump.retry[0][0] - now)
        if self._replies:
            clock_times.append(self._next_reply_at - now)
        if self._commands:
            clock_times.append(min(due for due, _ in self._commands.values()) - now)
        real = min(clock_times) / self.config.speed
        return max(0.0, min(real, self.link.heartbeat_at - time.monotonic()))

    def _drain(self, timeout: float) -> None:
        """Handle the next inbox item (waiting up to `timeout` real seconds), then the rest."""
        try:
            item = self.inbox.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return
        while item is not None:
            kind, value = item
            if kind == "packet":
                self._handle_packet(value)
            elif kind == "local" and self.pump is not None:
                self.pump.queue_local(*value, self.clock())
            elif kind == "bridged" and self.pump is not None:
                self.pump.bridged(value, self.clock())
            elif kind == "lost":
                self.link.close("connection lost")
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                item = None

    def _step(self) -> None:
        now = self.clock()
        engine = self.pump.engine
        with self.kit.write_lock:  # the engine may publish a volunteer's text
            self._note(engine.tick(now))
        self.link.check()
        self._run_due_commands(now)
        self._send_replies(now)
        self._publish_health(now)
        self._transmit(now)
        engine_status = engine.status(now)
        self._set_status(queue=self.pump.queue_length(engine_status),
                         airtime_pct=round(100 * engine_status.airtime_used_ms / 3_600_000, 2),
                         frames_rejected=engine_status.frames_rejected,
                         unknown_key_frames=sum(engine.unknown_key_ids.values()),
                         pending_texts=engine.pending_volunteer_texts() + len(self._commands),
                         deferred=engine_status.deferred)
        self.pump.save_history()

    def _publish_health(self, now: float) -> None:
        """This kit's health for the crisis cells' dashboards: once the link and the sync
        have settled after a start (at most 10 min), then every interval."""
        if self.config.health_interval_s <= 0:
            return
        if not self._health_at:
            self._health_at = now + min(self.config.health_interval_s, health.FIRST_REPORT_S)
        if now < self._health_at:
            return
        self._health_at = now + self.config.health_interval_s
        engine_status = self.pump.engine.status(now)
        status = self.status() | {"queue": self.pump.queue_length(engine_status)}
        airtime = int(engine_status.airtime_used_ms)
        self._publish(r.Health, now, **health.fields(status, self.kit.setting("mode"), airtime_ms_hour=airtime))

    # --- outgoing --------------------------------------------------------------------------
    def _transmit(self, now: float) -> None:
        while self.link.up:
            payload = self.pump.next_payload(now)
            if payload is None:
                return
            hops, want_ack = self.pump.engine.send_options(payload)
            packet = self.link.call("send", "sendData", payload, destinationId=BROADCAST, portNum=256,
                                    wantAck=want_ack, hopLimit=hops, channelIndex=0)
            if packet is None:
                self.pump.not_sent(payload)
                return
            self.pump.handed_over(packet.id, payload)

    def _reply(self, node: int, text: str) -> None:
        self._replies.append((node, text[:200]))

    def _send_replies(self, now: float) -> None:
        if not self._replies or now < self._next_reply_at or not self.link.up:
            return
        node, text = self._replies.popleft()
        self._next_reply_at = now + TEXT_REPLY_GAP_S
        self.link.call("reply", "sendText", text, destinationId=node, wantAck=False, channelIndex=0)

    def _publish(self, record_type, now: float, **fields) -> None:
        record = self.kit.publish(record_type, source="radio", now=int(now), **fields)
        if self.kit.radio is not self:  # attached, the kit tells this service through the inbox
            self.pump.queue_local(record.uid, "radio", now)

    # --- incoming --------------------------------------------------------------------------
    def _handle_packet(self, packet: dict) -> None:
        """One packet heard. Malformed input is counted and dropped, never raised."""
        try:
            decoded = packet.get("decoded") or {}
            portnum = decoded.get("portnum")
            sender = int(packet.get("from") or 0)
            now = self.clock()
            engine = self.pump.engine if self.pump else None
            if engine is None:
                return
            # Zero fields are absent from the packet dict: a frame sent with hop limit 0 has
            # neither (hop_start came with fw 2.3; before, hops_away is unknown).
            left, start = int(packet.get("hopLimit", 0)), int(packet.get("hopStart", 0))
            away = start - left if start >= left else None
            if sender:  # a kit heard again may be back from a partition; first-hand: in range
                engine.peer_heard(sender, now, away)
            if portnum == PRIVATE_APP:
                with self.kit.write_lock:
                    self._note(engine.receive(bytes(decoded.get("payload") or b""), sender, now, left, away))
            elif portnum == TEXT_APP and sender and sender != self.link.node:
                self._heard_text(packet, decoded, sender, now)
            elif portnum == "TELEMETRY_APP" and sender == self.link.node:
                # Our radio's device metrics, every minute (fw DeviceTelemetry.h): how busy
                # it hears the channel decides whether routine traffic waits.
                metrics = (decoded.get("telemetry") or {}).get("deviceMetrics") or {}
                if "channelUtilization" in metrics:
                    tx = metrics.get("airUtilTx")
                    engine.channel_utilisation(float(metrics["channelUtilization"]), now,
                                               None if tx is None else float(tx))
                    self._set_status(channel_util=round(float(metrics["channelUtilization"]), 1))
            elif portnum == "ROUTING_APP":
                reason = (decoded.get("routing") or {}).get("errorReason", "NONE")
                self.pump.refused(decoded.get("requestId"), reason, now)
        except Exception:  # noqa: BLE001 — one bad packet must not stop the radio loop
            log.exception("radio: packet dropped")
            with self._lock:
                self._status["frames_rejected"] += 1

    def _note(self, events) -> None:
        for event in events:
            if isinstance(event, RecordReceived):  # another kit's, or a handheld's text we shared
                self.kit.heard_record(self, event.record.uid)  # the broker, if any, carries it on
            if isinstance(event, RecordReceived) and event.record.origin != self.pump.origin:
                self._set_status(last_sync=int(self.clock()))
                self._another_kit_did(event.record)
            elif isinstance(event, FrameRejected):
                log.info("radio: frame from !%08x rejected: %s", event.from_node, event.reason)
            elif isinstance(event, RecordConflict):
                log.warning("radio: two versions of %s heard: a kit key may be compromised", event.held.uid)
                self.kit.record_conflict(event.held, event.heard, event.from_node)

    def _heard_text(self, packet: dict, decoded: dict, sender: int, now: float) -> None:
        text = decoded.get("text") or ""
        to = int(packet.get("to") or BROADCAST)
        if commands.is_command(text):
            self._command(commands.parse(text), sender, to == BROADCAST, packet, now)
        elif to == BROADCAST:
            with self.kit.write_lock:
                self._note(self.pump.engine.heard_text(sender, self.link.node_name(sender),
                                                       int(packet.get("id") or 0), text[: r.MAX_TEXT_CHARS],
                                                       now, exercise=self.kit.exercise()))
        else:
            self._reply(sender, commands.HELP)

    # --- volunteers' commands ----------------------------------------------------------------
    def _command(self, command, sender: int, broadcast: bool, packet: dict, now: float) -> None:
        """Carry out a volunteer's command: at once when sent to this kit, after a random
        delay when sent to the whole channel (the first kit does it, the others see its
        record and stand down). Errors are answered by the kits that heard it directly."""
        sites = self.kit.db().execute("SELECT position, name FROM sites ORDER BY position").fetchall()
        planned = commands.plan(command, self.link.node_name(sender), [tuple(s) for s in sites])
        direct = packet.get("hopStart", 0) == packet.get("hopLimit", 0)
        if isinstance(planned, str):
            if not broadcast or direct:
                self._reply(sender, planned)
            return
        if not volunteers.is_enrolled(self.kit.db(), sender):
            # Anyone can hold a handheld: a radio the crisis cell has not enrolled waits for
            # an operator (on the kits that heard it first-hand, or the one it wrote to).
            if (not broadcast or direct) and volunteers.hold(
                    self.kit.db(), sender, self.link.node_name(sender),
                    (packet.get("decoded") or {}).get("text", ""), planned, int(now)) is not None:
                self._reply(sender, "Reçu. En attente de validation par la cellule de crise.")
            return
        key = (sender, int(packet.get("id") or 0))
        due = now + (self.rng.uniform(0, COMMAND_DELAY_S) if broadcast else 0.0)
        self._commands.setdefault(key, (due, planned))
        self._run_due_commands(now)

    def _run_due_commands(self, now: float) -> None:
        for key, (due, planned) in list(self._commands.items()):
            if due <= now:
                del self._commands[key]
                self._publish(planned.record_type, now, **planned.fields)
                self._reply(key[0], planned.reply)

    def _another_kit_did(self, record: r.Record) -> None:
        for key, (_due, planned) in list(self._commands.items()):
            if type(record) is planned.record_type and all(getattr(record, k) == v
                                                           for k, v in planned.fields.items()):
                del self._commands[key]


def start(kit: Kit, spec: RadioSpec, config: ServiceConfig | None = None) -> MeshService | None:
    """Start the radio side of a kit and attach it as the kit's radio port: None when the
    spec says there is no radio."""
    if spec.kind == "none":
        return None
    service = MeshService(kit, spec, config).start()
    kit.attach_radio(service)
    return service
