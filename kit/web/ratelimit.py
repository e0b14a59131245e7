"""Per-client rate limits (in memory: one process serves the kit).

A sliding window per (client, bucket). Residents on a crowded hotspot each get their
share; one phone or script cannot fill the board or the radio queue.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class RateLimiter:
    def __init__(self, limits: dict[str, list[tuple[int, int]]], clock=time.monotonic):
        """limits: bucket → [(max events, window seconds), …]"""
        self.limits = limits
        self.clock = clock
        self._events: dict[tuple[str, str], deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, bucket: str, client: str) -> int:
        """Record one event; return 0 if allowed, else the seconds to wait (nothing recorded)."""
        rules = self.limits.get(bucket, [])
        longest = max((window for _, window in rules), default=0)
        now = self.clock()
        with self._lock:
            events = self._events[(bucket, client)]
            while events and events[0] <= now - longest:
                events.popleft()
            for maximum, window in rules:
                recent = [t for t in events if t > now - window]
                if len(recent) >= maximum:
                    return max(1, int(recent[0] + window - now + 1))
            events.append(now)
            if len(self._events) > 10_000:  # forget idle clients so memory stays bounded
                self._sweep(now, longest)
            return 0

    def peek(self, bucket: str, client: str) -> int:
        """Like hit() without recording anything: the seconds to wait, or 0."""
        now = self.clock()
        with self._lock:
            events = self._events.get((bucket, client), ())
            for maximum, window in self.limits.get(bucket, []):
                recent = [t for t in events if t > now - window]
                if len(recent) >= maximum:
                    return max(1, int(recent[0] + window - now + 1))
        return 0

    def _sweep(self, now: float, longest: int) -> None:
        for key in [k for k, v in self._events.items() if not v or v[-1] <= now - longest]:
            del self._events[key]
