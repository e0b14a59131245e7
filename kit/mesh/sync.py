"""Sans-I/O sync engine: frames in, events and frames out. No clock, socket or thread.

The radio adapter calls, with its own clock:
    receive(payload, from_node, now) -> [Event]   for every PRIVATE_APP payload heard
    heard_text(sender, name, packet_id, text, now) for every plain text of a handheld
    tick(now) -> [Event]                           at next_wakeup(now) (or any time)
    next_transmission(now) -> bytes | None         when it may send; send what it returns
and the application calls publish(record, now) for records made on this kit.

Protocol (all frames are broadcasts; the radio floods them):
- push: a new local record is sent once; receivers spotting a gap in an origin's sequence
  ask the sender for the gap (after a short grace, as fills may be in flight);
- digest: per origin (contiguous max, highest seq), timed by Trickle, so a quiet mesh
  costs about one ~100 B frame per `digest_max_s` and a disagreement is repaired at once;
- request: the seqs a kit lacks, naming the peer whose digest showed them (only it
  answers: no reply storm); unanswered wants are asked again of anyone, and then every
  holder answers after a random delay and stays silent if it hears the record first.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from kit.mesh import codec
from kit.mesh.codec import BROADCAST_ANY, MAX_REQUESTED, Decoder, Digest, DigestEntry, Pending, Rejected, Request
from kit.mesh.fragments import FragmentLimits
from kit.mesh.records import MAX_NODE, Alert, Record, Uid, VolunteerText
from kit.mesh.scheduler import LANE_OF_PRIORITY, SYNC_SOURCE, AirtimeScheduler, Lane, SchedulerConfig
from kit.mesh.store import OriginState, RecordStore, effective_record
from kit.mesh.trickle import Trickle

VOLUNTEER_SOURCE = "volunteer"


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
    max_request_attempts: int = 5
    hole_grace_s: float = 8.0
    reply_window_s: float = 20.0  # "anyone" replies wait uniform(0.25, 1) × this
    volunteer_delay_s: float = 30.0  # kits that heard a handheld wait up to this, first one wins
    max_wants: int = 4096
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


Event = RecordReceived | Duplicate | RecordRejected | FrameRejected


@dataclass
class _Want:
    responder: int
    not_before: float
    asked_at: float | None = None
    attempts: int = 0

    def ready_at(self, timeout: float) -> float:
        if self.asked_at is None:
            return self.not_before
        return self.asked_at + timeout * 2 ** (self.attempts - 1)


@dataclass(frozen=True)
class EngineStatus:
    queue_lengths: dict[Lane, int]
    airtime_used_ms: float
    budget_ms: float
    wants: int
    reassembling: int
    frames_rejected: int


class SyncEngine:
    def __init__(
        self,
        node: int,
        store: RecordStore,
        rng: random.Random,
        now: float,
        config: SyncConfig = SyncConfig(),
        airtime_history: list | None = None,
    ):
        if not 1 <= node <= MAX_NODE:
            raise ValueError("node number out of range")
        self.node, self.store, self.rng, self.config = node, store, rng, config
        self.scheduler = AirtimeScheduler(config.scheduler, airtime_history)
        self.decoder = Decoder(config.fragments)
        # Boot at the shortest interval: a kit back from hours off announces itself at once.
        self.trickle = Trickle(config.digest_min_s, config.digest_max_s, config.digest_redundancy, rng, now)
        self._wants: dict[Uid, _Want] = {}
        self._replies_due: dict[Uid, float] = {}
        self._volunteer_due: dict[tuple[int, int], tuple[float, dict]] = {}
        self._arrivals: dict[Uid, float] = {}  # records stored in the last digest_min_s
        self._digest_cursor = 0  # first origin of the next digest page

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
        self._arrivals[record.uid] = now
        frames = codec.encode(record, sender=self.node)
        self.scheduler.enqueue(frames, LANE_OF_PRIORITY[record.PRIORITY], source, ("push", record.uid))
        if isinstance(record, Alert):
            # A lost alert must not wait for a slow digest: let the peers compare soon.
            self.trickle.inconsistent(now)

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

    def status(self, now: float) -> EngineStatus:
        return EngineStatus(
            queue_lengths=self.scheduler.queue_lengths(),
            airtime_used_ms=self.scheduler.airtime_used_ms(now),
            budget_ms=self.config.scheduler.budget_ms,
            wants=len(self._wants),
            reassembling=len(self.decoder.reassembler),
            frames_rejected=sum(self.decoder.rejected.values()),
        )

    # --- radio side -----------------------------------------------------------------

    def receive(self, payload: bytes, from_node: int, now: float) -> list[Event]:
        if from_node == self.node:
            return []  # our own frame echoed back by a relay
        result = self.decoder.decode(payload, from_node, now, known=self.store.has)
        if isinstance(result, Rejected):
            return [FrameRejected(result.reason, from_node)]
        if isinstance(result, codec.Known):
            self._someone_sent(result.uid)
            return [Duplicate(result.uid)]
        if isinstance(result, Pending):
            self._replies_due.pop(result.uid, None)
            return []
        if isinstance(result, Digest):
            self._on_digest(result, from_node, now)
            return []
        if isinstance(result, Request):
            self._on_request(result, from_node, now)
            return []
        return self._on_record(result, from_node, now)

    def tick(self, now: float) -> list[Event]:
        return self._run_timers(now)

    def next_transmission(self, now: float) -> bytes | None:
        self._run_timers(now)
        return self.scheduler.next_frame(now)

    def next_wakeup(self, now: float) -> float | None:
        times = [self.trickle.next_time()]
        times += self._replies_due.values()
        times += (due for due, _ in self._volunteer_due.values())
        if not self.scheduler.is_queued("request"):
            timeout = self.config.request_timeout_s
            times += (w.ready_at(timeout) for w in self._wants.values())
        for t in (self.scheduler.next_wakeup(now), self.decoder.reassembler.next_expiry()):
            if t is not None:
                times.append(t)
        return max(min(times), now)

    # --- receiving ------------------------------------------------------------------

    def _someone_sent(self, uid: Uid) -> None:
        """A record went on air: our own pending answer for it is now redundant."""
        self._replies_due.pop(uid, None)
        self.scheduler.cancel(("reply", uid))

    def _on_record(self, record: Record, from_node: int, now: float) -> list[Event]:
        uid = record.uid
        self._someone_sent(uid)
        self._wants.pop(uid, None)
        held = self.store.get(uid)
        if held is not None:
            return [Duplicate(uid)] if held == record else [RecordRejected(uid, "uid_conflict")]
        in_order = self.store.vector().get(uid.origin, OriginState(0, 0)).contiguous == uid.seq - 1
        self.store.put(record)
        self._arrivals[uid] = now
        if from_node != uid.origin:
            # A repair is under way (a kit re-sent someone else's record): kits further
            # away may lack it too, so tell them soon rather than at the next slow digest.
            self.trickle.inconsistent(now)
        elif in_order:
            # A push that extends our contiguous run says what a digest would say for its
            # origin: while records flow in order, digests are redundant (RFC 6206 lets
            # the protocol define "consistent"); gaps are caught from the next seq anyway.
            self.trickle.heard_consistent()
        if isinstance(record, VolunteerText):
            self._volunteer_due.pop(record.dedup_key, None)
        state = self.store.vector()[uid.origin]
        if state.contiguous < uid.seq - 1:
            self._want(uid.origin, uid.seq - 1, from_node, now + self.config.hole_grace_s)
        return [RecordReceived(record, effective_record(self.store, uid))]

    def _want(self, origin: int, upto: int, responder: int, not_before: float) -> None:
        room = self.config.max_wants - len(self._wants)
        if room <= 0:
            return
        for seq in self.store.missing(origin, upto, min(room, 256)):
            self._wants.setdefault(Uid(origin, seq), _Want(responder, not_before))

    def _on_digest(self, digest: Digest, peer: int, now: float) -> None:
        mine = self.store.vector()
        theirs = {e.origin: e for e in digest.entries}
        covered = set(theirs) | {o for o in mine if digest.lo <= o <= digest.hi}
        peer_lacks = we_lack = False
        for origin in covered:
            m = mine.get(origin, OriginState(0, 0))
            t = theirs.get(origin, DigestEntry(origin, 0, 0))
            peer_lacks = peer_lacks or self._peer_lacks(origin, m, t)
            if t.contiguous > m.contiguous:
                we_lack = True
                self._want(origin, t.contiguous, peer, now)
            top = Uid(origin, t.highest)
            if t.highest > t.contiguous and not self.store.has(top):
                we_lack = True
                if len(self._wants) < self.config.max_wants:
                    self._wants.setdefault(top, _Want(peer, now))
            if we_lack:
                self._refresh_wants(origin, t, peer, now)
        if peer_lacks:
            self.trickle.inconsistent(now)
        elif not we_lack:
            self.trickle.heard_consistent()

    def _peer_lacks(self, origin: int, mine: OriginState, theirs: DigestEntry) -> bool:
        """Does the peer lack a record we have held long enough for a push to have reached
        it? Records still in flight are not a disagreement: resetting Trickle for each of
        them would turn every push into a digest."""
        if mine.contiguous > theirs.contiguous and not self._recent(Uid(origin, theirs.contiguous + 1)):
            return True
        if mine.highest > theirs.highest:
            return any(
                not self._recent(rec.uid) for rec in self.store.range(origin, theirs.highest + 1, mine.highest)
            )
        return False

    def _recent(self, uid: Uid) -> bool:
        return uid in self._arrivals

    def _refresh_wants(self, origin: int, theirs: DigestEntry, peer: int, now: float) -> None:
        """Fresh evidence that `peer` holds what we want: ask it directly again, unless a
        request is already on its way (backoff only applies while we have no such hint)."""
        for uid, want in self._wants.items():
            if uid.origin != origin or not (uid.seq <= theirs.contiguous or uid.seq == theirs.highest):
                continue
            if want.asked_at is None or now - want.asked_at >= self.config.request_timeout_s:
                want.responder, want.not_before, want.asked_at, want.attempts = peer, now, None, 0

    def _on_request(self, request: Request, peer: int, now: float) -> None:
        for uid in request.uids():
            want = self._wants.get(uid)
            if want is not None:
                # Someone asked for what we lack too: the answer is a broadcast, so wait
                # for it instead of asking again (request suppression).
                want.asked_at, want.attempts = now, max(want.attempts, 1)
                continue
            if not self.store.has(uid) or self.scheduler.is_queued(("push", uid)):
                continue
            if request.responder == self.node:
                self._queue_reply(uid)
            elif request.responder == BROADCAST_ANY and uid not in self._replies_due:
                # The origin answers first; other holders wait and listen (reply suppression).
                window = self.config.reply_window_s
                delay = 0.0 if uid.origin == self.node else self.rng.uniform(0.25 * window, window)
                self._replies_due[uid] = now + delay

    def _queue_reply(self, uid: Uid) -> None:
        record = self.store.get(uid)
        frames = codec.encode(record, sender=self.node)
        self.scheduler.enqueue(frames, LANE_OF_PRIORITY[record.PRIORITY], SYNC_SOURCE, ("reply", uid))

    # --- timers ---------------------------------------------------------------------

    def _run_timers(self, now: float) -> list[Event]:
        events: list[Event] = []
        self.decoder.reassembler.expire(now)
        horizon = now - self.config.digest_min_s
        for uid in [u for u, t in self._arrivals.items() if t < horizon]:
            del self._arrivals[uid]
        for uid, due in list(self._replies_due.items()):
            if due <= now:
                del self._replies_due[uid]
                self._queue_reply(uid)
        for key, (due, fields) in list(self._volunteer_due.items()):
            if due <= now:
                del self._volunteer_due[key]
                record = VolunteerText(origin=self.node, seq=self.next_seq(), **fields)
                self.publish(record, now, source=VOLUNTEER_SOURCE)
                events.append(RecordReceived(record, effective_record(self.store, record.uid)))
        if self.trickle.poll(now):
            self.scheduler.cancel("digest")  # a digest still waiting for airtime is stale
            self.scheduler.enqueue([codec.encode_control(self._next_digest())], Lane.CONTROL, "digest", "digest")
        if not self.scheduler.is_queued("request"):
            request = self._next_request(now)
            if request is not None:
                self.scheduler.enqueue([codec.encode_control(request)], Lane.CONTROL, "request", "request")
        return events

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
            if len(codec.encode_control(_page(trial, start, end + 1, vector))) > codec.MAX_FRAME - 4:
                break
            entries, end = trial, end + 1
        digest = _page(entries, start, end, vector)
        self._digest_cursor = 0 if end >= len(vector) else vector[end][0]
        return digest

    def _next_request(self, now: float) -> Request | None:
        timeout = self.config.request_timeout_s
        for uid in [u for u, w in self._wants.items() if w.attempts >= self.config.max_request_attempts and w.ready_at(timeout) <= now]:
            del self._wants[uid]  # given up; a later digest brings it back if someone has it
        ready = sorted((w.ready_at(timeout), uid) for uid, w in self._wants.items() if w.ready_at(timeout) <= now)
        if not ready:
            return None

        def responder(uid: Uid) -> int:
            w = self._wants[uid]
            return w.responder if w.attempts == 0 else BROADCAST_ANY  # 2nd try: anyone

        target = responder(ready[0][1])
        chosen = sorted(uid for _, uid in ready if responder(uid) == target)[:MAX_REQUESTED]
        while chosen:
            request = Request(target, _ranges(chosen))
            if len(codec.encode_control(request)) <= codec.MAX_FRAME:
                break
            chosen.pop()
        for uid in chosen:
            want = self._wants[uid]
            want.asked_at, want.attempts = now, want.attempts + 1
        return request


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
