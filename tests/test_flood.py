"""A client flooding posts cannot take more than its share of the radio's airtime, and is
told clearly to wait (issue 6)."""
import random

from kit.mesh import codec
from kit.mesh import records as r
from kit.mesh.store import MemoryStore
from kit.mesh.sync import SyncConfig, SyncEngine


def test_a_flooding_phone_gets_a_clear_too_many_messages(client):
    answers = [client.post("/api/v1/safe", json={"name": f"Nom Numero{i}"}) for i in range(8)]
    assert [a.status_code for a in answers[:5]] == [201] * 5
    assert all(a.status_code == 429 for a in answers[5:])
    assert "Too many messages" in answers[5].json["error"] or "Trop de messages" in answers[5].json["error"]
    assert int(answers[5].headers["Retry-After"]) > 0


def test_one_source_cannot_take_more_than_its_share_of_airtime():
    now = 1_800_000_000.0
    engine = SyncEngine(1, MemoryStore(), random.Random(1), now)
    budget = SyncConfig().scheduler.budget_ms
    share = SyncConfig().scheduler.source_share
    for seq in range(1, 301):  # a script hammering check-ins from one address
        engine.publish(r.Checkin(origin=1, seq=seq, created_at=int(now), name=f"Flood {seq}", note="x" * 60),
                       now, source="web:10.42.0.66")
    engine.publish(r.Checkin(origin=1, seq=301, created_at=int(now), name="Marie Dupont"), now, source="web:10.42.0.7")
    sent_at = None
    for step in range(3600):
        t = now + step
        frame = engine.next_transmission(t)
        while frame is not None:
            parsed = [codec.parse_frame(part, 1) for part in codec.unbatch(frame)]
            if any(isinstance(p, codec.RecordFrame) and p.uid.seq == 301 for p in parsed) and sent_at is None:
                sent_at = step
            frame = engine.next_transmission(t)
    flood = engine.scheduler.airtime_used_ms(now + 3599, source="web:10.42.0.66")
    assert flood <= share * budget + 2_000  # its share, give or take the frame that crossed it
    assert sent_at is not None and sent_at < 120  # the other phone's check-in is not stuck behind
