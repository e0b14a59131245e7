"""Sans-I/O sync engine: frames in, events and frames out. No clock, socket or thread.

The radio adapter calls, with its own clock:
    receive(payload, from_node, now) -> [Event]   for every PRIVATE_APP payload heard
    heard_text(sender, name, packet_id, text, now) for every plain text of a handheld
    tick(now) -> [Event]                           at next_wakeup(now) (or any time)
    next_transmission(now) -> bytes | None         when it may send; send what it returns
and the application calls publish(record, now) for records made on this kit.

`node` is the kit's record origin; `radio_node` (default: the same) its radio's node
number, which Meshtastic puts in `from`. Frames of the kit's own records carry FLAG_OWN.

Protocol (all frames are broadcasts; see scope for how far each goes):
- push: a new local record is sent once (FLAG_OWN). A receiver that sees a gap in an
  origin's sequence wants the missing seqs (after a short grace, fills may be in flight).
- piggy-backed wants: what a kit wants rides on its own next record frames (push or
  re-send), a few bytes added as the frame goes on air (codec FLAG_WANTS); any holder
  answers (see offers). A want waits for such a ride only while one is expected: a record
  frame of ours is queued, or our own pushes are regular (until the next one is due, at
  most `piggyback_hold_s`). It is asked at once in a dedicated request when no ride is
  expected, when wants are many (> `bulk_wants`), or while digests and requests use less
  than `control_target` of this kit's own airtime in the rolling hour.
- request: a dedicated frame naming the peer that showed it holds the wants (only it
  answers); repeated with backoff, then to anyone (in bulk: to anyone at once). Every ask
  waits a random `request_jitter_s` more: kits shown one gap by one frame ask apart. No request
  while records new to us keep arriving (a repair under way: holes may yet fill).
- digest: per origin (contiguous max, highest seq), timed by Trickle. In-order own pushes
  count as consistent, so a mesh where records flow sends few digests. A digest is also an
  implicit request: holders offer what lies above the sender's highest (it cannot know it
  lacks those) and its first hole (contiguous + 1, certainly missing); other holes the
  sender asks for itself. Records heard on air in the last `aired_s` are not offered (they
  may still be on their way).
- offers (answers to open requests, piggy-backed wants and digests): our own records at
  once, others' after one random delay per batch; every holder then sends the batch in
  the same order (lane priority, then uid) and drops each record it hears another kit
  send, so several holders interleave on a large batch (a healed partition) with few
  duplicates, and a single lost record is re-sent once. Up to `max_offers` wait.
- scope (`send_options`): alerts are flooded by the radios (the mesh's hop limit) with
  want_ack: the firmware repeats a broadcast that no neighbour relayed. Every other frame
  goes `sync_hops` (0: to the kits in range) and the kits pass records on themselves:
  on a territory's mesh a radio flood of every record and every repair saturates the
  channel (BENCHMARKS.md, "Radio at the scale of a territory").
- alerts: a new alert is pushed at once, then pushed again by its kit `alert_repeats_s`
  after (each push floods anew: a kit that missed every relay of the first gets another
  chance within seconds, not at the next digest).
- neighbours: each kit tells the kits in range which kits it hears first-hand (a
  NEIGHBOURS frame, soon after it hears a new one and every `neighbours_every_s`). A kit
  in range is *covered* for a record when it sent it, or is heard by `cover_copies` of the
  kits heard sending it (`_covered`).
- relays (`_plan_relay`): a kit that stores a new alert or site status, or any other
  record heard with its hop limit spent (`hops_left` 0: its flood ends here; with
  sync_hops 0, every record), pushes it on after a random wait (`alert_relay_s`,
  `urgent_relay_s`, `edge_relay_s`), shorter for a kit with more kits in range not yet
  covered, unless by then every kit in range is covered: where kits' ranges overlap,
  one kit's relay serves the others and they stay silent. A relay already queued is
  dropped when the kits heard sending it since cover the range. Without hop fields from
  the radio (no range known), a routine record is dropped on a copy with hops left, and
  any record on `urgent_relay_copies` copies (counter-based flooding).
- echoes: a record frame of ours that no other kit is heard sending within `echo_s` is
  sent again (`echo_retries`), when a kit in range would have passed it on (one that hears
  a kit beyond what the frame reached: `_passed_on`); an alert `alert_echo_retries` times,
  to the kits in range only, until every kit in range is covered: the firmware's implicit
  ACK, by the kits.
- batches and heads (codec BATCH): record frames waiting together go in one frame up to
  `batch_bytes`, sharing the LoRa preamble, mesh header and kit-key tag; every record
  transmission also names the `heads` records this kit stored last and is not about to
  send itself (3 bytes each: codec.Head). A kit that lacks one wants it from the sender at
  once (after the short grace), instead of at the next record of its origin (10 minutes
  at 6 records a kit-hour) or the next digest: a record lost on one link is repaired
  within a frame-time of that neighbour. On a quiet channel a want waits less for a ride
  on one of our record frames (`quiet_hold_s`). An alert stored lately is named first and
  flagged (`alert_heads_s`): a kit that lacks it asks at once, in a request of its own that
  a busy channel does not hold back, and the answer goes to the kits in range, from which
  it floods on.
- polite channel: the adapter reports the channel utilisation its radio measures
  (`channel_utilisation`); above `polite_util_percent` routine work waits (scheduler.py).
- heal: a record or request from a kit in range silent for `peer_silence_s` (or never
  heard, once this kit has run that long; not a kit heard through a flood), an own push showing
  more than `bulk_wants` records of its origin never reached us, the adapter's optional
  `peer_heard(node, now)`, or a digest showing a large disagreement put this kit in heal
  mode: one digest soon (Trickle.hurry), then digests at `digest_min_s` as long as digests
  show any disagreement; a digest that agrees ends it.
"""
from __future__ import annotations

import random
from collections import Counter, deque
from dataclasses import dataclass, field, replace

from kit.mesh import codec, frame_auth
from kit.mesh.airtime import payload_airtime_ms
from kit.mesh.codec import (
    BROADCAST_ANY,
    MAX_NEIGHBOURS,
    MAX_REQUESTED,
    Decoder,
    Digest,
    DigestEntry,
    Neighbours,
    Pending,
    Rejected,
    Request,
    Wants,
)
from kit.mesh.fragments import FragmentLimits
from kit.mesh.frame_auth import FrameKeys
from kit.mesh.records import MAX_NODE, Alert, Record, SiteStatus, Uid, VolunteerText
from kit.mesh.scheduler import (
    DIGEST_SOURCE,
    LANE_OF_PRIORITY,
    REQUEST_SOURCE,
    SYNC_SOURCE,
    URGENT_REQUEST_SOURCE,
    AirtimeScheduler,
    Lane,
    SchedulerConfig,
)
from kit.mesh.store import OriginState, RecordStore, effective_record
from kit.mesh.trickle import Trickle
from kit.mesh.wire import Malformed

VOLUNTEER_SOURCE = "volunteer"
NEIGHBOURS_SOURCE = "neighbours"


