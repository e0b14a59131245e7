"""Kits' sync engines on the firmware-faithful radio simulator, in virtual time.

The radios are `kit.sim` nodes: the firmware's router (managed flooding with an
SNR-weighted contention window, relay cancellation, hop limit and hop start, want_ack with
implicit ACKs and up to 3 transmissions, NodeInfo, the duty-cycle gate) on `kit.sim`'s
medium (listen before talk, collisions at each receiver, half duplex, per-link loss), so
relays are charged to the relaying radio and channel utilisation is what a node hears.
Nothing here re-implements the radio: the same code answers the meshtastic library over
TCP in the tests. What this module adds is the kit's side of the USB cable, as
kit/radio/service.py does it (PRIVATE_APP broadcasts, want_ack on urgent frames, the
channel utilisation the radio reports every minute, any packet heard as a sign of life),
and a virtual clock, so that hours of a 100-kit territory run in minutes.
"""
from __future__ import annotations

import math
import random
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from meshtastic.protobuf import mesh_pb2, portnums_pb2

from kit.mesh.airtime import busiest_window
from kit.mesh.frame_auth import FrameKeys
from kit.mesh.records import Record
from kit.mesh.store import MemoryStore
from kit.mesh.sync import RecordReceived, SyncConfig, SyncEngine
from kit.sim.clock import VirtualScheduler
from kit.sim.medium import Medium, Topology
from kit.sim.node import BROADCAST, ERRNO_OK, SimNode
from kit.sim.state import NodeState

PRIVATE_APP = 256
FIRST_NODE = 0x4B540001
KIT_KEYS = FrameKeys({1: bytes(range(32))}, 1)
# fw DeviceTelemetry.h: device metrics (channel utilisation) reach the client every minute.
TELEMETRY_TO_CLIENT_S = 60.0
# The kit's pump keeps the radio's TX queue short (fw MAX_TX_QUEUE is 16; relays need room).
MAX_HANDED_OVER = 4
SNR_NEAR, SNR_EDGE = 10.0, -15.0
SENT_MEMORY = 256  # packet ids remembered to match the radio's NAKs (as kit/radio/pump.py)


def line(n: int, loss: float) -> Topology:
    topo = Topology(n)
    for i in range(n - 1):
        topo.link(i, i + 1, loss=loss, snr=0.0)
    return topo


def random_geometric(n: int, loss: float, degree: float, seed: int) -> tuple[Topology, int]:
    """Kits scattered on a square, linked when in range, the range set for a mean degree of
    about `degree`; the SNR falls with distance (far links relay first in managed
    flooding). Parts left apart are joined by their closest pair, at the edge of range (a
    kit sited higher): at this degree a large random draw is almost never connected, so
    drawing again until it is would never end. Returns the topology and its diameter."""
    rng = random.Random(seed)
    radius = math.sqrt(degree / (math.pi * n))
    points = [(rng.random(), rng.random()) for _ in range(n)]
    topo = Topology(n)
    for a in range(n):
        for b in range(a + 1, n):
            d = math.dist(points[a], points[b])
            if d < radius:
                topo.link(a, b, loss=loss, snr=round(SNR_NEAR - (SNR_NEAR - SNR_EDGE) * d / radius, 1))
    while len(reached := _hops_from(topo, 0)) < n:
        a, b = min(((a, b) for a in reached for b in range(n) if b not in reached),
                   key=lambda pair: math.dist(points[pair[0]], points[pair[1]]))
        topo.link(a, b, loss=loss, snr=SNR_EDGE)
    return topo, max(max(_hops_from(topo, start).values()) for start in range(n))


def _hops_from(topo: Topology, start: int) -> dict[int, int]:
    """Hops from `start` to every node it can reach."""
    dist = {start: 0}
    frontier = [start]
    while frontier:
        nxt = []
        for u in frontier:
            for v in topo.hearers(u):
                if v not in dist:
                    dist[v] = dist[u] + 1
                    nxt.append(v)
        frontier = nxt
    return dist


