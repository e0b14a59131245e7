"""Bounded reassembly of records split over several frames.

Everything is bounded because the input is the radio: a message has at most
`max_fragments` parts, at most `max_messages` are in progress, they hold at most
`max_bytes` together (the oldest is evicted first), and a message not completed within
`timeout_s` is dropped (its sender's next digest makes the receiver ask again).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kit.mesh.wire import Malformed

MAX_FRAGMENTS = 8  # 8 × ~190 B: a signed alert with long texts still fits


@dataclass(frozen=True)
class FragmentLimits:
    max_fragments: int = MAX_FRAGMENTS
    max_messages: int = 16
    max_bytes: int = 16 * 1024
    # Fragments of one record are queued together but paced ≥ 4 s apart and may wait for
    # duty-cycle budget; half an hour covers a long wait without holding memory forever.
    timeout_s: float = 1800.0


@dataclass
class _Partial:
    count: int
    started: float
    parts: dict[int, bytes] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.parts.values())


class Reassembler:
    def __init__(self, limits: FragmentLimits = FragmentLimits()):
        self.limits = limits
        self._partials: dict[tuple, _Partial] = {}  # insertion order = age
        self.evicted = 0
        self.expired = 0

    def __len__(self) -> int:
        return len(self._partials)

    @property
    def buffered_bytes(self) -> int:
        return sum(p.size for p in self._partials.values())

    def add(self, key: tuple, index: int, count: int, chunk: bytes, now: float) -> bytes | None:
        """Store one fragment; return the whole content once every part is in."""
        if not 2 <= count <= self.limits.max_fragments:
            raise Malformed("fragment_count")
        if index >= count:
            raise Malformed("fragment_index")
        if not chunk:
            raise Malformed("empty_fragment")
        self.expire(now)
        partial = self._partials.get(key)
        if partial is None:
            while len(self._partials) >= self.limits.max_messages:
                self._evict_oldest()
            partial = self._partials[key] = _Partial(count=count, started=now)
        elif partial.count != count:
            raise Malformed("fragment_count_mismatch")
        partial.parts.setdefault(index, chunk)
        while self.buffered_bytes > self.limits.max_bytes and len(self._partials) > 1:
            self._evict_oldest(keep=key)
        if len(partial.parts) < count:
            return None
        del self._partials[key]
        return b"".join(partial.parts[i] for i in range(count))

    def expire(self, now: float) -> None:
        for key in [k for k, p in self._partials.items() if now - p.started > self.limits.timeout_s]:
            del self._partials[key]
            self.expired += 1

    def next_expiry(self) -> float | None:
        if not self._partials:
            return None
        return min(p.started for p in self._partials.values()) + self.limits.timeout_s

    def _evict_oldest(self, keep: tuple | None = None) -> None:
        for key in self._partials:
            if key != keep:
                del self._partials[key]
                self.evicted += 1
                return
