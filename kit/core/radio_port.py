"""What the pages and the API say about the radio. The mesh issue plugs the real link in."""
from __future__ import annotations


class NoRadio:
    """The kit runs without a radio (`--radio none`)."""

    def status(self) -> dict:
        return {"state": "none", "node": None, "queue": 0, "airtime_pct": 0.0, "last_sync": None}

    def published(self, record, source: str = "local") -> None:
        """Records stay in the outbox until a radio is attached."""