@dataclass
class Kit:
    """One kit: its radio node and, on the USB side, its sync engine."""

    index: int
    node: SimNode
    engine: SyncEngine
    store: MemoryStore
    stored_at: dict = field(default_factory=dict)  # uid -> when this kit first held it
    util_samples: list = field(default_factory=list)  # (time, channel utilisation %)
    # Frames the radio refused (its duty-cycle gate, a full queue): lost here, where the
    # kit's pump would hand them over again later (kit/radio/pump.py).
    refused: int = 0
    wake_version: int = 0
    sent: list = field(default_factory=list)  # (time, payload) of every frame handed to the radio
    unacked: OrderedDict = field(default_factory=OrderedDict)  # packet id -> frame (with retry_after)
    retry: deque = field(default_factory=deque)  # (not before, frame) NAKed frames to hand over again
    retried: dict = field(default_factory=dict)  # frame -> times handed over again


class Territory:
    def __init__(self, topology: Topology, *, seed: int = 1, hop_limit: int = 3, role: str = "CLIENT",
                 preset: str = "LONG_FAST", config: SyncConfig = SyncConfig(),
                 retry_after: dict[str, float] | None = None, max_retries: int = 0):
        """`retry_after` (Routing error name -> seconds): a kit's frame that its radio NAKs
        with one of these reasons (MAX_RETRANSMIT: no relay heard after the last try of a
        want_ack broadcast; DUTY_CYCLE_LIMIT...) is handed over again that long after, as the
        kit's pump does (kit/radio/pump.py RETRY_AFTER_S: pass it; kit.sim may not import
        kit.radio), at most `max_retries` times (pump MAX_RETRIES). None: such frames are
        dropped. bench/mesh_crosscheck.py, a ring of 4 kits: MAX_RETRANSMIT NAKs 0.55 a run
        without it, 1.38 with it, 1.67 on the TCP simulator."""
        self.retry_after = retry_after or {}
        self.max_retries = max_retries
        self.clock = VirtualScheduler()
        self.medium = Medium(self.clock, topology, seed=seed)
        self.config = config
        self.kits: list[Kit] = []
        n = topology.size
        for i in range(n):
            state = NodeState.fresh(FIRST_NODE + i, long_name=f"Kit {i}", short_name=f"K{i}", preset=preset,
                                    hop_limit=hop_limit, role=role)
            # The kit's radio YAML sets rebroadcast_mode ALL (kit/deploy/templates/radio-kit.yaml),
            # which a ROUTER keeps only once the role is in place (see kit/sim/admin_module.py).
            state.config.device.rebroadcast_mode = state.config.device.RebroadcastMode.ALL
            node = SimNode(self.clock, state, rng=random.Random(seed * 1000 + i),
                           first_nodeinfo_delay=30.0 + (i * 10.0) % 600, epoch=1_767_225_600)
            node.attach_radio(self.medium.attach(i, node))
            store = MemoryStore()
            engine = SyncEngine(node.node_num, store, random.Random(seed * 7919 + i), 0.0, config, keys=KIT_KEYS)
            kit = Kit(i, node, engine, store)
            node.api = _KitSide(self, kit)
            self.kits.append(kit)
            node.boot()
            self.clock.call_at(i * 0.5, self._telemetry, kit)
            self._wake(kit)

    @property
    def now(self) -> float:
        return self.clock.now()

    def run_until(self, t: float) -> None:
        self.clock.run_until(t)

    # --- the application ----------------------------------------------------------------

    def publish(self, i: int, make) -> Record:
        """`make(origin, seq, now)` builds the record; kit i publishes it now."""
        kit = self.kits[i]
        record = make(kit.engine.node, kit.engine.next_seq(), int(self.now))
        kit.engine.publish(record, self.now)
        kit.stored_at.setdefault(record.uid, self.now)
        self._wake(kit)
        return record

    # --- the kit's radio loop -------------------------------------------------------------

    def _telemetry(self, kit: Kit) -> None:
        util = kit.node.radio.channel_util_percent()
        kit.util_samples.append((self.now, util))
        kit.engine.channel_utilisation(util, self.now, kit.node.duty.utilization_tx_percent())
        self._pump(kit)
        self.clock.call_later(TELEMETRY_TO_CLIENT_S, self._telemetry, kit)

    def _wake(self, kit: Kit) -> None:
        kit.wake_version += 1
        t = kit.engine.next_wakeup(self.now)
        if t is not None:
            self.clock.call_at(max(t, self.now + 0.001), self._on_wake, kit, kit.wake_version)

    def _on_wake(self, kit: Kit, version: int) -> None:
        if version == kit.wake_version:
            self._pump(kit)

    def _pump(self, kit: Kit) -> None:
        now = self.now
        self._stamp(kit, kit.engine.tick(now), now)
        while True:
            if len(kit.node.tx_queue) >= MAX_HANDED_OVER:
                return  # the radio's next transmission (on_queue_space) pumps again
            if kit.retry and kit.retry[0][0] <= now:  # as the pump: a due retry goes first
                frame = kit.retry.popleft()[1]
            else:
                frame = kit.engine.next_transmission(now)
            if frame is None:
                break
            hops, want_ack = kit.engine.send_options(frame)
            p = mesh_pb2.MeshPacket(to=BROADCAST, hop_limit=kit.node.hop_limit if hops is None else hops,
                                    want_ack=want_ack)
            p.decoded.portnum = PRIVATE_APP
            p.decoded.payload = frame
            if self.retry_after:  # the id first: a refusal is NAKed before send_from_client returns
                p.id = kit.node.new_packet_id()
                kit.unacked[p.id] = frame
                while len(kit.unacked) > SENT_MEMORY:
                    kit.unacked.popitem(last=False)
            if kit.node.send_from_client(p) != ERRNO_OK:
                kit.refused += 1
            else:
                kit.sent.append((now, frame))
        self._wake(kit)

    def _stamp(self, kit: Kit, events, t: float) -> None:
        for e in events:
            if isinstance(e, RecordReceived):
                kit.stored_at.setdefault(e.record.uid, t)

    def _heard(self, kit: Kit, p: mesh_pb2.MeshPacket) -> None:
        sender = getattr(p, "from")
        if sender == kit.node.node_num:  # a routing answer about our own packet (ACK, MAX_RETRANSMIT)
            if self.retry_after and p.decoded.portnum == portnums_pb2.ROUTING_APP:
                self._nak(kit, p)
            return
        now = self.now
        away = p.hop_start - p.hop_limit if p.hop_start >= p.hop_limit else None
        kit.engine.peer_heard(sender, now, away)
        if p.decoded.portnum == PRIVATE_APP:
            self._stamp(kit, kit.engine.receive(bytes(p.decoded.payload), sender, now, p.hop_limit, away), now)
        self._wake(kit)

    def _nak(self, kit: Kit, p: mesh_pb2.MeshPacket) -> None:
        """kit/radio/pump.py EnginePump.refused: retry later, or drop."""
        frame = kit.unacked.pop(p.decoded.request_id, None)
        reason = mesh_pb2.Routing.Error.Name(mesh_pb2.Routing.FromString(p.decoded.payload).error_reason)
        tries = kit.retried.pop(frame, 0) + 1
        if frame is not None and reason in self.retry_after and tries <= self.max_retries:
            kit.retried[frame] = tries
            while len(kit.retried) > SENT_MEMORY:
                del kit.retried[next(iter(kit.retried))]
            due = self.now + self.retry_after[reason]
            kit.retry.append((due, frame))
            self.clock.call_at(due, self._pump, kit)

    # --- observations -----------------------------------------------------------------------

    def max_window_airtime_s(self, i: int, t_from: float, t_to: float, window_s: float = 3600.0) -> float:
        """The radio's own transmissions (its kit's frames and every relay, ACK, NodeInfo) in
        its busiest rolling window starting in [t_from, t_to - window_s]."""
        return busiest_window(((t, a) for t, a in self.medium.stats[i].tx_log if t_from <= t < t_to), window_s)


class _KitSide:
    """Stands where PhoneAPI stands: what the radio hands to its client goes to the kit."""

    def __init__(self, territory: Territory, kit: Kit):
        self.territory, self.kit = territory, kit

    def deliver(self, p: mesh_pb2.MeshPacket) -> None:
        self.territory._heard(self.kit, p)

    def on_queue_space(self) -> None:
        self.territory._pump(self.kit)

    def notify(self, message: str, reply_id: int = 0) -> None:
        pass

    def on_reboot(self, tell_client: bool = True) -> None:
        pass
