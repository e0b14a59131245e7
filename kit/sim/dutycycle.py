"""The node's own transmit-time budget: 10 % of a rolling hour in EU_868.

Like fw src/airtime.cpp, own TX airtime (originated, relayed, ACKs, NodeInfo) is summed in 60
one-minute buckets. fw Router::send refuses a packet when the hour's sum is already over the
limit; this limiter is stricter on purpose: it also counts the frame being offered and the
frames already queued, so that the budget can never be overshot (see the report's gaps).
"""
from __future__ import annotations

from kit.sim.clock import Scheduler

BUCKET_S = 60.0
BUCKETS = 60
HOUR_S = BUCKET_S * BUCKETS

# fw RadioInterface.cpp regions: only the EU bands carry a duty-cycle limit.
DUTY_CYCLE_PERCENT = {"EU_868": 10.0, "EU_433": 10.0}


class DutyCycle:
    def __init__(self, scheduler: Scheduler, region: str = "EU_868"):
        self.scheduler = scheduler
        self.region = region
        self._buckets: dict[int, float] = {}

    @property
    def percent(self) -> float:
        return DUTY_CYCLE_PERCENT.get(self.region, 100.0)

    @property
    def limit_s(self) -> float:
        return HOUR_S * self.percent / 100.0

    def _minute(self) -> int:
        return int(self.scheduler.now() // BUCKET_S)

    def log_tx(self, airtime_s: float) -> None:
        minute = self._minute()
        self._buckets[minute] = self._buckets.get(minute, 0.0) + airtime_s
        for old in [m for m in self._buckets if m <= minute - BUCKETS]:
            del self._buckets[old]

    def used_s(self) -> float:
        """Own TX seconds in the current minute and the 59 before it."""
        minute = self._minute()
        return sum(v for m, v in self._buckets.items() if m > minute - BUCKETS)

    def utilization_tx_percent(self) -> float:
        return 100.0 * self.used_s() / HOUR_S

    def allows(self, airtime_s: float, reserved_s: float = 0.0) -> bool:
        if self.percent >= 100.0:
            return True
        return self.used_s() + reserved_s + airtime_s <= self.limit_s

    def silent_minutes(self, needed_s: float = 0.0) -> int:
        """Minutes until enough old buckets expire to be back under the limit
        (AirTime::getSilentMinutes)."""
        minute = self._minute()
        excess = self.used_s() + needed_s - self.limit_s
        wait = 1
        for m in sorted(m for m in self._buckets if m > minute - BUCKETS):
            if excess <= 0:
                break
            excess -= self._buckets[m]
            wait = m + BUCKETS - minute
        return max(1, wait)
