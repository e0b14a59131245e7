"""Discrete-event simulation of several SyncEngines on a lossy shared LoRa channel.

For tests and benchmarks only (the protocol-faithful radio simulator is a separate piece).
The radio layer is modelled simply: every frame is a broadcast flooded by the radios up to
`hop_limit` relays, each link loses each frame independently with probability `loss`, a
relay re-sends after the frame ends. Collisions and CSMA are not modelled (loss stands in):
the firmware-faithful network for that is kit/sim/territory.py (bench/mesh_territory.py).
Own transmissions are logged per kit to check the duty-cycle budget independently of the
scheduler's own accounting.
"""
from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field

from kit.mesh.airtime import busiest_window, payload_airtime_ms
from kit.mesh.records import Record
from kit.mesh.store import MemoryStore
from kit.mesh.frame_auth import FrameKeys
from kit.mesh.sync import SyncConfig, SyncEngine

RELAY_DELAY_S = 0.5

# Every kit of the simulated territory seals its frames with one kit key, as in the field.
KIT_KEYS = FrameKeys({1: bytes(range(32))}, 1)


@dataclass
class SimKit:
    node: int  # radio node number
    store: MemoryStore
    rng: random.Random
    engine: SyncEngine | None
    tx_log: list[tuple[float, float, bytes]] = field(default_factory=list)  # (start, ms, frame)
    wake_version: int = 0
    events: list = field(default_factory=list)
    stored_at: dict = field(default_factory=dict)  # uid -> when this kit first held it
    origin: int = 0  # record origin (0: the radio node number)

    @property
    def record_origin(self) -> int:
        return self.origin or self.node


