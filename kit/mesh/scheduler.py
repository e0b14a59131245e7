"""Airtime scheduler: which frame goes next, and never more airtime than the budget.

Budget: EU868 allows 10 % duty cycle per rolling hour, counted by the firmware on *all* the
node's transmissions: its own packets but also every relay, ACK and NodeInfo. Half of it
(5 % = 180 s/h) is left for relaying the other kits and the volunteers' handhelds
(the firmware sums every transmission in 60 one-minute buckets: src/mesh/RadioInterface.cpp,
airtime.cpp), so the firmware never answers DUTY_CYCLE_LIMIT, which would drop frames silently.

Alerts may use the whole budget; every other lane leaves `alert_reserve` of it to them.

Order: ALERT, then CONTROL (digests, requests) while it has used less than
`control_share` of the budget, then STATUS, CHECKIN, ROUTINE. Within a lane sources take
turns (round robin per item); a source other than alerts/control may not use more than
`source_share` of the budget, so one flooding client cannot starve the rest (replies to
peers' requests are exempt: that content was admitted at its origin, and capping it would
slow down every repair after a partition).

Polite channel: while the radio reports the channel busier than the firmware's polite
threshold (`congested`), routine work waits: the CHECKIN and ROUTINE lanes and periodic
digests and requests (what is missing is mostly routine, and the records that would answer them
wait too). Alerts, site statuses and requests for a missing alert still go. While the radio reports its own
TX time (its frames and relays, in the rolling hour) near the legal limit (`radio_full`), only
alerts go: the firmware would refuse the rest (fw Router::send, DUTY_CYCLE_LIMIT).

Late bytes: an item may reserve `extra` bytes per frame that the caller fills in when the
frame is popped (`next_frame(now, finalize)`: the sync engine piggy-backs its current wants
on record frames, so they are fresh when the frame goes on air, not when it was queued).
Budget checks count the reserve; the log counts what was actually sent.

Packing (`next_frames` with `pack`): after the head frame, other ready single-frame items of
the record lanes it may share a frame with go in the same transmission, as many as `size`
says fit. Each is logged with the airtime it adds (its lane and source keep their shares).
"""
from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import IntEnum

from kit.mesh.airtime import DEFAULT_PRESET, payload_airtime_ms
from kit.mesh.records import Priority


class Lane(IntEnum):
    ALERT = 0
    CONTROL = 1
    STATUS = 2
    CHECKIN = 3
    ROUTINE = 4


LANE_OF_PRIORITY = {
    Priority.ALERT: Lane.ALERT,
    Priority.STATUS: Lane.STATUS,
    Priority.CHECKIN: Lane.CHECKIN,
    Priority.ROUTINE: Lane.ROUTINE,
}
UNCAPPED_LANES = (Lane.ALERT, Lane.CONTROL)
SYNC_SOURCE = "sync"  # replies to peers' requests
DIGEST_SOURCE = "digest"
REQUEST_SOURCE = "request"
# Asks for alerts a kit lacks: held back neither by a busy channel nor by the control share
# (a few small frames per missing alert, SyncConfig.alert_request_timeout_s apart).
URGENT_REQUEST_SOURCE = "urgent_request"
DEFERRABLE_CONTROL = (DIGEST_SOURCE, REQUEST_SOURCE)
DEFERRABLE_LANES = (Lane.CHECKIN, Lane.ROUTINE)


@dataclass(frozen=True)
class SchedulerConfig:
    preset: str = DEFAULT_PRESET
    # The kit's own share of the 10 % EU868 duty cycle. Sync frames go to the kits in range
    # only (SyncConfig.sync_hops 0), so the radio relays little of ours: alerts, handhelds'
    # packets and NodeInfo use the other 2 %. The radio's measured TX time (own + relays) is
    # watched too: at `SyncConfig.radio_tx_limit_percent` everything but alerts waits.
    duty_cycle: float = 0.08
    window_s: float = 3600.0
    min_gap_s: float = 4.0  # leaves the channel to relays and handhelds between two of ours
    control_share: float = 0.1
    # The control share is counted over this window (pro rata), not the hour: a healed
    # partition's digests at Trickle's shortest interval spent the hour's share in minutes,
    # and the requests that repair the last holes then waited up to an hour (6 of 11 healed
    # 20-kit meshes did not converge within the hour; BENCHMARKS.md). 600 s slowed a 5-kit
    # repair, which needs a short burst (median 416 -> 621 s over 30 seeds); 1200 s did not.
    control_window_s: float = 1200.0
    source_share: float = 0.25
    # Share of the budget only alerts may use: a kit busy passing records on for the others
    # still has airtime for an alert at once, not when its rolling hour frees some.
    alert_reserve: float = 0.1
    exempt_sources: frozenset[str] = frozenset({SYNC_SOURCE})
    frame_overhead: int = 0  # bytes added to every frame after it is popped (its kit-key tag)

    @property
    def budget_ms(self) -> float:
        return self.duty_cycle * self.window_s * 1000.0


