"""The mesh service: one thread owns the radio link and the sync engine.

Everything radio happens on this thread (meshtastic.md §10: one owner, callbacks only
enqueue). Its loop waits on an inbox — packets heard, records published by the web app,
link events — or until the engine's next timer, then lets the engine decide what goes on
air. The link is supervised: opened with capped backoff, always closed on loss, checked
by a heartbeat that the radio must answer, reopened when it goes silent.

Nothing the kit accepted is lost when the radio goes away: records are in SQLite before
the web app answers, and a record leaves the `outbox` table only once its last frame has
been handed to the radio. A frame handed over is not handed over again after a
reconnect; a frame the radio refused with a retryable reason is retried later.
"""
from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from pubsub import pub

from kit.storage import db as kit_db
from kit.core import kit_health as health
from kit.storage import queries as kit_records
from kit.storage import settings
from kit.mesh import codec
from kit.mesh import records as r
from kit.mesh.scheduler import SchedulerConfig
from kit.mesh.sync import FrameRejected, RecordReceived, SyncConfig, SyncEngine
from kit.storage.names import name_key
from kit.storage.sqlite_store import SqliteStore
from kit.core import volunteer_commands as commands
from kit.radio.link import LinkError, close_quietly, open_interface
from kit.radio.spec import RadioSpec

log = logging.getLogger(__name__)

PRIVATE_APP = "PRIVATE_APP"
TEXT_APP = "TEXT_MESSAGE_APP"
BROADCAST = 0xFFFFFFFF
# Routing.Error names (meshtastic.md §3): retry later, or give up.
RETRY_AFTER_S = {"DUTY_CYCLE_LIMIT": 300.0, "RATE_LIMIT_EXCEEDED": 5.0, "MAX_RETRANSMIT": 30.0,
                 "TIMEOUT": 30.0, "NO_RESPONSE": 30.0, "NO_INTERFACE": 30.0}
TEXT_REPLY_GAP_S = 2.5  # the radio takes one text per 2 s from its client
# A command sent to the whole channel is heard by several kits: each waits up to this long
# and carries it out only if no other kit has published the same record meanwhile.
COMMAND_DELAY_S = 20.0
SENT_MEMORY = 256       # packet ids remembered to match late NAKs


@dataclass
class ServiceConfig:
    sync_interval_s: float = 600.0   # the longest quiet gap between digests
    heartbeat_s: float = 60.0
    answer_timeout_s: float = 10.0
    backoff_s: tuple[float, float] = (1.0, 60.0)
    duty_cycle: float = 0.05         # of the 10 % legal limit, half: room for relays and handhelds
    preset: str = "LONG_FAST"
    history_save_s: float = 300.0
    speed: float = 1.0               # clock seconds per real second (a sped-up simulated mesh)
    # A Health record is ~20 B, ≈ 0.56 s on LONG_FAST: two an hour are 0.6 % of this kit's
    # 180 s/h budget, and ten kits relayed three times stay near 1 % of the channel.
    health_interval_s: float = health.DEFAULT_INTERVAL_S


