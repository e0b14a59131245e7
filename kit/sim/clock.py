"""The simulation's event loop, running in simulated time.

Every piece of firmware behaviour (radio, router, phone API) runs as a callback on this one
thread, so node logic needs no locks. Simulated time advances `speed` times faster than the
wall clock and can also be jumped forward (`advance`) so that tests can skip a quiet hour of a
duty-cycle window without waiting for it.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable

log = logging.getLogger(__name__)


class Timer:
    """A scheduled callback; `cancel()` makes it a no-op."""

    __slots__ = ("when", "fn", "args", "cancelled")

    def __init__(self, when: float, fn: Callable[..., Any], args: tuple):
        self.when = when
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    """Discrete-event loop in simulated seconds, driven by one daemon thread."""

    def __init__(self, speed: float = 1.0, name: str = "kit-sim"):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.name = name
        self.errors = 0  # callbacks that raised: tests assert this stays 0
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._t0 = time.monotonic()
        self._offset = 0.0
        self._running = False
        self._thread: threading.Thread | None = None

    # -- time -------------------------------------------------------------------------
    def now(self) -> float:
        """Simulated seconds since the scheduler was created."""
        return (time.monotonic() - self._t0) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward; timers that fall due run at once, in order."""
        with self._cond:
            self._offset += seconds
            self._cond.notify_all()

    # -- scheduling (thread-safe) -----------------------------------------------------
    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> Timer:
        timer = Timer(when, fn, args)
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._seq), timer))
            self._cond.notify_all()
        return timer

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        return self.call_at(self.now() + max(0.0, delay), fn, *args)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> Timer:
        return self.call_at(self.now(), fn, *args)

    def run_sync(self, fn: Callable[..., Any], *args: Any, timeout: float = 10.0) -> Any:
        """Run `fn` on the loop thread and return its result (or raise its exception)."""
        if threading.current_thread() is self._thread or not self._running:
            return fn(*args)
        future: Future = Future()

        def call() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed back to the caller
                future.set_exception(exc)

        self.call_soon(call)
        return future.result(timeout)

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._running = False
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self._thread = None

    def _next_due(self) -> Timer | None:
        with self._cond:
            while self._running:
                if self._heap:
                    when = self._heap[0][0]
                    wait = (when - self.now()) / self.speed
                    if wait <= 0:
                        return heapq.heappop(self._heap)[2]
                    self._cond.wait(min(wait, 1.0))
                else:
                    self._cond.wait(1.0)
        return None

    def _loop(self) -> None:
        while True:
            timer = self._next_due()
            if timer is None:
                return
            if timer.cancelled:
                continue
            try:
                timer.fn(*timer.args)
            except Exception:
                self.errors += 1
                log.exception("simulation callback %r failed", timer.fn)


class VirtualScheduler(Scheduler):
    """The same event loop with no thread and no wall clock: time jumps from one timer to the
    next, so hours of a large mesh run in seconds (benchmarks) and every run with the same
    seeds is the same run. Drive it with `run_until`."""

    def __init__(self, name: str = "kit-sim-virtual"):
        super().__init__(1.0, name)
        self._now = 0.0

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self.run_until(self._now + seconds)

    def run_until(self, t_end: float) -> None:
        """Run every timer due up to `t_end`, in order; a callback's exception propagates
        (a benchmark must not hide a bug in the simulation)."""
        heap = self._heap
        while heap and heap[0][0] <= t_end:
            when, _, timer = heapq.heappop(heap)
            if when > self._now:
                self._now = when
            if not timer.cancelled:
                timer.fn(*timer.args)
        self._now = max(self._now, t_end)
