"""The sync engine's edge: this kit's records from the outbox into the engine, the
engine's frames to the radio, refusals retried, and the outbox emptied once a record's
last frame is with the radio.

Nothing the kit accepted is lost when the radio goes away: a record leaves the `outbox`
table only once its last frame has been handed to the radio. A frame handed over is not
handed over again after a reconnect; a frame the radio refused with a retryable reason is
retried later.
"""
from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict, deque

from kit.mesh import codec, frame_auth
from kit.mesh import records as r
from kit.mesh.scheduler import SchedulerConfig
from kit.mesh.sync import SyncConfig, SyncEngine
from kit.storage import settings

log = logging.getLogger(__name__)

# Routing.Error names (meshtastic protobufs mesh.proto, Routing.Error): retry later, or give up.
# Not MAX_RETRANSMIT (a want_ack broadcast no neighbour relayed: only alerts are sent so): the
# sync engine sends an alert again itself until every kit in range has it, to the kits in range
# only; a new radio flood on top of that cost a 20-kit territory 7 points of channel heard
# (bench/mesh_territory.py).
RETRY_AFTER_S = {"DUTY_CYCLE_LIMIT": 300.0, "RATE_LIMIT_EXCEEDED": 5.0,
                 "TIMEOUT": 30.0, "NO_RESPONSE": 30.0, "NO_INTERFACE": 30.0}
SENT_MEMORY = 256       # packet ids remembered to match late NAKs
# A refused frame is handed over again at most this many times (a radio that keeps refusing
# must not hold a frame in the retry queue for ever); the sync engine's re-sends and digests
# carry on from there.
MAX_RETRIES = 2


class EnginePump:
    def __init__(self, kit, store, rng, *, preset: str, duty_cycle: float, sync_interval_s: float,
                 history_save_s: float, sync_hops: int = 0):
        self.kit, self.store, self.rng = kit, store, rng
        self.preset, self.duty_cycle, self.sync_interval_s = preset, duty_cycle, sync_interval_s
        self.sync_hops = sync_hops
        self.history_save_s = history_save_s
        self.engine: SyncEngine | None = None
        self.origin = kit.origin
        self.retry: deque = deque()             # (not_before, payload) refused frames to resend
        self.sent: OrderedDict = OrderedDict()  # packet id → payload, for NAKs
        self.tries: OrderedDict = OrderedDict()  # payload → times handed over again
        self._history_saved_at = 0.0

    def start(self, node: int, now: float) -> None:
        """Once the radio is known (the kit may adopt its node number as its origin)."""
        self.origin = self.kit.adopt_origin(node)
        scheduler = SchedulerConfig(preset=self.preset, duty_cycle=self.duty_cycle)
        self.engine = SyncEngine(self.origin, self.store, self.rng, now,
                                 SyncConfig(digest_max_s=self.sync_interval_s, sync_hops=self.sync_hops,
                                            scheduler=scheduler),
                                 airtime_history=self._load_history(), radio_node=node,
                                 keys=self.kit.frame_keys)
        for origin, seq in self.kit.db().execute("SELECT origin, seq FROM outbox ORDER BY seq").fetchall():
            self.queue_local(r.Uid(origin, seq), "local", now)  # after a restart: these go first

    def queue_local(self, uid: r.Uid, source: str, now: float) -> None:
        """Queue one of this kit's records. Before the radio is known the outbox keeps it; a
        record made under an earlier origin is served from the store when peers ask for it."""
        if self.engine is None or uid.origin != self.origin:
            return
        record = self.store.get(uid)
        if record is not None:
            self.engine.publish(record, now, source=source)

    def bridged(self, uid: r.Uid, now: float) -> None:
        """A record the kit stored from another link (the broker): offered to this mesh by
        the engine, within the airtime budget (sync.SyncEngine.bridged)."""
        if self.engine is not None:
            self.engine.bridged(uid, now)

    def next_payload(self, now: float) -> bytes | None:
        if self.retry and self.retry[0][0] <= now:
            return self.retry.popleft()[1]
        with self.kit.write_lock:  # the engine may publish a volunteer's text
            return self.engine.next_transmission(now)

    def not_sent(self, payload: bytes) -> None:
        self.retry.appendleft((0.0, payload))  # not handed over: first to go next time

    def handed_over(self, packet_id: int, payload: bytes) -> None:
        """The radio has the frame: a local record whose last frame it was leaves the outbox."""
        self.sent[packet_id] = payload
        while len(self.sent) > SENT_MEMORY:
            self.sent.popitem(last=False)
        try:
            frames = [codec.parse_frame(part, self.engine.radio_node) for part in codec.unbatch(frame_auth.strip(payload))]
        except Exception:  # noqa: BLE001 — control frames and the like
            return
        for frame in frames:  # one, or the records of a batch
            if not isinstance(frame, codec.RecordFrame) or frame.uid.origin != self.origin:
                continue
            if isinstance(frame, codec.FragmentFrame) and frame.index != frame.count - 1:
                continue
            self.kit.db().execute("DELETE FROM outbox WHERE origin = ? AND seq = ?", list(frame.uid))

    def refused(self, packet_id, reason: str, now: float) -> None:
        """A Routing answer to one of our packets: retry later, or drop."""
        payload = self.sent.pop(packet_id, None)
        if payload is None or reason == "NONE":
            return
        tries = self.tries.pop(payload, 0) + 1
        if reason in RETRY_AFTER_S and tries <= MAX_RETRIES:
            self.retry.append((now + RETRY_AFTER_S[reason], payload))
            self.tries[payload] = tries
            while len(self.tries) > SENT_MEMORY:
                self.tries.popitem(last=False)
            log.info("radio refused a frame (%s): retrying later", reason)
        else:
            log.warning("radio refused a frame (%s): dropped", reason)

    def queue_length(self, engine_status) -> int:
        """Frames waiting: the engine's queues (from its status) and refused frames to retry."""
        return sum(engine_status.queue_lengths.values()) + len(self.retry)

    # --- airtime history across restarts ------------------------------------------------------
    def _load_history(self) -> list | None:
        raw = self.kit.setting("airtime_history", "")
        try:
            return [tuple(entry) for entry in json.loads(raw)] if raw else None
        except (ValueError, TypeError):
            return None

    def save_history(self, force: bool = False) -> None:
        mono = time.monotonic()
        if self.engine is None or (not force and mono - self._history_saved_at < self.history_save_s):
            return
        self._history_saved_at = mono
        history = [[t, ms, int(lane), source] for t, ms, lane, source in self.engine.scheduler.history()]
        settings.put(self.kit.db(), "airtime_history", json.dumps(history))
