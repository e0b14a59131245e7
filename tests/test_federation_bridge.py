"""Records another link stored (the broker) are offered to the LoRa mesh by the radio's own
engine: within its airtime budget, alerts first, and once (another holder heard sending one
first is not sent again). Sans-I/O: the engine alone, on a virtual clock."""
import random

from helpers import decode_all, engine_output

from kit.mesh import codec
from kit.mesh import records as r
from kit.mesh.airtime import payload_airtime_ms
from kit.mesh.scheduler import SchedulerConfig
from kit.mesh.store import MemoryStore
from kit.mesh.sync import SyncConfig, SyncEngine

FAR = 0x4B540201  # a kit of another valley, heard only through the broker
BUDGET = SchedulerConfig(duty_cycle=0.005)  # 18 s of air an hour on LONG_FAST


def lora_engine(store):
    return SyncEngine(0x4B540001, store, random.Random(1), 0.0, SyncConfig(scheduler=BUDGET))


def test_a_burst_from_the_broker_stays_within_the_lora_budget_alerts_first():
    store = MemoryStore()
    engine = lora_engine(store)
    boards = [r.Board(origin=FAR, seq=s, created_at=1, exercise=False, text=f"message {s} " * 8) for s in range(1, 81)]
    alert = r.Alert(origin=FAR + 1, seq=1, created_at=1, exercise=False, category=r.Category.MET, event="Crue",
                    urgency=r.Urgency.IMMEDIATE, severity=r.Severity.SEVERE, certainty=r.Certainty.LIKELY,
                    response_type=r.ResponseType.SHELTER, headline="Montez", signature=b"\x00" * 64)
    for record in [*boards, alert]:   # stored by the broker's engine, then handed over
        store.put(record)
        engine.bridged(record.uid, 0.0)
    frames, now = [], 0.0
    while now <= 3600.0:  # as the radio adapter does: send what is due, sleep until the next
        frame = engine.next_transmission(now)
        if frame is not None:
            frames.append(frame)
        now = max(engine.next_wakeup(now), now + 1e-3)
    records = [m for f in frames for m in decode_all(f, 0x4B540001, 0.0) if isinstance(m, r.Record)]
    assert records and records[0].uid == alert.uid            # the alert first
    airtime = sum(payload_airtime_ms(len(f)) for f in frames)  # what went on air, batches included
    assert airtime <= BUDGET.budget_ms                          # never over the hour's budget
    assert len(records) < len(boards)                           # the rest waits for the next hours
    assert len({m.uid for m in records}) == len(records)        # nothing twice


def test_a_bridged_record_another_kit_sends_first_is_not_sent_again():
    store = MemoryStore()
    engine = lora_engine(store)
    board = r.Board(origin=FAR, seq=1, created_at=1, exercise=False, text="de l'autre vallée")
    store.put(board)
    engine.bridged(board.uid, 0.0)
    # another kit with backhaul in the same mesh sends it first, during our random delay
    engine.receive(codec.encode(board, sender=0x4B540002, own=False)[0], 0x4B540002, 0.5)
    sent = [m for m, _ in engine_output(engine, until=600.0, now=0.5) if isinstance(m, r.Record)]
    assert sent == []