@dataclass
class _Item:
    frames: deque[bytes]
    source: str
    key: object
    started: bool = False
    extra: int = 0  # bytes per frame that `finalize` may add when the frame is popped


@dataclass
class _LaneQueue:
    # source -> its items, in the order sources joined; rotated for round robin
    by_source: OrderedDict[str, deque[_Item]] = field(default_factory=OrderedDict)

    def __len__(self) -> int:
        return sum(len(f.frames) for q in self.by_source.values() for f in q)


class AirtimeScheduler:
    def __init__(self, config: SchedulerConfig = SchedulerConfig(), history: list[tuple[float, float, Lane, str]] | None = None):
        """`history`: (start time, airtime ms, lane, source) of earlier transmissions, so that a
        restarted kit keeps honouring the rolling hour (persist `history()` across restarts)."""
        self.config = config
        self._log: deque[tuple[float, float, Lane, str]] = deque(history or ())
        self._last_start = max((t for t, *_ in self._log), default=None)
        self._lanes = {lane: _LaneQueue() for lane in Lane}
        self._keys: dict[object, Lane] = {}
        self.total_ms_by_lane = {lane: 0.0 for lane in Lane}
        self.congested = False  # the channel is over the polite threshold: routine work waits
        self.radio_full = False  # the radio's own TX time is near the legal limit: alerts only

    # --- queue ----------------------------------------------------------------------

    def enqueue(self, frames: list[bytes], lane: Lane, source: str, key: object = None, extra: int = 0) -> bool:
        """Queue the frames of one message; False if an item with this key is already queued.
        `extra`: bytes per frame reserved for `next_frame`'s `finalize` to fill in."""
        if key is not None and key in self._keys:
            return False
        lane_q = self._lanes[lane]
        lane_q.by_source.setdefault(source, deque()).append(_Item(deque(frames), source, key, extra=max(0, extra)))
        if key is not None:
            self._keys[key] = lane
        return True

    def cancel(self, key: object) -> bool:
        """Drop a queued message not yet started (a reply someone else already sent)."""
        lane = self._keys.get(key)
        if lane is None:
            return False
        for source, items in self._lanes[lane].by_source.items():
            for item in items:
                if item.key == key:
                    if item.started:
                        return False  # half-sent: finish it, the receiver holds fragments
                    items.remove(item)
                    del self._keys[key]
                    if not items:
                        del self._lanes[lane].by_source[source]
                    return True
        return False

    def is_queued(self, key: object) -> bool:
        return key in self._keys

    def queue_lengths(self) -> dict[Lane, int]:
        """Frames waiting, per lane."""
        return {lane: len(q) for lane, q in self._lanes.items()}

    def source_backlog(self, source: str) -> int:
        return sum(len(i.frames) for q in self._lanes.values() for i in q.by_source.get(source, ()))

    # --- airtime --------------------------------------------------------------------

    def airtime_used_ms(self, now: float, lane: Lane | None = None, source: str | None = None,
                        window_s: float | None = None) -> float:
        """Own airtime in the rolling window (`window_s`, the hour if None) ending at `now`."""
        self._prune(now)
        since = now - (window_s or self.config.window_s)
        return sum(
            ms
            for t, ms, ln, src in self._log
            if since < t <= now and (lane is None or ln == lane) and (source is None or src == source)
        )

    def history(self) -> list[tuple[float, float, Lane, str]]:
        return list(self._log)

    def _prune(self, now: float) -> None:
        while self._log and self._log[0][0] <= now - self.config.window_s:
            self._log.popleft()

    def _fits_at(self, now: float, cost: float, limit: float, lane: Lane | None, source: str | None,
                 window_s: float | None = None) -> float:
        """Earliest time >= now at which `cost` more airtime stays within `limit` over the
        rolling `window_s` (the hour if None)."""
        window = window_s or self.config.window_s
        used = self.airtime_used_ms(now, lane, source, window)
        if used + cost <= limit:
            return now
        for t, ms, ln, src in self._log:  # oldest first: the window frees them in this order
            if t > now - window and (lane is None or ln == lane) and (source is None or src == source):
                used -= ms
                if used + cost <= limit:
                    return t + window
        return float("inf")  # a single frame larger than the limit: never sendable

    # --- choosing the next frame -------------------------------------------------------

    def _candidates(self, every: bool = False):
        """(lane, source, item) heads in service order (`every`: each item, not just heads)."""
        order = [Lane.ALERT, Lane.CONTROL, Lane.STATUS, Lane.CHECKIN, Lane.ROUTINE]
        for lane in order:
            if (self.congested and lane in DEFERRABLE_LANES) or (self.radio_full and lane is not Lane.ALERT):
                continue
            for source, items in self._lanes[lane].by_source.items():
                if self.congested and source in DEFERRABLE_CONTROL:
                    continue
                for item in (list(items) if every else (items[0],)):
                    yield lane, source, item

    def deferred(self) -> int:
        """Frames held back because the channel is congested or the radio near its limit."""
        lanes = self._lanes
        if self.radio_full:
            return sum(len(q) for lane, q in lanes.items() if lane is not Lane.ALERT)
        if not self.congested:
            return 0
        return (sum(len(lanes[lane]) for lane in DEFERRABLE_LANES)
                + sum(len(i.frames) for src in DEFERRABLE_CONTROL for i in lanes[Lane.CONTROL].by_source.get(src, ())))

    def _ready_time(self, now: float, lane: Lane, source: str, item: _Item, cost: float | None = None) -> float:
        """When `item`'s next frame may go; `cost`: the airtime it adds to a frame being
        packed (then the gap between two transmissions does not apply)."""
        cfg = self.config
        packed = cost is not None
        if cost is None:
            cost = payload_airtime_ms(len(item.frames[0]) + item.extra + cfg.frame_overhead, cfg.preset)
        budget = cfg.budget_ms if lane is Lane.ALERT else (1.0 - cfg.alert_reserve) * cfg.budget_ms
        t = self._fits_at(now, cost, budget, None, None)
        if lane is Lane.CONTROL and source != URGENT_REQUEST_SOURCE:
            window = min(cfg.control_window_s, cfg.window_s)
            share = cfg.control_share * cfg.budget_ms * window / cfg.window_s
            if cost > share:  # a long frame on a slow preset: counted over the hour instead
                window, share = cfg.window_s, cfg.control_share * cfg.budget_ms
            t = max(t, self._fits_at(now, cost, share, Lane.CONTROL, None, window))
        elif lane not in UNCAPPED_LANES and source not in cfg.exempt_sources:
            t = max(t, self._fits_at(now, cost, cfg.source_share * cfg.budget_ms, None, source))
        if self._last_start is not None and not packed:
            t = max(t, self._last_start + cfg.min_gap_s)
        return t

    def next_frame(self, now: float, finalize=None) -> bytes | None:
        """The frame to transmit now, or None (nothing ready). Accounts its airtime.
        `finalize(frame, extra) -> frame` may add up to the item's reserved `extra` bytes."""
        for lane, source, item in self._candidates():
            if self._ready_time(now, lane, source, item) <= now:
                return self._pop(now, lane, source, item, finalize)
        return None

    def next_frames(self, now: float, finalize=None, pack=None, size=None) -> list[bytes]:
        """The frames to transmit now as one (empty: nothing ready). `pack(frame)`: may this
        frame share a transmission; `size([frame, ...])`: bytes of the frame they make, or
        None when they do not fit. Without them, as `next_frame`."""
        head = self.next_frame(now, finalize)
        if head is None:
            return []
        frames = [head]
        if pack is None or not pack(head):
            return frames
        preset, overhead = self.config.preset, self.config.frame_overhead
        for lane, source, item in list(self._candidates(every=True)):
            if item.started or len(item.frames) != 1 or not pack(item.frames[0]):
                continue
            total = size(frames + [item.frames[0]])
            if total is None:
                continue
            cost = payload_airtime_ms(total + overhead, preset) - payload_airtime_ms(size(frames) + overhead, preset)
            if self._ready_time(now, lane, source, item, cost) > now:
                continue
            frames.append(item.frames[0])
            self._pop(now, lane, source, item, cost=cost)
        return frames

    def next_wakeup(self, now: float) -> float | None:
        """When a frame could next be sent; None when nothing is queued or nothing ever could."""
        times = [self._ready_time(now, lane, src, item) for lane, src, item in self._candidates()]
        finite = [t for t in times if t != float("inf")]
        return min(finite) if finite else None

    def _pop(self, now: float, lane: Lane, source: str, item: _Item, finalize=None, cost: float | None = None) -> bytes:
        frame = item.frames.popleft()
        if finalize is not None and item.extra:
            final = finalize(frame, item.extra)
            if len(final) > len(frame) + item.extra:
                raise ValueError("finalize added more bytes than reserved")
            frame = final
        item.started = True
        ms = payload_airtime_ms(len(frame) + self.config.frame_overhead, self.config.preset) if cost is None else cost
        self._log.append((now, ms, lane, source))
        self.total_ms_by_lane[lane] += ms
        self._last_start = now
        by_source = self._lanes[lane].by_source
        if not item.frames:
            queue = by_source[source]
            if queue[0] is item:
                queue.popleft()
            else:  # a packed item behind the head
                del queue[next(i for i, other in enumerate(queue) if other is item)]
            if item.key is not None:
                self._keys.pop(item.key, None)
            # Round robin: the source that just finished an item goes to the back.
            items = by_source.pop(source)
            if items:
                by_source[source] = items
        return frame
