"""The simulated LoRa medium shared by the nodes of a mesh.

A frame occupies the channel for its real airtime (simulated seconds). When it ends, every
node that can hear the sender gets it unless the link drops it (seeded loss draw), another
audible frame overlapped it at that receiver (collision, no capture effect), or the receiver
was itself transmitting (half duplex). Nodes listen before talking through `RadioPort.busy()`.
"""
from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Protocol

from meshtastic.protobuf import mesh_pb2

from kit.sim.clock import Scheduler

UTILISATION_WINDOW_S = 60.0  # channel utilisation is judged over the last minute


@dataclass
class Link:
    """What a receiver hears of one sender."""

    loss: float = 0.0  # probability that a frame is lost on this link
    snr: float = 10.0
    rssi: int = -60


class Topology:
    """Directed links: `links[(tx, rx)]` says that rx hears tx."""

    def __init__(self, size: int):
        self.size = size
        self.links: dict[tuple[int, int], Link] = {}
        self._hearers: dict[int, tuple[int, ...]] | None = None

    def link(self, a: int, b: int, loss: float = 0.0, snr: float = 10.0, rssi: int = -60,
             both: bool = True) -> "Topology":
        self.links[(a, b)] = Link(loss, snr, rssi)
        if both:
            self.links[(b, a)] = Link(loss, snr, rssi)
        self._hearers = None
        return self

    def unlink(self, a: int, b: int, both: bool = True) -> "Topology":
        self.links.pop((a, b), None)
        if both:
            self.links.pop((b, a), None)
        self._hearers = None
        return self

    def hearers(self, tx: int) -> tuple[int, ...]:
        """The nodes that can hear `tx` (cached: a large mesh must not scan every link
        for every frame)."""
        if self._hearers is None:
            table: dict[int, list[int]] = {}
            for a, b in self.links:
                table.setdefault(a, []).append(b)
            self._hearers = {a: tuple(sorted(bs)) for a, bs in table.items()}
        return self._hearers.get(tx, ())

    @classmethod
    def line(cls, n: int, **link_args) -> "Topology":
        topo = cls(n)
        for i in range(n - 1):
            topo.link(i, i + 1, **link_args)
        return topo

    @classmethod
    def full(cls, n: int, **link_args) -> "Topology":
        topo = cls(n)
        for a in range(n):
            for b in range(a + 1, n):
                topo.link(a, b, **link_args)
        return topo

    @classmethod
    def star(cls, n: int, hub: int = 0, **link_args) -> "Topology":
        topo = cls(n)
        for i in range(n):
            if i != hub:
                topo.link(hub, i, **link_args)
        return topo

    @classmethod
    def named(cls, name: str, n: int, **link_args) -> "Topology":
        builders = {"line": cls.line, "full": cls.full, "star": cls.star}
        if name not in builders:
            raise ValueError(f"unknown topology {name!r}; choose from {sorted(builders)}")
        return builders[name](n, **link_args)


@dataclass
class Frame:
    """A packet on air: channel hash in `packet.channel`, Data still decoded (no crypto)."""

    packet: mesh_pb2.MeshPacket
    key: bytes
    preset: str
    airtime: float


@dataclass
class Transmission:
    sender: int
    frame: Frame
    start: float
    end: float


@dataclass
class RadioStats:
    tx_frames: int = 0
    tx_airtime: float = 0.0
    rx_frames: int = 0
    rx_lost: int = 0  # dropped by the link's loss probability
    rx_collided: int = 0  # overlapped by another frame, or we were transmitting
    tx_log: deque = field(default_factory=lambda: deque(maxlen=100_000))  # (start, airtime)


class Receiver(Protocol):
    def on_air_receive(self, frame: Frame, snr: float, rssi: int) -> None: ...