class MeshService:
    def __init__(self, database: str, spec: RadioSpec, origin: int,
                 config: ServiceConfig | None = None, clock=time.time, seed: int | None = None):
        self.database, self.spec, self.origin = database, spec, origin
        self.config = config or ServiceConfig()
        self.clock = clock
        self.rng = random.Random(seed)
        self.inbox: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status = {"state": "connecting", "node": None, "queue": 0, "airtime_pct": 0.0,
                        "last_sync": None, "frames_rejected": 0, "error": None}
        self.iface = None
        self.engine: SyncEngine | None = None
        self._retry: deque = deque()          # (not_before, payload) refused frames to resend
        self._sent: OrderedDict = OrderedDict()  # packet id → payload, for NAKs
        self._replies: deque = deque()        # (node, text) answers to volunteers
        self._commands: dict = {}             # (sender, packet id) → (due, record type, fields, reply)
        self._next_reply_at = 0.0
        self._heartbeat_at = 0.0
        self._history_saved_at = 0.0
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
        """The web app stored a local record (and its outbox row): send it. `source` (the
        phone's address for residents' check-ins) gets its fair share of airtime: one client
        cannot crowd the others out of the radio."""
        self.inbox.put(("local", (record.uid, source)))

    def status(self) -> dict:
        with self._lock:
            return dict(self._status)

    def _set_status(self, **values) -> None:
        with self._lock:
            self._status.update(values)

    # pubsub runs these on the library's publishing thread: enqueue only.
    def _on_receive(self, packet, interface=None) -> None:
        if interface is not None and interface is self.iface:
            self.inbox.put(("packet", packet))

    def _on_lost(self, interface=None) -> None:
        if interface is not None and interface is self.iface:
            self.inbox.put(("lost", None))

    # --- the mesh thread -----------------------------------------------------------------
    def _run(self) -> None:
        self.db = kit_db.connect(self.database)
        self.conn = self.db.conn
        self.store = SqliteStore(self.conn, clock=self.clock)
        delay = self.config.backoff_s[0]
        try:
            while not self._stop.is_set():
                if self.iface is None:
                    if self._connect():
                        delay = self.config.backoff_s[0]
                        if self.engine is None:
                            self._start_engine()
                    else:
                        self._drain(timeout=delay)
                        delay = min(delay * 2, self.config.backoff_s[1])
                        continue
                self._drain(timeout=self._wait_time())
                if self.iface is not None:
                    self._step()
        finally:
            self._save_history(force=True)
            self._disconnect("stopped")
            self.conn.close()

    def _connect(self) -> bool:
        self._set_status(state="connecting" if self._status["node"] is None else "reconnecting")
        try:
            iface = open_interface(self.spec)
        except LinkError as exc:
            log.warning("radio: %s", exc)
            self._set_status(state="absent", error=str(exc))
            return False
        self.iface = iface
        if self.engine is not None:  # the same kit, maybe another radio: frames name it
            self.engine.radio_node = iface.myInfo.my_node_num
        self._heartbeat_at = time.monotonic() + self.config.heartbeat_s
        self._set_status(state="connected", node=f"!{iface.myInfo.my_node_num:08x}", error=None)
        log.info("radio connected: %s", self._status["node"])
        return True

    def _start_engine(self) -> None:
        """Once the radio is known. A kit that has made no record yet takes its radio's node
        number as its origin: the codec then leaves the origin out of the kit's own pushes
        (the radio's `from` says it) and peers recognise first-hand pushes."""
        node = self.iface.myInfo.my_node_num
        with kit_records.LOCAL_WRITES:
            own = self.conn.execute("SELECT count(*) FROM records WHERE origin = ?", (self.origin,)).fetchone()[0]
            if node != self.origin and own == 0:
                settings.put(self.db, "kit_origin", str(node))
                log.info("kit origin is now its radio's node number !%08x", node)
                self.origin = node
        now = self.clock()
        scheduler = SchedulerConfig(preset=self.config.preset, duty_cycle=self.config.duty_cycle)
        self.engine = SyncEngine(self.origin, self.store, self.rng, now,
                                 SyncConfig(digest_max_s=self.config.sync_interval_s, scheduler=scheduler),
                                 airtime_history=self._load_history(), radio_node=node)
        self._queue_outbox(now)

    def _disconnect(self, why: str) -> None:
        if self.iface is not None:
            log.warning("radio link closed: %s", why)
            iface, self.iface = self.iface, None
            close_quietly(iface)
            self._set_status(state="reconnecting" if not self._stop.is_set() else "absent")

    def _wait_time(self) -> float:
        """Real seconds until something is due: an engine timer, a retry, a reply, the heartbeat."""
        if self.engine is None:
            return 0.0
        now = self.clock()
        wakeup = self.engine.next_wakeup(now)
        # No polling: sleep until the next thing due (an inbox item wakes the loop at once).
        clock_times = [self.config.heartbeat_s * self.config.speed]
        if self._health_at:
            clock_times.append(self._health_at - now)
        if wakeup is not None:
            clock_times.append(wakeup - now)
        if self._retry:
            clock_times.append(self._retry[0][0] - now)
        if self._replies:
            clock_times.append(self._next_reply_at - now)
        if self._commands:
            clock_times.append(min(due for due, *_ in self._commands.values()) - now)
        real = min(clock_times) / self.config.speed
        return max(0.0, min(real, self._heartbeat_at - time.monotonic()))

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
            elif kind == "local":
                self._queue_local(*value)
            elif kind == "lost":
                self._disconnect("connection lost")
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                item = None

    def _step(self) -> None:
        now = self.clock()
        with kit_records.LOCAL_WRITES:  # the engine may publish a volunteer's text
            self._note(self.engine.tick(now))
        self._watchdog()
        self._run_due_commands(now)
        self._send_replies(now)
        self._publish_health(now)
        self._transmit(now)
        engine_status = self.engine.status(now)
        self._set_status(queue=sum(engine_status.queue_lengths.values()) + len(self._retry),
                         airtime_pct=round(100 * engine_status.airtime_used_ms / 3_600_000, 2),
                         frames_rejected=engine_status.frames_rejected)
        self._save_history()

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
        engine_status = self.engine.status(now)
        status = self.status() | {"queue": sum(engine_status.queue_lengths.values()) + len(self._retry)}
        self._publish(r.Health, now, **health.fields(status, settings.get(self.db, "mode"),
                                                     airtime_ms_hour=int(engine_status.airtime_used_ms)))

    # --- outgoing --------------------------------------------------------------------------
    def _queue_outbox(self, now: float) -> None:
        """After a restart: the records that never fully went out go first."""
        for origin, seq in self.conn.execute("SELECT origin, seq FROM outbox ORDER BY seq").fetchall():
            self._queue_local(r.Uid(origin, seq), now=now)

    def _queue_local(self, uid: r.Uid, source: str = "local", now: float | None = None) -> None:
        """Queue one of this kit's records. Before the radio is known the outbox keeps it; a
        record made under an earlier origin is served from the store when peers ask for it."""
        if self.engine is None or uid.origin != self.origin:
            return
        record = self.store.get(uid)
        if record is not None:
            self.engine.publish(record, self.clock() if now is None else now, source=source)

    def _transmit(self, now: float) -> None:
        while self.iface is not None:
            if self._retry and self._retry[0][0] <= now:
                payload = self._retry.popleft()[1]
            else:
                with kit_records.LOCAL_WRITES:
                    payload = self.engine.next_transmission(now)
                if payload is None:
                    return
            if not self._send(payload):
                return

    def _send(self, payload: bytes) -> bool:
        try:
            packet = self.iface.sendData(payload, destinationId=BROADCAST, portNum=256,
                                         wantAck=False, channelIndex=0)
        except BaseException as exc:  # noqa: BLE001 — a dead link raises anything, even SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            self._retry.appendleft((0.0, payload))  # not handed over: first to go next time
            self._disconnect(f"send failed: {exc}")
            return False
        self._sent[packet.id] = payload
        while len(self._sent) > SENT_MEMORY:
            self._sent.popitem(last=False)
        self._handed_over(payload)
        return True

    def _handed_over(self, payload: bytes) -> None:
        """The radio has the frame: a local record whose last frame it was leaves the outbox."""
        try:
            frame = codec.parse_frame(payload, self.engine.radio_node)
        except Exception:  # noqa: BLE001 — control frames and the like
            return
        if not isinstance(frame, codec.RecordFrame) or frame.uid.origin != self.origin:
            return
        if isinstance(frame, codec.FragmentFrame) and frame.index != frame.count - 1:
            return
        self.conn.execute("DELETE FROM outbox WHERE origin = ? AND seq = ?", frame.uid)

    def _watchdog(self) -> None:
        """Heartbeat every minute; a radio that does not answer within ~10 s is reopened."""
        if self.iface is None:
            return
        mono = time.monotonic()
        silent_for = mono - self.iface.kit_last_answer
        if silent_for > self.config.heartbeat_s + self.config.answer_timeout_s:
            self._disconnect(f"radio silent for {silent_for:.0f} s")
            return
        if mono >= self._heartbeat_at:
            self._heartbeat_at = mono + self.config.heartbeat_s
            try:
                self.iface.sendHeartbeat()
            except BaseException as exc:  # noqa: BLE001
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._disconnect(f"heartbeat failed: {exc}")

    # --- incoming --------------------------------------------------------------------------
    def _handle_packet(self, packet: dict) -> None:
        """One packet heard. Malformed input is counted and dropped, never raised."""
        try:
            decoded = packet.get("decoded") or {}
            portnum = decoded.get("portnum")
            sender = int(packet.get("from") or 0)
            now = self.clock()
            if sender and self.engine is not None:
                self.engine.peer_heard(sender, now)  # a kit heard again may be back from a partition
            if portnum == PRIVATE_APP:
                with kit_records.LOCAL_WRITES:
                    self._note(self.engine.receive(bytes(decoded.get("payload") or b""), sender, now))
            elif portnum == TEXT_APP and sender and sender != self._my_node():
                self._heard_text(packet, decoded, sender, now)
            elif portnum == "ROUTING_APP":
                self._routing(decoded)
        except Exception:  # noqa: BLE001 — one bad packet must not stop the radio loop
            log.exception("radio: packet dropped")
            with self._lock:
                self._status["frames_rejected"] += 1

    def _my_node(self) -> int | None:
        info = getattr(self.iface, "myInfo", None)
        return info.my_node_num if info else None

    def _routing(self, decoded: dict) -> None:
        reason = (decoded.get("routing") or {}).get("errorReason", "NONE")
        payload = self._sent.pop(decoded.get("requestId"), None)
        if payload is None or reason == "NONE":
            return
        if reason in RETRY_AFTER_S:
            self._retry.append((self.clock() + RETRY_AFTER_S[reason], payload))
            log.info("radio refused a frame (%s): retrying later", reason)
        else:
            log.warning("radio refused a frame (%s): dropped", reason)

    def _note(self, events) -> None:
        for event in events:
            if isinstance(event, RecordReceived) and event.record.origin != self.origin:
                self._set_status(last_sync=int(self.clock()))
                self._another_kit_did(event.record)
            elif isinstance(event, FrameRejected):
                log.info("radio: frame from !%08x rejected: %s", event.from_node, event.reason)

    def _heard_text(self, packet: dict, decoded: dict, sender: int, now: float) -> None:
        text = decoded.get("text") or ""
        to = int(packet.get("to") or BROADCAST)
        if commands.is_command(text):
            self._command(commands.parse(text), sender, to == BROADCAST, packet, now)
        elif to == BROADCAST:
            with kit_records.LOCAL_WRITES:
                self._note(self.engine.heard_text(sender, self._node_name(sender), int(packet.get("id") or 0),
                                                  text[: r.MAX_TEXT_CHARS], now, exercise=self._exercise()))
        else:
            self._reply(sender, commands.HELP)

    def _node_name(self, node: int) -> str:
        user = ((getattr(self.iface, "nodesByNum", None) or {}).get(node) or {}).get("user") or {}
        return user.get("longName") or user.get("shortName") or f"!{node:08x}"

    def _exercise(self) -> bool:
        return settings.get(self.db, "exercise") == "1"

    def _reply(self, node: int, text: str) -> None:
        self._replies.append((node, text[:200]))

    def _send_replies(self, now: float) -> None:
        if not self._replies or now < self._next_reply_at or self.iface is None:
            return
        node, text = self._replies.popleft()
        self._next_reply_at = now + TEXT_REPLY_GAP_S
        try:
            self.iface.sendText(text, destinationId=node, wantAck=False, channelIndex=0)
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, KeyboardInterrupt):
                raise
            self._disconnect(f"reply failed: {exc}")

    # --- volunteers' commands ----------------------------------------------------------------
    def _command(self, command, sender: int, broadcast: bool, packet: dict, now: float) -> None:
        """Carry out a volunteer's command: at once when sent to this kit, after a random
        delay when sent to the whole channel (the first kit does it, the others see its
        record and stand down). Errors are answered by the kits that heard it directly."""
        planned = self._plan(command, sender)
        if isinstance(planned, str):
            direct = packet.get("hopStart", 0) == packet.get("hopLimit", 0)
            if not broadcast or direct:
                self._reply(sender, planned)
            return
        record_type, fields, reply = planned
        key = (sender, int(packet.get("id") or 0))
        due = now + (self.rng.uniform(0, COMMAND_DELAY_S) if broadcast else 0.0)
        self._commands.setdefault(key, (due, record_type, fields, reply))
        self._run_due_commands(now)

    def _run_due_commands(self, now: float) -> None:
        for key, (due, record_type, fields, reply) in list(self._commands.items()):
            if due <= now:
                del self._commands[key]
                self._publish(record_type, now, **fields)
                self._reply(key[0], reply)

    def _another_kit_did(self, record: r.Record) -> None:
        for key, (_due, record_type, fields, _reply) in list(self._commands.items()):
            if type(record) is record_type and all(getattr(record, k) == v for k, v in fields.items()):
                del self._commands[key]

    def _plan(self, command, sender: int):
        """(record type, fields, answer) for a command, or the answer alone (help, errors)."""
        name = self._node_name(sender)
        if isinstance(command, commands.Error):
            return command.message
        if isinstance(command, commands.SiteReport):
            site = self._find_site(command.site_words)
            if isinstance(site, str):
                return site
            position, site_name = site
            counts = f" {command.present}/{command.capacity or '?'}" if command.present is not None else ""
            return (r.SiteStatus, dict(site=position, status=command.state, present=command.present,
                                       capacity=command.capacity, needs=command.needs),
                    f"OK {site_name} : {command.state.name.lower().replace('_', ' ')}{counts}")
        if isinstance(command, commands.Post):
            return ({"need": r.Need, "offer": r.Offer}[command.kind], dict(text=command.text, name=name),
                    "OK, publié sur tous les kits.")
        if isinstance(command, commands.Report):
            return (r.FieldReport, dict(location=command.location, incident=r.IncidentType.OTHER,
                                        severity=r.Severity.UNKNOWN, text=f"{command.text} — {name}"),
                    "OK, rapport transmis à la cellule de crise.")
        if isinstance(command, commands.Safe):
            return (r.Checkin, dict(name=command.name, note=command.note),
                    f"OK, {command.name} est noté(e) en sécurité.")
        return commands.HELP

    def _find_site(self, words: tuple[str, ...]):
        rows = self.conn.execute("SELECT position, name FROM sites ORDER BY position").fetchall()
        matches = [(p, n) for p, n in rows if all(w in name_key(n).split() or
                                                   any(part.startswith(w) for part in name_key(n).split())
                                                   for w in words)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            return "Lieu inconnu. Lieux : " + ", ".join(n for _, n in rows[:6])
        return "Plusieurs lieux : " + ", ".join(n for _, n in matches[:4]) + ". Précisez."

    def _publish(self, record_type, now: float, **fields) -> None:
        record = kit_records.publish(self.db, record_type, self.origin,
                                     exercise=self._exercise(), now=int(now), **fields)
        self._queue_local(record.uid, "radio", now)

    # --- airtime history across restarts ------------------------------------------------------
    def _load_history(self) -> list | None:
        raw = settings.get(self.db, "airtime_history", "")
        try:
            return [tuple(entry) for entry in json.loads(raw)] if raw else None
        except (ValueError, TypeError):
            return None

    def _save_history(self, force: bool = False) -> None:
        mono = time.monotonic()
        if self.engine is None or (not force and mono - self._history_saved_at < self.config.history_save_s):
            return
        self._history_saved_at = mono
        history = [[t, ms, int(lane), source] for t, ms, lane, source in self.engine.scheduler.history()]
        settings.put(self.db, "airtime_history", json.dumps(history))


def start(app, spec: RadioSpec, config: ServiceConfig | None = None) -> MeshService | None:
    """Start the radio side of a kit app: None when the spec says there is no radio."""
    if spec.kind == "none":
        return None
    with app.app_context():
        from kit.storage.db import get_db

        origin = int(settings.get(get_db(), "kit_origin"))
    service = MeshService(app.config["DATABASE"], spec, origin, config).start()
    app.extensions["radio"] = service
    return service
