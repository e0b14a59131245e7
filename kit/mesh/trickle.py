"""Trickle timer (RFC 6206) for the anti-entropy digests.

While the kits agree, the digest interval doubles up to `imax` and a kit stays silent in an
interval where it already heard `k` digests equal to its own, so a quiet mesh costs about
one digest per `imax` in total, whatever the number of kits. Any sign of disagreement
shrinks the interval back to `imin`, so repairs start within seconds.
"""
from __future__ import annotations

import random


class Trickle:
    def __init__(self, imin: float, imax: float, k: int, rng: random.Random, now: float):
        self.imin, self.imax, self.k, self.rng = imin, imax, k, rng
        self._begin(now, imin)

    def _begin(self, now: float, interval: float) -> None:
        self.interval = interval
        self.start = now
        self.fire_at = now + self.rng.uniform(interval / 2, interval)
        self.heard = 0
        self.fired = False

    def heard_consistent(self) -> None:
        self.heard += 1

    def inconsistent(self, now: float) -> None:
        if self.interval > self.imin:
            self._begin(now, self.imin)

    def hurry(self, now: float) -> None:
        """Send one digest soon (within imin) without shrinking the interval: a peer we had
        not heard for long is back. Suppressed like any other if a digest equal to ours is
        heard first; the interval then goes on doubling from its current length."""
        fire = now + self.rng.uniform(self.imin / 2, self.imin)
        if self.fired or now >= self.start + self.interval or fire < self.fire_at:
            self.start, self.fire_at, self.heard, self.fired = now, fire, 0, False

    def poll(self, now: float) -> bool:
        """Advance to `now`; True when a digest should be sent."""
        send = False
        if not self.fired and now >= self.fire_at:
            self.fired = True
            send = self.heard < self.k
        if now >= self.start + self.interval:
            self._begin(now, min(2 * self.interval, self.imax))
        return send

    def next_time(self) -> float:
        return self.start + self.interval if self.fired else self.fire_at