class Network:
    def __init__(self, n: int, *, loss: float = 0.2, hop_limit: int = 3, seed: int = 1,
                 config: SyncConfig = SyncConfig(), edges: list[tuple[int, int]] | None = None,
                 own_origins: tuple[int, ...] = ()):
        """`own_origins`: indices of kits whose record origin differs from their radio's
        node number (a kit that made records before its radio was attached)."""
        self.rng = random.Random(seed)
        self.config = config
        self.hop_limit = hop_limit
        self.loss = loss
        self.now = 0.0
        self.kits = [
            SimKit(node=0x1000 + i, store=MemoryStore(), rng=random.Random(seed * 1000 + i), engine=None)
            for i in range(n)
        ]
        for i in own_origins:
            self.kits[i].origin = 0x7000_0000 + i
        for kit in self.kits:
            kit.engine = SyncEngine(kit.record_origin, kit.store, kit.rng, 0.0, config, radio_node=kit.node, keys=KIT_KEYS)
        self.edges = set(edges if edges is not None else [(i, i + 1) for i in range(n - 1)])
        self.down: set[tuple[int, int]] = set()
        self._queue: list = []
        self._counter = itertools.count()
        self.relay_ms = 0.0
        self.delivered = 0
        self.crossings: list[tuple[float, int, int]] = []  # (time, sender, receiver) deliveries over `watch`
        self.watch: set[tuple[int, int]] = set()  # (sender index, receiver index) pairs to log
        for i in range(n):
            self._reschedule(i)

    # --- scenario controls ----------------------------------------------------------

    def publish(self, i: int, make) -> Record:
        """`make(origin, seq, now)` builds the record; kit i publishes it now."""
        kit = self.kits[i]
        record = make(kit.record_origin, kit.engine.next_seq(), int(self.now))
        kit.engine.publish(record, self.now)
        kit.stored_at.setdefault(record.uid, self.now)
        self._reschedule(i)
        return record

    def heard_text(self, indices, sender, name, packet_id, text) -> None:
        for i in indices:
            kit = self.kits[i]
            if kit.engine is not None:
                self._stamp(kit, kit.engine.heard_text(sender, name, packet_id, text, self.now), self.now)
                self._reschedule(i)

    def cut(self, a: int, b: int) -> None:
        self.down.add((min(a, b), max(a, b)))

    def heal(self) -> None:
        self.down.clear()
        for i in range(len(self.kits)):
            self._reschedule(i)

    def power_off(self, i: int) -> None:
        self.kits[i].engine = None
        self.kits[i].wake_version += 1

    def power_on(self, i: int) -> None:
        kit = self.kits[i]
        # The store (SQLite) and the airtime log survive; queues and timers do not.
        history = [(t, ms, lane, src) for t, ms, lane, src in self._history(kit)]
        kit.engine = SyncEngine(kit.record_origin, kit.store, kit.rng, self.now, self.config, airtime_history=history,
                                radio_node=kit.node, keys=KIT_KEYS)
        self._reschedule(i)

    def _history(self, kit: SimKit):
        from kit.mesh.scheduler import Lane

        return [(t, ms, Lane.ROUTINE, "restored") for t, ms, _ in kit.tx_log if t > self.now - 3600]

    # --- event loop -----------------------------------------------------------------

    def _push(self, t: float, action: tuple) -> None:
        heapq.heappush(self._queue, (t, next(self._counter), action))

    def _reschedule(self, i: int) -> None:
        kit = self.kits[i]
        if kit.engine is None:
            return
        kit.wake_version += 1
        t = kit.engine.next_wakeup(self.now)
        if t is not None:
            self._push(max(t, self.now), ("wake", i, kit.wake_version))

    def run_until(self, t_end: float) -> None:
        while self._queue and self._queue[0][0] <= t_end:
            t, _, action = heapq.heappop(self._queue)
            self.now = t
            if action[0] == "wake":
                _, i, version = action
                kit = self.kits[i]
                if kit.engine is None or version != kit.wake_version:
                    continue
                events = kit.engine.tick(t)
                self._stamp(kit, events, t)
                frame = kit.engine.next_transmission(t)
                if frame is not None:
                    self._transmit(i, frame)
                self._reschedule_after(i)
            else:
                _, j, frame, sender = action
                kit = self.kits[j]
                if kit.engine is None:
                    continue
                self.delivered += 1
                if (sender, j) in self.watch:
                    self.crossings.append((t, sender, j))
                events = kit.engine.receive(frame, self.kits[sender].node, t)
                self._stamp(kit, events, t)
                self._reschedule(j)
        self.now = t_end

    @staticmethod
    def _stamp(kit: SimKit, events: list, t: float) -> None:
        kit.events += events
        for e in events:
            if type(e).__name__ == "RecordReceived":
                kit.stored_at.setdefault(e.record.uid, t)

    def _reschedule_after(self, i: int) -> None:
        kit = self.kits[i]
        kit.wake_version += 1
        t = kit.engine.next_wakeup(self.now)
        if t is not None:
            # Guard against a busy loop: an engine that wants to act "now" again after
            # acting gets a millisecond; the tests assert this never piles up.
            self._push(max(t, self.now + 0.001), ("wake", i, kit.wake_version))

    def _neighbours(self, u: int):
        for a, b in self.edges:
            if (a, b) in self.down:
                continue
            if a == u:
                yield b
            elif b == u:
                yield a

    def _transmit(self, i: int, frame: bytes) -> None:
        ms = payload_airtime_ms(len(frame), self.config.scheduler.preset)
        self.kits[i].tx_log.append((self.now, ms, frame))
        air = ms / 1000.0
        reached = {i}
        frontier = [(i, self.hop_limit, self.now + air)]
        while frontier:
            u, hops_left, t_end = frontier.pop(0)
            if u != i:
                self.relay_ms += ms
            for v in self._neighbours(u):
                if v in reached or self.kits[v].engine is None or self.rng.random() < self.loss:
                    continue
                reached.add(v)
                self._push(t_end, ("deliver", v, frame, i))
                if hops_left > 0:
                    frontier.append((v, hops_left - 1, t_end + RELAY_DELAY_S + air))

    # --- observations ---------------------------------------------------------------

    def converged(self) -> bool:
        first = self.kits[0].store.uids()
        return all(k.store.uids() == first for k in self.kits[1:])

    def max_window_airtime_ms(self, i: int, window_s: float = 3600.0) -> float:
        return busiest_window(((t, ms) for t, ms, _ in self.kits[i].tx_log), window_s)
