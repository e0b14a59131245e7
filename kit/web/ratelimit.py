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
        self._longest = max((w for rules in limits.values() for _, w in rules), default=0)

    def hit(self, bucket: str, client: str, *also: tuple[str, str]) -> int:
        """Record one event in (bucket, client) and in each (bucket, key) of `also`, checked
        together under the lock: 0 if every one allows it, else the longest wait (nothing
        recorded anywhere)."""
        keys = [(bucket, client), *also]
        now = self.clock()
        longest = self._longest
        with self._lock:
            wait = 0
            for key in keys:
                events = self._events[key]
                while events and events[0] <= now - longest:
                    events.popleft()
                for maximum, window in self.limits.get(key[0], []):
                    recent = [t for t in events if t > now - window]
                    if len(recent) >= maximum:
                        wait = max(wait, max(1, int(recent[0] + window - now + 1)))
            if wait:
                return wait
            for key in keys:
                self._events[key].append(now)
            if len(self._events) > 10_000:  # forget idle clients so memory stays bounded
                self._sweep(now, longest)
            return 0

    def _sweep(self, now: float, longest: int) -> None:
        for key in [k for k, v in self._events.items() if not v or v[-1] <= now - longest]:
            del self._events[key]


class Backoff:
    """Failed attempts per key with exponential backoff: `free` attempts, then each one more
    waits base·2ⁿ seconds (up to `cap`). Quiet for `forget` seconds, a key starts afresh.

    `attempt()` checks and records in one step under the lock, before the slow password
    check: fifty concurrent tries with the same key get `free` checks, not fifty (issue 13).
    The caller then reports `succeeded()`, which forgives the key (or just that attempt).
    """

    def __init__(self, free: int, base: float, cap: float, forget: float = 86400, clock=time.monotonic):
        self.free, self.base, self.cap, self.forget, self.clock = free, base, cap, forget, clock
        self._keys: dict[str, list[float]] = {}   # key → [attempts, next allowed, last attempt]
        self._lock = threading.Lock()

    def attempt(self, key: str) -> int:
        """0 and the attempt counted, or the seconds to wait (nothing counted)."""
        now = self.clock()
        with self._lock:
            state = self._keys.get(key)
            if state is None or now - state[2] > self.forget:
                state = self._keys[key] = [0, 0.0, now]
            if now < state[1]:
                return max(1, int(state[1] - now + 0.999))
            state[0] += 1
            state[2] = now
            if state[0] >= self.free:
                state[1] = now + min(self.cap, self.base * 2 ** (state[0] - self.free))
            if len(self._keys) > 10_000:  # forget quiet keys so memory stays bounded
                for stale in [k for k, s in self._keys.items() if now - s[2] > self.cap and now >= s[1]]:
                    del self._keys[stale]
            return 0

    def succeeded(self, key: str, *, forgive_all: bool = True) -> None:
        """The attempt was right: forget the key's failures, or (forgive_all=False) only
        this attempt, for a key that others may share (an address)."""
        with self._lock:
            state = self._keys.get(key)
            if state is None:
                return
            if forgive_all:
                del self._keys[key]
            else:
                state[0] = max(0, state[0] - 1)
                if state[0] < self.free:
                    state[1] = 0.0