class Medium:
    def __init__(self, scheduler: Scheduler, topology: Topology, seed: int = 0):
        self.scheduler = scheduler
        self.topology = topology
        self.rng = random.Random(seed)
        self.stats: dict[int, RadioStats] = {}
        self._receivers: dict[int, Receiver] = {}
        self._cut: set[tuple[int, int]] = set()
        # Transmissions started within the last minute (and a little more), in start order:
        # all of them, and per node those it could hear (its own included).
        self._recent: deque[Transmission] = deque()
        self._heard: dict[int, deque[Transmission]] = {}

    # -- wiring ---------------------------------------------------------------------
    def attach(self, index: int, receiver: Receiver) -> "RadioPort":
        self._receivers[index] = receiver
        self.stats.setdefault(index, RadioStats())
        return RadioPort(self, index)

    def partition(self, side_a: Iterable[int], side_b: Iterable[int]) -> None:
        """Cut every link between the two sides until `heal()`."""
        side_b = list(side_b)
        for a in side_a:
            for b in side_b:
                self._cut.update({(a, b), (b, a)})

    def heal(self) -> None:
        self._cut.clear()

    def set_loss(self, a: int, b: int, loss: float, both: bool = True) -> None:
        for key in ((a, b), (b, a)) if both else ((a, b),):
            if key in self.topology.links:
                self.topology.links[key].loss = loss

    def audible(self, tx: int, rx: int) -> Link | None:
        if (tx, rx) in self._cut:
            return None
        return self.topology.links.get((tx, rx))

    # -- channel state ----------------------------------------------------------------
    @staticmethod
    def _prune(recent: deque, now: float) -> deque:
        # In start order, so a head that ended before the window may hide a later entry
        # that also did: it stays a little longer, which no computation below minds.
        horizon = now - UTILISATION_WINDOW_S
        while recent and recent[0].end < horizon:
            recent.popleft()
        return recent

    def _heard_at(self, index: int) -> list[Transmission]:
        """Recent transmissions node `index` could hear (its own included), now."""
        recent = self._prune(self._heard.get(index, deque()), self.scheduler.now())
        return [t for t in recent if t.sender == index or self.audible(t.sender, index)]

    def on_air(self) -> bool:
        now = self.scheduler.now()
        return any(t.end > now for t in self._prune(self._recent, now))

    def busy(self, index: int) -> bool:
        now = self.scheduler.now()
        return any(t.start <= now < t.end for t in self._heard_at(index))

    def channel_util_percent(self, index: int) -> float:
        now = self.scheduler.now()
        start = now - UTILISATION_WINDOW_S
        heard = sum(max(0.0, min(t.end, now) - max(t.start, start)) for t in self._heard_at(index))
        return 100.0 * heard / UTILISATION_WINDOW_S

    # -- transmission -----------------------------------------------------------------
    def transmit(self, sender: int, frame: Frame) -> Transmission:
        now = self.scheduler.now()
        tx = Transmission(sender, frame, now, now + frame.airtime)
        self._prune(self._recent, now).append(tx)
        for index in (sender, *self.topology.hearers(sender)):
            self._prune(self._heard.setdefault(index, deque()), now).append(tx)
        stats = self.stats[sender]
        stats.tx_frames += 1
        stats.tx_airtime += frame.airtime
        stats.tx_log.append((now, frame.airtime))
        self.scheduler.call_at(tx.end, self._deliver, tx)
        return tx

    def _overlapped_at(self, tx: Transmission, rx: int) -> bool:
        return any(other is not tx and other.start < tx.end and tx.start < other.end
                   for other in self._heard_at(rx))

    def _deliver(self, tx: Transmission) -> None:
        for rx in self.topology.hearers(tx.sender):
            receiver = self._receivers.get(rx)
            link = self.audible(tx.sender, rx)
            if receiver is None or link is None or rx == tx.sender:
                continue
            stats = self.stats[rx]
            if self._overlapped_at(tx, rx):
                stats.rx_collided += 1
            elif link.loss > 0 and self.rng.random() < link.loss:
                stats.rx_lost += 1
            else:
                stats.rx_frames += 1
                packet = mesh_pb2.MeshPacket()
                packet.CopyFrom(tx.frame.packet)
                receiver.on_air_receive(Frame(packet, tx.frame.key, tx.frame.preset,
                                              tx.frame.airtime), link.snr, link.rssi)


class RadioPort:
    """One node's antenna on the medium."""

    def __init__(self, medium: Medium, index: int):
        self.medium = medium
        self.index = index

    def busy(self) -> bool:
        return self.medium.busy(self.index)

    def channel_util_percent(self) -> float:
        return self.medium.channel_util_percent(self.index)

    def transmit(self, frame: Frame) -> Transmission:
        return self.medium.transmit(self.index, frame)