@dataclass(frozen=True)
class SyncConfig:
    # LONG_FAST: a 20-kit digest (~130 B) costs ~1.4 s of air. At 600 s that is 0.25 % of
    # the channel (5 % of one kit's 5 % budget) for the whole mesh when all agree; 30 s
    # is ~8 frame-times, enough for one exchange to settle before the next digest.
    digest_min_s: float = 30.0
    digest_max_s: float = 600.0
    digest_redundancy: int = 1
    # An unanswered request is repeated after this (doubling each time), then dropped
    # after `max_request_attempts`; a later digest brings the want back if still needed.
    request_timeout_s: float = 60.0
    alert_request_timeout_s: float = 15.0  # a missing alert (see alert_heads_s)
    max_request_attempts: int = 5
    # Each ask is delayed by up to this (uniform): the kits in range of one frame that shows
    # them a gap (a digest, heads) would all ask at the same instant, and those out of each
    # other's range collide at the kit they ask (hidden terminals). On a healed 5-kit line,
    # the two kits on either side of one kit asked it at the same instants twice running.
    request_jitter_s: float = 5.0
    hole_grace_s: float = 8.0
    reply_window_s: float = 20.0  # "anyone" replies wait uniform(0.25, 1) × this
    volunteer_delay_s: float = 30.0  # kits that heard a handheld wait up to this, first one wins
    max_wants: int = 4096
    # Piggy-backed wants: up to this many bytes (length prefix included) of our wants ride
    # on each of our record frames. A want waits up to `piggyback_hold_s` for such a ride
    # before it goes out as a dedicated REQUEST; with more than `bulk_wants` wants (after a
    # partition or a reboot) nothing waits and requests go to every holder at once.
    piggyback_bytes: int = 16
    piggyback_hold_s: float = 600.0
    bulk_wants: int = 8
    # While the radio hears the channel busy under `quiet_util_percent` (its last report), a
    # want waits at most `quiet_hold_s` for a ride: a dedicated request then costs little of
    # the shared air, and records lost on a quiet mesh reach every kit sooner (5 kits in a
    # line, 40 seeds: record p95 736 -> 570 s for control 14.9 -> 17.9 % of the kits' air,
    # bench/mesh_territory.py --set quiet_hold_s=600).
    quiet_util_percent: float = 12.5
    quiet_hold_s: float = 120.0
    # A record or request from a kit not heard for this long (a healed partition, a kit
    # back in range) makes us send one digest soon instead of at the next slow interval.
    peer_silence_s: float = 3600.0
    max_peers: int = 1024
    # Re-sends waiting for their turn, at most (a healed partition offers everything the
    # other side lacks at once); records heard on air in the last `aired_s` are not
    # offered again for a digest (it may have been sent before they reached its sender).
    max_offers: int = 2048
    # Digests and dedicated requests may use up to this share of the kit's own airtime
    # (rolling window) before wants wait for rides on record frames again.
    control_target: float = 0.05
    aired_s: float = 15.0
    # A record is accepted only up to this many seqs beyond the contiguous run held for its
    # origin: nobody can push an origin's sequence to the end of its range, and a kit's
    # records arrive at most a window ahead of the holes being repaired. At 6 records a
    # kit-hour, 1024 seqs is a week of a kit's records cut off from the others.
    seq_window: int = 1024
    # A new alert is pushed again this long after its first push (each a new flood).
    alert_repeats_s: tuple[float, ...] = (30.0,)
    urgent_relay_s: tuple[float, float] = (10.0, 30.0)  # site statuses (counter-based, see _plan_relay)
    alert_relay_s: tuple[float, float] = (2.0, 8.0)     # alerts: every kit until its range has them
    urgent_relay_copies: int = 3
    # A routine record heard at the end of its flood (hop limit spent) is pushed on by this
    # kit after uniform(edge_relay_s), unless a flood of it passes through first.
    edge_relay_s: tuple[float, float] = (5.0, 30.0)
    # A record frame of ours sent to the kits in range (sync_hops) that no other kit is heard
    # sending within `echo_s` (no neighbour passed it on: it may have been lost) is sent
    # again, up to `echo_retries` times: the firmware's implicit ACK for broadcasts
    # (fw src/mesh/ReliableRouter.cpp), which needs a relay by radio, done by the kits.
    echo_s: float = 30.0
    echo_retries: int = 1
    alert_echo_retries: int = 3  # an alert's re-sends to the kits in range cost one frame each
    # Hop limit of every frame but alerts (which the radios flood with the mesh's hop
    # limit): 0 where every kit hears another kit directly; where kits are linked only
    # through routers on high points, the hops to the nearest kit. Kits relay records
    # themselves (see _plan_relay), so this is all a record frame needs.
    sync_hops: int = 0
    # The firmware's polite channel-utilisation threshold (fw src/airtime.h,
    # polite_channel_util_percent): above it, routine traffic waits.
    polite_util_percent: float = 25.0
    # The radio refuses every packet once its own TX time (frames and relays) is over the
    # duty cycle in the rolling hour (fw Router::send, 10 % in EU868): a margin below it,
    # everything but alerts waits (the radio reports it as air_util_tx).
    radio_tx_limit_percent: float = 9.0
    # Each kit tells the kits in range which kits it hears first-hand (a NEIGHBOURS frame):
    # after `neighbours_hold_s` once it hears a new one (at most every `neighbours_gap_s`),
    # and every `neighbours_every_s` (0: never). A kit then skips passing on a record when
    # every kit in its range either sent it or is heard by `cover_copies` of the kits that
    # did: on a territory's mesh most kits' neighbours are each other's, and a record sent
    # by every kit once is what fills the channel (BENCHMARKS.md). One copy: a neighbour
    # that lost it (one time in five at 20 % loss) learns of it from the heads of the next
    # record frame it hears; two copies pruned almost no relay on 20 kits (measured).
    neighbours_every_s: float = 7200.0
    neighbours_hold_s: float = 60.0
    neighbours_gap_s: float = 300.0
    cover_copies: int = 1
    # Record transmissions name up to this many records this kit stored last (codec heads,
    # 3 bytes each): a kit that missed one asks for it at once, not when the next record of
    # its origin shows the gap (10 minutes at 6 records a kit-hour) or at the next digest.
    heads: int = 2
    # An alert this kit stored in the last `alert_heads_s` is named first in the heads of its
    # record frames, flagged (codec.URGENT_HEAD): a kit in range that lacks it asks at once in
    # a request a busy channel does not hold back. Where hidden terminals make a kit miss
    # every copy of an alert's flood, its neighbours' routine traffic tells it within a
    # frame-time, not the next digest (BENCHMARKS.md, alerts on 50 kits).
    alert_heads_s: float = 600.0
    # Record frames waiting together go in one BATCH frame up to this size (0: one record
    # per frame, for kits of an older version; see codec.batch).
    batch_bytes: int = codec.MAX_BODY
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    fragments: FragmentLimits = field(default_factory=FragmentLimits)


# --- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordReceived:
    """A new record is stored. `effective` is how to show it: None when hidden (deleted,
    duplicate volunteer text), else with corrections applied. A Correction/Deletion also
    changes how its `target` shows: re-read effective_record(store, target)."""

    record: Record
    effective: Record | None


@dataclass(frozen=True)
class Duplicate:
    uid: Uid


@dataclass(frozen=True)
class RecordRejected:
    uid: Uid
    reason: str


@dataclass(frozen=True)
class FrameRejected:
    reason: str
    from_node: int


@dataclass(frozen=True)
class RecordConflict:
    """Two different authenticated records claim one uid: a kit key is in the wrong
    hands (or a kit reused its seqs). The held one stays held; the application shows
    neither as fact and raises it to the crisis cell."""

    held: Record
    heard: Record
    from_node: int


Event = RecordReceived | Duplicate | RecordRejected | FrameRejected | RecordConflict


@dataclass
class _Want:
    responder: int
    not_before: float  # may ride on one of our frames from then on
    timeout: float  # asked again this long after an ask, doubling each time
    hold: bool = False  # ... and waits for that before a dedicated request (see _ride_by)
    asked_at: float | None = None
    attempts: int = 0
    urgent: bool = False  # an alert: asked in its own request, never deferred

    def ready_at(self, ride_by: float | None = None, hold_s: float = 0.0) -> float:
        """When to ask (again) on one of our frames; with `ride_by` (when our next record
        frame is expected, see SyncEngine._ride_by), when to ask in a dedicated request:
        a want that may wait does so until then, at most `hold_s`."""
        due = self.not_before if self.asked_at is None else self.asked_at + self.timeout * 2 ** (self.attempts - 1)
        if not self.hold or ride_by is None:
            return due
        return max(due, min(ride_by, due + hold_s))


@dataclass(frozen=True)
class EngineStatus:
    queue_lengths: dict[Lane, int]
    airtime_used_ms: float
    budget_ms: float
    wants: int
    reassembling: int
    frames_rejected: int
    channel_util_percent: float = 0.0
    deferred: int = 0  # frames waiting for a quieter channel


class SyncEngine:
    def __init__(
        self,
        node: int,
        store: RecordStore,
        rng: random.Random,
        now: float,
        config: SyncConfig = SyncConfig(),
        airtime_history: list | None = None,
        radio_node: int | None = None,
        keys: FrameKeys | None = None,
    ):
        """`node`: this kit's record origin; `radio_node`: the node number of its radio
        (None: the same). They differ for a kit that made records before its radio was
        attached: it keeps its origin, its frames go out under the radio's number.
        `keys`: the kit key ring; every frame out is sealed with it and every frame in
        must open with it (None only in simulations of the protocol alone)."""
        radio_node = node if radio_node is None else radio_node
        if not (1 <= node <= MAX_NODE and 1 <= radio_node <= MAX_NODE):
            raise ValueError("node number out of range")
        self.node, self.radio_node, self.store, self.rng, self.config = node, radio_node, store, rng, config
        self._born = now
        self.keys = keys
        scheduler = replace(config.scheduler, frame_overhead=frame_auth.OVERHEAD) if keys else config.scheduler
        self.scheduler = AirtimeScheduler(scheduler, airtime_history)
        self.unknown_key_ids: Counter[int] = Counter()  # well-formed frames under a key we lack
        # A kit heard sealing with an older key of our ring lags behind a key rotation: our
        # digests and requests use that key for a while, so that it can still be repaired.
        self._lagging: tuple[int, float] | None = None  # (key id, until)
        self.decoder = Decoder(config.fragments)
        # Boot at the shortest interval: a kit back from hours off announces itself at once.
        self.trickle = Trickle(config.digest_min_s, config.digest_max_s, config.digest_redundancy, rng, now)
        self._wants: dict[Uid, _Want] = {}
        self._replies_due: dict[Uid, float] = {}
        self._volunteer_due: dict[tuple[int, int], tuple[float, dict]] = {}
        self._arrivals: dict[Uid, float] = {}  # records stored in the last digest_min_s
        self._digest_cursor = 0  # first origin of the next digest page
        self._last_heard: dict[int, float] = {}  # peer radio node -> last time we heard it
        self._aired: dict[Uid, float] = {}  # records heard or sent on air in the last aired_s
        self._progress_at = float("-inf")  # last time a record new to us arrived
        self._healing = False  # a heal is suspected: digests at imin until they agree
        self._repeats: dict[Uid, list[float]] = {}  # own alerts -> when to push them again
        self._relays: dict[Uid, list] = {}  # others' records to push on -> [due, copies, Alert/SiteStatus/None, senders]
        self._channel_util = 0.0
        self._quiet = False  # until the radio says so: a radio that does not report may be busy
        self._neighbours: dict[int, float] = {}  # kits heard first-hand (hops_away 0) -> when
        self._echoes: dict[Uid, list] = {}  # record frames of ours -> [due, retries left, senders heard (alerts)]
        self._local_resends: set[Uid] = set()  # alerts to send again to the kits in range only
        self._local_out: set[bytes] = set()  # ... their frames, until the adapter asks send_options
        self._local_frames = False  # the adapter reports hop limits: sync frames reach the kits in range only
        self._their_neighbours: dict[int, tuple[frozenset[int], float]] = {}  # kit -> (its range, when told)
        self._waiting: dict[Uid, set[int] | None] = {}  # queued relays and echoes -> senders heard since
        self._latest: deque[Uid] = deque(maxlen=4 * codec.MAX_HEADS)  # records stored last (heads)
        self._alerts: deque[tuple[float, Uid]] = deque(maxlen=4)  # alerts stored last, with when
        self._heads: tuple[Uid, ...] = ()  # ... offered to the transmission being packed
        self._urgent_head = False  # ... the first of them is an alert
        self._announced: frozenset[int] = frozenset()  # our range as last told
        self._announced_at = float("-inf")
        self._announce_due: float | None = None

    # --- application side -----------------------------------------------------------

    def next_seq(self) -> int:
        return self.store.vector().get(self.node, OriginState(0, 0)).highest + 1

    def publish(self, record: Record, now: float, source: str = "local") -> None:
        """Store a record made on this kit and queue it for the air. A record the
        application already stored (the kit's web app writes before the radio thread
        sends) is queued as long as it is the same record."""
        if record.origin != self.node:
            raise ValueError("publish() is for this kit's own records")
        if not self.store.put(record) and self.store.get(record.uid) != record:
            raise ValueError(f"{record.uid} already exists with other content")
        if self.scheduler.is_queued(("push", record.uid)):
            return
        self._stored(record, now)
        frames = codec.encode(record, sender=self.radio_node, own=True)
        self.scheduler.enqueue(frames, LANE_OF_PRIORITY[record.PRIORITY], source, ("push", record.uid), self._reserve(frames))
        if isinstance(record, Alert):
            # A lost alert must not wait for a slow digest: let the peers compare soon.
            self.trickle.inconsistent(now)
            if self.config.alert_repeats_s:
                self._repeats[record.uid] = [now + d for d in sorted(self.config.alert_repeats_s)]

    def _stored(self, record: Record, now: float) -> None:
        self._arrivals[record.uid] = now
        self._latest.append(record.uid)
        if isinstance(record, Alert):
            self._alerts.append((now, record.uid))

    def bridged(self, uid: Uid, now: float, push: bool = False) -> None:
        """A record this kit stored from another of its links (the territory's MQTT broker;
        for the broker's engine, the radio): carry it on over this one. Nothing here
        bypasses the scheduler: what is queued waits for the link's airtime budget, by
        lane. `push` (a link with no airtime limit), or an alert or a site status: it is
        pushed at once. Else (the radio) it is offered like an answer to a want: after a
        random delay, and dropped if another kit of the mesh (another kit with backhaul)
        is heard sending it first, so the mesh gets what it lacks, once."""
        record = self.store.get(uid)
        if record is None:
            return
        if push or isinstance(record, (Alert, SiteStatus)):
            self._repeat(uid)
        else:
            self._offer([uid], now)

    def heard_text(self, sender: int, sender_name: str, packet_id: int, text: str, now: float, exercise: bool = False) -> list[Event]:
        """A plain Meshtastic text from a handheld. Every kit in range hears it; one of
        them (the first whose random delay expires) re-publishes it as a VolunteerText,
        the others see that record arrive and stay silent."""
        key = (sender, packet_id)
        known = self.store.first_with_key(key)
        if known is not None:
            return [Duplicate(known)]
        if key not in self._volunteer_due:
            fields = dict(sender=sender, sender_name=sender_name, packet_id=packet_id, text=text, exercise=exercise, created_at=int(now))
            self._volunteer_due[key] = (now + self.rng.uniform(0, self.config.volunteer_delay_s), fields)
        return []

    def peer_heard(self, node: int, now: float, hops_away: int | None = None) -> None:
        """Optional: the adapter saw any packet from `node` (NodeInfo, telemetry, text...).
        A kit in range heard again after `peer_silence_s` may have missed records, or hold
        records we lack (a healed partition): we announce our digest soon. `receive` does
        the same for every record or request frame. Heard first-hand (`hops_away` 0), `node`
        is in range: a record is passed on until every node in range has been heard sending
        it, so a kit that has sent nothing yet (its radio's NodeInfo is all we heard) is not
        taken to have it."""
        if hops_away == 0:
            self._note_neighbour(node, now)
        self._heard_peer(node, now, announce=hops_away in (0, None))

    def _note_neighbour(self, node: int, now: float) -> None:
        if node == self.radio_node or not 1 <= node <= MAX_NODE:
            return
        if node not in self._announced and self._announce_due is None and self.config.neighbours_every_s:
            self._announce_due = max(now + self.config.neighbours_hold_s, self._announced_at + self.config.neighbours_gap_s)
        self._neighbours.pop(node, None)
        self._neighbours[node] = now  # dict order: least recently heard first
        if len(self._neighbours) > self.config.max_peers:
            del self._neighbours[next(iter(self._neighbours))]

    def channel_utilisation(self, percent: float, now: float, tx_percent: float | None = None) -> None:
        """What the radio reports every minute (fw DeviceTelemetry, device metrics): the
        share of the last minute it heard the channel busy (`channel_utilization`) and, when
        known, of the last hour it transmitted, relays included (`air_util_tx`). Above the
        polite threshold, routine traffic waits for a quieter channel; near the duty-cycle
        limit, everything but alerts waits."""
        self._channel_util = max(0.0, float(percent))
        self._quiet = self._channel_util < self.config.quiet_util_percent
        self.scheduler.congested = self._channel_util > self.config.polite_util_percent
        if tx_percent is not None:
            self.scheduler.radio_full = float(tx_percent) >= self.config.radio_tx_limit_percent

    def pending_volunteer_texts(self) -> int:
        """Handhelds' texts this kit may still re-publish (its random delay has not run out)."""
        return len(self._volunteer_due)

    def status(self, now: float) -> EngineStatus:
        return EngineStatus(
            queue_lengths=self.scheduler.queue_lengths(),
            airtime_used_ms=self.scheduler.airtime_used_ms(now),
            budget_ms=self.config.scheduler.budget_ms,
            wants=len(self._wants),
            reassembling=len(self.decoder.reassembler),
            frames_rejected=sum(self.decoder.rejected.values()),
            channel_util_percent=self._channel_util,
            deferred=self.scheduler.deferred(),
        )

    # --- radio side -----------------------------------------------------------------

    def receive(self, payload: bytes, from_node: int, now: float, hops_left: int | None = None,
                hops_away: int | None = None) -> list[Event]:
        """`hops_left`: the packet's hop limit as heard (how many more relays the radios
        give it; 0: its flood ends here) and `hops_away` (relays it took to reach us: hop
        start - hop limit), None when the radio does not say (firmware before 2.3)."""
        if from_node == self.radio_node:
            return []  # our own frame echoed back by a relay
        self._local_frames = hops_left is not None
        if self.keys is not None:
            try:
                sealed, payload = bytes(payload), self.keys.open(bytes(payload), from_node)
                if frame_auth.key_id_of(sealed) != self.keys.current:
                    self._lagging = (frame_auth.key_id_of(sealed), now + self.config.peer_silence_s)
            except frame_auth.BadFrame as exc:
                self.decoder.rejected[exc.reason] += 1
                if exc.reason == "unknown_key" and self._well_formed(frame_auth.strip(payload), from_node):
                    self.unknown_key_ids[frame_auth.key_id_of(payload)] += 1
                return [FrameRejected(exc.reason, from_node)]
            except (TypeError, ValueError):
                self.decoder.rejected["not_bytes"] += 1
                return [FrameRejected("not_bytes", from_node)]
        try:
            heads, parts = codec.split_batch(payload) if isinstance(payload, (bytes, bytearray)) else ((), [payload])
        except Malformed as exc:
            self.decoder.rejected[exc.reason] += 1
            return [FrameRejected(exc.reason, from_node)]
        events: list[Event] = []
        digest = accepted = False
        for part in parts:  # a batch's records as if heard one by one
            result, wants, own = self.decoder.decode_full(part, from_node, now, known=self.store.has)
            if isinstance(result, Rejected):
                events.append(FrameRejected(result.reason, from_node))
                continue
            accepted = True
            if hops_away == 0:  # a kit in range (its frame opened with our kit key)
                self._note_neighbour(from_node, now)
            digest = isinstance(result, Digest)
            events += self._dispatch(result, wants, own, from_node, now, hops_left, hops_away)
        if not accepted:
            return events
        if heads:
            self._on_heads(heads, from_node, now)
        # A digest is compared in full; any other frame from a long-silent kit is answered
        # with a digest of ours soon (after the frame itself is handled: an in-order push
        # must not count as "consistent" and suppress that digest).
        self._heard_peer(from_node, now, announce=not digest and hops_away in (0, None))
        return events

    def _on_heads(self, heads: tuple[codec.Head, ...], from_node: int, now: float) -> None:
        """Records the sender holds: one we lack is asked of it (an alert at once)."""
        highest = {origin: state.highest for origin, state in self.store.vector().items()}
        alert = heads[0]._replace(urgent=False) if heads[0].urgent else None
        not_before = now + self.config.hole_grace_s + self._jitter()
        for uid in codec.resolve_heads(heads, highest):
            if self.store.has(uid):
                continue
            want = self._wants.get(uid)
            if codec.Head.of(uid) == alert:
                # Asked of this holder, again each time one shows it after our last ask went
                # unanswered (a request lost on a busy channel): not after a backoff.
                if want is None and len(self._wants) >= self.config.max_wants:
                    continue
                if want is None or not want.urgent or (want.asked_at is not None and now - want.asked_at >= want.timeout):
                    self._wants[uid] = self._new_want(from_node, now + self._jitter(), urgent=True)
            elif want is None:
                self._want(uid.origin, uid.seq, from_node, not_before, hold=True)

    @staticmethod
    def _well_formed(body: bytes, from_node: int) -> bool:
        """A frame of our protocol (under a key we do not hold: a newer kit key?)."""
        try:
            for part in codec.unbatch(body):
                codec.parse_frame(part, from_node)
        except Exception:  # noqa: BLE001 — anything else is noise
            return False
        return True

    def _dispatch(self, result, wants: Wants, own: bool, from_node: int, now: float, hops_left: int | None,
                  hops_away: int | None) -> list[Event]:
        if wants:
            # Piggy-backed wants are an open request: any holder answers, after a random
            # delay, unless it hears the record first (the origin answers at once).
            self._on_request(Request(BROADCAST_ANY, wants), from_node, now, hops_away)
        if isinstance(result, codec.Known):
            self._someone_sent(result.uid, now, hops_left, from_node)
            return [Duplicate(result.uid)]
        if isinstance(result, Pending):
            self._replies_due.pop(result.uid, None)
            return []
        if isinstance(result, Digest):
            self._on_digest(result, from_node, now, hops_away)
            return []
        if isinstance(result, Request):
            self._on_request(result, from_node, now, hops_away)
            return []
        if isinstance(result, Neighbours):
            if hops_away in (0, None):  # only a kit in range tells us whom our range hears
                self._their_neighbours.pop(from_node, None)
                self._their_neighbours[from_node] = (frozenset(result.nodes), now)
                if len(self._their_neighbours) > self.config.max_peers:
                    del self._their_neighbours[next(iter(self._their_neighbours))]
            return []
        return self._on_record(result, own, from_node, now, hops_left)

    def tick(self, now: float) -> list[Event]:
        return self._run_timers(now)

    def next_transmission(self, now: float) -> bytes | None:
        self._run_timers(now)
        self._heads, self._urgent_head = self._latest_heads(now) if self.config.heads and self.config.batch_bytes else ((), False)
        frames = self.scheduler.next_frames(
            now, finalize=lambda frame, extra: self._piggyback(frame, extra, now),
            pack=codec.packable if self.config.batch_bytes else None, size=self._batch_size)
        if not frames:
            return None
        frame = frames[0]
        control = frame[0] & 0x1F in codec.CONTROL_TYPES
        uid = None
        uids: set[Uid] = set()
        for part in [] if control else frames:
            uid = codec.parse_frame(part, self.radio_node).uid
            uids.add(uid)
            self._aired[uid] = now
            senders = self._waiting.pop(uid, None) or set()
            flooded = codec.is_flooded(part)
            retries = self.config.alert_echo_retries if flooded else self.config.echo_retries
            if self._local_frames and retries and (flooded or self._passed_on(senders, now)):
                # An alert is flooded with want_ack, which any one relay satisfies: it is sent
                # again until every kit in range has been heard sending it (a leaf kit behind
                # a lost frame would otherwise wait for the next digest).
                fresh = (0, self.config.alert_echo_retries, set()) if flooded else (0, self.config.echo_retries, None)
                _, tries, senders = self._echoes.pop(uid, fresh)
                self._echoes[uid] = [now + self.config.echo_s, tries, senders]
                if len(self._echoes) > self.config.max_offers:
                    del self._echoes[next(iter(self._echoes))]
        local = len(frames) == 1 and uid in self._local_resends
        frame = self._packed(frames, uids)
        if self.keys is not None:
            older = self._lagging[0] if control and self._lagging and now < self._lagging[1] else None
            frame = self.keys.seal(frame, self.radio_node, older)
        if local:  # an alert sent again for the kits in range that lack it: no new flood
            self._local_resends.discard(uid)
            self._local_out.add(frame)
        return frame

    def _batch_size(self, frames: list[bytes]) -> int | None:
        size = codec.batch_size([len(f) for f in frames], self._heads)
        return size if size <= self.config.batch_bytes else None

    def _latest_heads(self, now: float) -> tuple[tuple[Uid, ...], bool]:
        """The records stored last that we will not send ourselves soon (a kit in range that
        lacks one of those would ask for what is already on its way), after the last alert
        stored within `alert_heads_s` if any; and whether the first is that alert."""
        queued = self.scheduler.is_queued

        def named(u: Uid) -> bool:
            return (u not in self._relays and u not in self._replies_due
                    and not any(queued((kind, u)) for kind in ("push", "repeat", "reply")))

        alert = next((u for t, u in reversed(self._alerts) if t >= now - self.config.alert_heads_s and named(u)), None)
        heads = [u for u in reversed(self._latest) if u != alert and named(u)][: self.config.heads]
        if alert is None:
            return tuple(heads), False
        return (alert, *heads)[: codec.MAX_HEADS], True

    def _packed(self, frames: list[bytes], inside: set[Uid]) -> bytes:
        """The frame to send: these frames with our latest heads (those not already in
        it) when they fit, else without."""
        if not codec.packable(frames[0]):
            return frames[0]  # control frames, alerts, fragments go alone
        heads = tuple(u for u in self._heads if u not in inside)  # an alert is never inside
        if heads and codec.batch_size([len(f) for f in frames], heads) <= self.config.batch_bytes:
            return codec.batch(frames, heads, urgent=self._urgent_head)
        return codec.batch(frames)

    def send_options(self, frame: bytes) -> tuple[int | None, bool]:
        """(hop limit, want_ack) to send a frame of ours with: alerts flood with the radio's
        own hop limit (None) and want_ack; the rest reach the nearest kits only."""
        if frame in self._local_out:
            self._local_out.discard(frame)
        elif codec.is_flooded(frame):
            return None, True
        return self.config.sync_hops, False

    def next_wakeup(self, now: float) -> float | None:
        times = [self.trickle.next_time()]
        times += self._replies_due.values()
        times += (due for due, _ in self._volunteer_due.values())
        times += (t[0] for t in self._repeats.values())
        times += (relay[0] for relay in self._relays.values())
        times += (echo[0] for echo in self._echoes.values() if echo[0] != float("inf"))
        if self._announce_due is not None:
            times.append(self._announce_due)
        if self._announced and self.config.neighbours_every_s:
            times.append(self._announced_at + self.config.neighbours_every_s)
        if not self.scheduler.is_queued(URGENT_REQUEST_SOURCE):
            times += (w.ready_at() for w in self._wants.values() if w.urgent)
        if not self.scheduler.is_queued(REQUEST_SOURCE):
            ride, hold = self._ride_by(now), self._hold()
            quiet = self._progress_at + self.config.hole_grace_s
            times += (max(w.ready_at(ride, hold), quiet) for w in self._wants.values() if not w.urgent)
        for t in (self.scheduler.next_wakeup(now), self.decoder.reassembler.next_expiry()):
            if t is not None:
                times.append(t)
        return max(min(times), now)

    # --- receiving ------------------------------------------------------------------

    def _heard_peer(self, node: int, now: float, announce: bool) -> None:
        """`announce`: the frame came from a kit in range (hops_away 0, or unknown), and is
        not a digest (which is compared in full instead)."""
        if not 1 <= node <= MAX_NODE or node == self.radio_node:
            return
        last = self._last_heard.pop(node, None)
        self._last_heard[node] = now  # re-inserted: dict order = least recently heard first
        if len(self._last_heard) > self.config.max_peers:
            del self._last_heard[next(iter(self._last_heard))]
        # A kit in range back after a long silence, or one never heard once the boot's own
        # exchange is over (a partition healing, a kit brought in range): compare soon. Not a
        # kit farther away, heard through a flood (an alert): our range has not changed, and
        # its kits compare with theirs. On 20 kits those were 86 false heals in 4 h, each
        # a burst of digests at `digest_min_s` (bench/mesh_territory.py).
        new = last is None and now - self._born >= self.config.peer_silence_s
        if announce and (new or (last is not None and now - last >= self.config.peer_silence_s)):
            self._suspect_heal(now)

    def _suspect_heal(self, now: float) -> None:
        """A kit back after a long silence, or a big gap: a partition may have healed. One
        digest soon, and digests at `digest_min_s` while digests show disagreement."""
        self._healing = True
        self.trickle.hurry(now)

    def _someone_sent(self, uid: Uid, now: float, hops_left: int | None = None, sender: int = 0) -> None:
        """A record went on air: our own pending answer for it is now redundant, and so
        is our relay of it once a flood of it goes on past us (or we heard enough copies)."""
        echo = self._echoes.get(uid)
        if echo is not None:  # passed on: no need to send it again
            if echo[2] is not None:
                echo[2].add(sender)
            if echo[2] is None or self._in_range(now) <= self._covered(echo[2], now):
                del self._echoes[uid]
        relay = self._relays.get(uid)
        if relay is not None:
            relay[1] += 1
            relay[3].add(sender)
            # Enough copies heard, or (a routine record) a flood of it going on past us make
            # our push redundant. Not for an alert while we know the kits in range: a leaf
            # kit whose only neighbour heard three copies elsewhere would never get it; at
            # its due time the relay is dropped only if every kit in range sent it.
            # With the kits in range known, coverage decides at the due time instead (a
            # count of copies says nothing of a leaf kit behind us).
            counted = not self._neighbours
            if (counted and relay[1] >= self.config.urgent_relay_copies) or (relay[2] is None and (hops_left or 0) > 0):
                del self._relays[uid]
        waiting = self._waiting.get(uid, False)
        if waiting is not False:
            if waiting is not None:
                waiting.add(sender)
            if waiting is None or self._in_range(now) <= self._covered(waiting, now):
                del self._waiting[uid]
                self._local_resends.discard(uid)
                self.scheduler.cancel(("repeat", uid))
        self._aired[uid] = now
        self._replies_due.pop(uid, None)
        self.scheduler.cancel(("reply", uid))

    def _on_record(self, record: Record, own: bool, from_node: int, now: float, hops_left: int | None) -> list[Event]:
        """`own`: the frame came from the kit that made the record (FLAG_OWN), whatever
        its radio's node number."""
        uid = record.uid
        self._someone_sent(uid, now, hops_left, from_node)
        held = self.store.get(uid)
        if held is not None:
            self._wants.pop(uid, None)
            return [Duplicate(uid)] if held == record else [RecordConflict(held, record, from_node)]
        if uid.seq > self.store.vector().get(uid.origin, OriginState(0, 0)).contiguous + self.config.seq_window:
            return [RecordRejected(uid, "seq_too_far_ahead")]
        in_order = self.store.vector().get(uid.origin, OriginState(0, 0)).contiguous == uid.seq - 1
        self.store.put(record)
        self._stored(record, now)
        self._progress_at = now
        self._wants.pop(uid, None)
        # A re-sent record (from_node != origin) no longer resets Trickle: with the radio
        # flooding frames to every kit, the kits that missed it see the gap on the
        # origin's next push, or in the next digest.
        if own and in_order:
            # A push that extends our contiguous run says what a digest would say for its
            # origin: while records flow in order, digests are redundant (RFC 6206 lets
            # the protocol define "consistent"); gaps are caught from the next seq anyway.
            self.trickle.heard_consistent()
        self._plan_relay(record, now, hops_left, from_node)
        if isinstance(record, VolunteerText):
            self._volunteer_due.pop(record.dedup_key, None)
        state = self.store.vector()[uid.origin]
        if own and uid.seq - 1 - state.contiguous > self.config.bulk_wants:
            # Many records of this origin never reached us: we were cut off from it (a
            # partition that just healed); it likely lacks ours too, so announce soon.
            self._suspect_heal(now)
        if state.contiguous < state.highest:
            # Holes in what we hold of this origin, below this record or above it (one that
            # fills the first hole of several: the others' wants may have been given up, and
            # the holder, seeing only our first hole in our digest, leaves the rest to us).
            # Not urgent (a lost routine record, most of the time): wait for a ride on one
            # of our own frames, else ask in a dedicated request after piggyback_hold_s.
            # A frame heard through a flood (an alert) comes from a kit out of range, which our
            # requests (the kits in range only) would never reach: ask whoever holds it.
            far = self._local_frames and from_node not in self._in_range(now)
            responder = BROADCAST_ANY if far else from_node
            self._want(uid.origin, state.highest, responder, now + self.config.hole_grace_s + self._jitter(), hold=True)
        return [RecordReceived(record, effective_record(self.store, uid))]

    def _in_range(self, now: float) -> set[int]:
        """The kits heard first-hand lately."""
        return {n for n, t in self._neighbours.items() if t > now - self.config.peer_silence_s}

    def _passed_on(self, senders: set[int], now: float) -> bool:
        """Will a kit in range pass on a record frame of ours that these kits also sent (so
        that its silence means it missed it)? Not when each of them hears no kit beyond our
        range and theirs (a leaf; kits whose neighbours those frames reached): an echo would
        re-send what they hold."""
        mine = self._in_range(now)
        reached = mine | {self.radio_node} | self._covered(senders, now)
        for node in mine:  # in range: heard within peer_silence_s
            told = self._their_neighbours.get(node)
            if told is None or not told[0] <= reached:
                return True
        return False

    def _covered(self, senders: set[int], now: float) -> set[int]:
        """Kits that hold a record these kits sent: the senders, and the kits heard by
        `cover_copies` of them (from their NEIGHBOURS frames)."""
        horizon = now - self.config.peer_silence_s
        heard: Counter[int] = Counter()
        for sender in senders:
            told = self._their_neighbours.get(sender)
            if told is not None and self._last_heard.get(sender, told[1]) > horizon:
                heard.update(told[0])
        return set(senders) | {n for n, copies in heard.items() if copies >= self.config.cover_copies}

    def _plan_relay(self, record: Record, now: float, hops_left: int | None, from_node: int) -> None:
        """Push a record new to us on to the kits its flood may not have reached (see
        _someone_sent for what cancels it). An alert or a status: counter-based, from any
        kit (a flood dies at a single lost frame on a sparse mesh; where it is dense the
        kits hear enough copies and stay silent). A routine record: only where its flood
        ends (hop limit spent), else kits farther away wait for a digest and a request."""
        if not self.config.urgent_relay_copies:
            return
        urgent = type(record) if isinstance(record, (Alert, SiteStatus)) else None
        if urgent is Alert:
            low, high = self.config.alert_relay_s
        elif urgent:
            low, high = self.config.urgent_relay_s
        elif hops_left == 0:
            low, high = self.config.edge_relay_s
        else:
            return
        # Kits that would reach more kits not yet covered go first (their relay then covers
        # the others' ranges and those stay silent): the wait shrinks with that count.
        uncovered = len(self._in_range(now) - self._covered({from_node}, now))
        delay = low + (high - low) * self.rng.random() / max(1, uncovered)
        self._relays[record.uid] = [now + delay, 1, urgent, {from_node}]

    def _want(self, origin: int, upto: int, responder: int, not_before: float, hold: bool = False) -> None:
        """Want the records of `origin` we lack up to `upto`, asked from `not_before` (the
        caller adds one `_jitter()` for all the wants one frame shows)."""
        room = self.config.max_wants - len(self._wants)
        if room <= 0:
            return
        for seq in self.store.missing(origin, upto, min(room, 256)):
            if Uid(origin, seq) not in self._wants:
                self._wants[Uid(origin, seq)] = self._new_want(responder, not_before, hold)

    def _new_want(self, responder: int, not_before: float, hold: bool = False, urgent: bool = False) -> _Want:
        timeout = self.config.alert_request_timeout_s if urgent else self.config.request_timeout_s
        return _Want(responder, not_before, timeout, hold, urgent=urgent)

    def _jitter(self) -> float:
        return self.rng.uniform(0.0, self.config.request_jitter_s)

    def _asked(self, uids: list[Uid], now: float) -> None:
        """These wants went in one request (or ride): the next try, jittered alike."""
        at = now + self._jitter()
        for uid in uids:
            want = self._wants[uid]
            want.asked_at, want.attempts = at, want.attempts + 1

    def _on_digest(self, digest: Digest, peer: int, now: float, hops_away: int | None = None) -> None:
        mine = self.store.vector()
        theirs = {e.origin: e for e in digest.entries}
        covered = set(theirs) | {o for o in mine if digest.lo <= o <= digest.hi}
        peer_lacks = we_lack = False
        gap = 0
        at = now + self._jitter()
        offers: list[Uid] = []
        for origin in sorted(covered):
            m = mine.get(origin, OriginState(0, 0))
            t = theirs.get(origin, DigestEntry(origin, 0, 0))
            lacking = self._peer_lacks(origin, m, t)
            peer_lacks = peer_lacks or bool(lacking)
            gap += len(lacking) + max(0, t.contiguous - m.contiguous)
            # The digest is an implicit request: what the peer cannot even know it lacks
            # (above its highest) is re-sent by any holder, as for an open request.
            offers += lacking
            # What we lack waits for a piggy-back like any want (unless there are many).
            hold = True
            lack = False
            if t.contiguous > m.contiguous:
                lack = True
                self._want(origin, t.contiguous, peer, at, hold)
            top = Uid(origin, t.highest)
            if t.highest > t.contiguous and not self.store.has(top):
                lack = True
                if len(self._wants) < self.config.max_wants and top not in self._wants:
                    self._wants[top] = self._new_want(peer, at, hold)
            if lack:
                we_lack = True
                self._refresh_wants(origin, t, peer, now)
        self._offer(offers, now, hops_away)
        if gap > self.config.bulk_wants:
            # A large disagreement (a healed partition, a kit back after hours): digests
            # every imin until it is gone, so both sides learn everything the other holds.
            self._healing = True
            self.trickle.inconsistent(now)
        elif peer_lacks or we_lack:
            if self._healing:
                self.trickle.inconsistent(now)  # the tail of a heal: keep comparing
        else:
            self._healing = False
            self.trickle.heard_consistent()

    def _peer_lacks(self, origin: int, mine: OriginState, theirs: DigestEntry) -> list[Uid]:
        """Records the peer lacks that we have held long enough for a push to have reached
        it (records still in flight are not a disagreement): all above its highest, and
        its first hole (contiguous + 1). Other holes below its highest are not listed (the
        peer may hold any of them): the peer asks for those itself."""
        lacking = []
        hole = Uid(origin, theirs.contiguous + 1)
        if theirs.highest > theirs.contiguous and self.store.has(hole) and not self._recent(hole):
            lacking.append(hole)  # its first hole: certainly missing (it may have given up asking)
        if mine.highest > theirs.highest:
            lacking += [
                rec.uid
                for rec in self.store.range(origin, theirs.highest + 1, mine.highest)
                if not self._recent(rec.uid)
            ]
        return lacking

    def _recent(self, uid: Uid) -> bool:
        """Stored or on air moments ago: maybe still on its way to the peer."""
        return uid in self._arrivals or uid in self._aired

    def _refresh_wants(self, origin: int, theirs: DigestEntry, peer: int, now: float) -> None:
        """Fresh evidence that `peer` holds what we want: ask it directly again, unless a
        request is already on its way (backoff only applies while we have no such hint)."""
        at = now + self._jitter()
        for uid, want in self._wants.items():
            if uid.origin != origin or not (uid.seq <= theirs.contiguous or uid.seq == theirs.highest):
                continue
            if want.asked_at is None or now - want.asked_at >= want.timeout:
                want.responder, want.not_before, want.asked_at, want.attempts = peer, at, None, 0

    def _on_request(self, request: Request, peer: int, now: float, hops_away: int | None = None) -> None:
        offers: list[Uid] = []
        for uid in request.uids():
            want = self._wants.get(uid)
            if want is not None:
                # Someone asked for what we lack too: where requests are flooded the answer
                # reaches us, so wait for it instead of asking again (request suppression).
                # Where they reach the kits in range only, the asking kit's range may hold
                # no copy when ours does: ask anyway.
                if not self._local_frames:
                    want.asked_at, want.attempts = now, max(want.attempts, 1)
                continue
            if request.responder == self.radio_node:
                if self.store.has(uid) and not self.scheduler.is_queued(("push", uid)):
                    self._queue_reply(uid)
            elif request.responder == BROADCAST_ANY:
                offers.append(uid)
        self._offer(offers, now, hops_away)

    def _offer(self, uids: list[Uid], now: float, hops_away: int | None = None) -> None:
        """Re-send `uids` for a peer that lacks them, unless other holders do it first.

        Our own records are queued at once; others' after one random delay for the whole
        batch (the origin, when it hears the want, goes first). Every holder then sends the
        batch in the same order (lane priority, then uid) and drops from its queue each
        record it hears another kit send (reply suppression). Holders that hear each other
        thus interleave: each sends the next record no one has sent yet, so k holders
        serve a large batch about k times faster than one, with few duplicates, and a
        small batch (one lost record) is sent once. Holders farther from the asking kit
        (`hops_away`: relays its frame took to reach us) wait one more window per hop: the
        flood of a nearer holder's answer reaches them first and silences them, where
        holders out of each other's range would otherwise all answer (hidden terminals).
        Our own records go at once only when the asking kit is a direct neighbour."""
        start = None
        hops = hops_away or 0
        for uid in sorted(set(uids)):
            if len(self._replies_due) >= self.config.max_offers:
                break
            if uid in self._replies_due or not self.store.has(uid):
                continue
            if self.scheduler.is_queued(("push", uid)) or self.scheduler.is_queued(("reply", uid)):
                continue
            if uid.origin == self.node and not hops:
                self._replies_due[uid] = now
                continue
            if start is None:
                window = self.config.reply_window_s
                start = now + self.rng.uniform(0.25 * window, window) + hops * window
            self._replies_due[uid] = start

    def _queue_reply(self, uid: Uid) -> None:
        record = self.store.get(uid)
        if isinstance(record, Alert) and len(self._local_resends) < self.config.max_offers:
            self._local_resends.add(uid)  # for the kits in range that lack it: it floods from them
        frames = codec.encode(record, sender=self.radio_node, own=record.origin == self.node)
        self.scheduler.enqueue(frames, LANE_OF_PRIORITY[record.PRIORITY], SYNC_SOURCE, ("reply", uid), self._reserve(frames))

    # --- piggy-backed wants -----------------------------------------------------------

    def _reserve(self, frames: list[bytes]) -> int:
        """Bytes to reserve on each of these frames for piggy-backed wants."""
        room = min(codec.wants_room(f) for f in frames)
        return min(self.config.piggyback_bytes, room + 1) if room >= 8 else 0

    def _bulk(self) -> bool:
        """Many wants (a healed partition, a reboot): ask at once, every holder answering."""
        return len(self._wants) > self.config.bulk_wants

    def _ride_by(self, now: float) -> float | None:
        """When our next record frame (a ride for piggy-backed wants) is expected, or None
        when none is (a quiet kit, one that only re-sent records for others, one whose
        records stopped coming, or many wants: they are asked at once). A record frame
        already queued carries them when it goes. Else our last own push plus the mean gap between our pushes
        in the last 2 × `piggyback_hold_s` (a quarter more for slack; one push alone:
        `piggyback_hold_s`)."""
        if self._bulk() or self._control_room(now):
            return None
        hold = self.config.piggyback_hold_s
        if any(n for lane, n in self.scheduler.queue_lengths().items() if lane is not Lane.CONTROL):
            return now + hold  # it carries them when it goes
        pushes = [t for t, _, lane, src in self.scheduler.history()
                  if t > now - 2 * hold and lane is not Lane.CONTROL and src != SYNC_SOURCE]
        if not pushes:
            return None
        gap = (pushes[-1] - pushes[0]) / (len(pushes) - 1) if len(pushes) > 1 else hold
        ride = pushes[-1] + 1.25 * min(gap, hold)
        return ride if ride > now else None

    def _control_room(self, now: float) -> bool:
        """Can a dedicated request go now with control frames (digests, requests) staying
        within `control_target` of this kit's own airtime in the rolling window? Then a
        want does not wait for a ride: spare control airtime buys a shorter delay."""
        control = total = 0.0
        for t, ms, lane, _ in self.scheduler.history():
            if t > now - self.config.scheduler.window_s:
                total += ms
                control += ms if lane is Lane.CONTROL else 0.0
        cost = _REQUEST_MS
        return control + cost <= self.config.control_target * (total + cost)

    def _piggyback(self, frame: bytes, extra: int, now: float) -> bytes:
        """`frame` plus as many of our due wants as fit in `extra` bytes (called as the
        frame goes on air). A want carried this way counts as asked."""
        room = min(extra - 1, codec.wants_room(frame))
        due = sorted(u for u, w in self._wants.items() if w.ready_at() <= now)
        chosen: list[Uid] = []
        for uid in due[:MAX_REQUESTED]:
            if len(codec.encode_wants(_ranges(chosen + [uid]))) > room:
                break
            chosen.append(uid)
        if not chosen:
            return frame
        self._asked(chosen, now)
        return codec.with_wants(frame, _ranges(chosen))

    # --- timers ---------------------------------------------------------------------

    def _run_timers(self, now: float) -> list[Event]:
        events: list[Event] = []
        self.decoder.reassembler.expire(now)
        horizon = now - self.config.digest_min_s
        for uid in [u for u, t in self._arrivals.items() if t < horizon]:
            del self._arrivals[uid]
        horizon = now - self.config.aired_s
        for uid in [u for u, t in self._aired.items() if t < horizon]:
            del self._aired[uid]
        for uid in sorted(u for u, due in self._replies_due.items() if due <= now):
            del self._replies_due[uid]
            self._queue_reply(uid)
        for key, (due, fields) in list(self._volunteer_due.items()):
            if due <= now:
                del self._volunteer_due[key]
                record = VolunteerText(origin=self.node, seq=self.next_seq(), **fields)
                self.publish(record, now, source=VOLUNTEER_SOURCE)
                events.append(RecordReceived(record, effective_record(self.store, record.uid)))
        neighbours = self._in_range(now)
        for uid in [u for u, relay in self._relays.items() if relay[0] <= now]:
            senders = self._relays.pop(uid)[3]
            if not neighbours or not neighbours <= self._covered(senders, now):  # else every kit in range has it
                self._repeat(uid, senders)
        self._announce(now, neighbours)
        for uid, echo in list(self._echoes.items()):
            if echo[0] <= now:
                if echo[1] > 0:  # sent again: the wait starts anew when it goes on air
                    self._echoes[uid] = [float("inf"), echo[1] - 1, echo[2]]
                    if echo[2] is not None and len(self._local_resends) < self.config.max_offers:
                        self._local_resends.add(uid)
                    self._repeat(uid, echo[2])
                else:
                    del self._echoes[uid]
        for uid, times in list(self._repeats.items()):
            if times[0] <= now:
                times.pop(0)
                self._repeat(uid)
            if not times:
                del self._repeats[uid]
        if self.trickle.poll(now):
            self.scheduler.cancel(DIGEST_SOURCE)  # a digest still waiting for airtime is stale
            self._enqueue_control(self._next_digest(), DIGEST_SOURCE)
        for source, urgent in ((URGENT_REQUEST_SOURCE, True), (REQUEST_SOURCE, False)):
            if not self.scheduler.is_queued(source):
                request = self._next_request(now, urgent)
                if request is not None:
                    self._enqueue_control(request, source)
        return events

    def _announce(self, now: float, in_range: set[int]) -> None:
        """Tell the kits in range which kits we hear: soon after a new one, and now and then
        (a range told holds while its kit is heard)."""
        if not self.config.neighbours_every_s:
            return
        if self._announced and now >= self._announced_at + self.config.neighbours_every_s:
            self._announce_due = min(self._announce_due or now, now)
        if self._announce_due is None or now < self._announce_due:
            return
        self._announce_due = None
        if not in_range:
            return
        latest = sorted(in_range, key=lambda n: -self._neighbours[n])[:MAX_NEIGHBOURS]
        self._announced, self._announced_at = frozenset(in_range), now
        self.scheduler.cancel(NEIGHBOURS_SOURCE)  # one waiting for airtime is stale
        self._enqueue_control(Neighbours(tuple(sorted(latest))), NEIGHBOURS_SOURCE)

    def _repeat(self, uid: Uid, senders: set[int] | None | bool = False) -> None:
        """Push a record again (our alert's repeat, or another kit's record relayed by us): a
        new flood, in its own lane (alerts before statuses, routine lanes wait on a busy
        channel). `senders`: a relay or echo, dropped while it waits if every kit in range is
        covered by the kits then heard sending it (None: by any one copy)."""
        record = self.store.get(uid)
        if record is None or any(self.scheduler.is_queued((k, uid)) for k in ("push", "repeat", "reply")):
            return  # one copy is already waiting: no need to add another
        if senders is not False and len(self._waiting) < self.config.max_offers:
            self._waiting[uid] = None if senders is None else set(senders)
        own = record.origin == self.node
        frames = codec.encode(record, sender=self.radio_node, own=own)
        self.scheduler.enqueue(frames, LANE_OF_PRIORITY[record.PRIORITY], SYNC_SOURCE, ("repeat", uid), self._reserve(frames))

    def _enqueue_control(self, message: Digest | Request | Neighbours, kind: str) -> None:
        """A bounded encoder returns nothing rather than raising into the radio loop: a
        message that cannot be framed is counted (`status().frames_rejected` shows it) and
        left out; the next digest or request is built afresh."""
        try:
            frame = codec.encode_control(message)
        except ValueError:
            self.decoder.rejected[f"oversized_{kind}"] += 1
            return
        self.scheduler.enqueue([frame], Lane.CONTROL, kind, kind)

    def _next_digest(self) -> Digest:
        """One page of our vector, starting at the cursor, as many origins as fit."""
        vector = sorted(self.store.vector().items())
        start = next((i for i, (o, _) in enumerate(vector) if o >= self._digest_cursor), 0)
        entries: list[DigestEntry] = []
        end = start
        while end < len(vector):
            origin, state = vector[end]
            trial = entries + [DigestEntry(origin, state.contiguous, state.highest)]
            # -4: the final page may need the 4-byte `hi` bound the trial did not.
            if codec.control_size(_page(trial, start, end + 1, vector)) > codec.MAX_BODY - 4:
                break
            entries, end = trial, end + 1
        digest = _page(entries, start, end, vector)
        self._digest_cursor = 0 if end >= len(vector) else vector[end][0]
        return digest

    def _hold(self) -> float:
        """How long a want may wait for a ride on one of our record frames."""
        return self.config.quiet_hold_s if self._quiet else self.config.piggyback_hold_s

    def _next_request(self, now: float, urgent: bool = False) -> Request | None:
        """The next request for our wants (`urgent`: for alerts only, else for the rest)."""
        for uid in [u for u, w in self._wants.items() if w.attempts >= self.config.max_request_attempts and w.ready_at() <= now]:
            del self._wants[uid]  # given up; a later digest brings it back if someone has it
        if not urgent and now < self._progress_at + self.config.hole_grace_s:
            return None  # records are flowing in (a repair under way): holes may yet fill
        bulk = self._bulk()
        ride, hold = (None, 0.0) if urgent else (self._ride_by(now), self._hold())
        ready = sorted((w.ready_at(ride, hold), uid) for uid, w in self._wants.items()
                       if w.urgent == urgent and w.ready_at(ride, hold) <= now)
        if not ready:
            return None

        def responder(uid: Uid) -> int:
            w = self._wants[uid]
            # 2nd try, or many wants at once (every holder then shares the work): anyone.
            # An alert is asked of the holder that named it first (its answer is not delayed).
            return w.responder if w.attempts == 0 and (w.urgent or not bulk) else BROADCAST_ANY

        target = responder(ready[0][1])
        chosen = sorted(uid for _, uid in ready if responder(uid) == target)[:MAX_REQUESTED]
        while chosen:  # as many as fit one frame: many origins' runs make a long request
            request = Request(target, _ranges(chosen))
            if codec.control_size(request) <= codec.MAX_BODY:
                break
            chosen.pop()
        if not chosen:
            return None
        self._asked(chosen, now)
        return request


_REQUEST_MS = payload_airtime_ms(12)  # a one-range request to one responder


def _page(entries: list[DigestEntry], start: int, end: int, vector: list) -> Digest:
    lo = 0 if start == 0 else vector[start][0]
    hi = MAX_NODE if end >= len(vector) else vector[end][0] - 1
    return Digest(tuple(entries), lo, hi)


def _ranges(uids: list[Uid]) -> tuple[tuple[int, tuple[tuple[int, int], ...]], ...]:
    """Sorted uids as (origin, ((first seq, count), ...)) runs."""
    by_origin: dict[int, list[list[int]]] = {}
    for origin, seq in uids:
        runs = by_origin.setdefault(origin, [])
        if runs and runs[-1][0] + runs[-1][1] == seq:
            runs[-1][1] += 1
        else:
            runs.append([seq, 1])
    return tuple((o, tuple((a, n) for a, n in runs)) for o, runs in by_origin.items())
