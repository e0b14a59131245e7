"""The radio pulled out and plugged back 20 times while a kit sends: every record arrives,
once (issue 6)."""
import random
import time

import pytest
from helpers import wait_for
from radio_bench import Kit, fast_config

from kit.mesh import records as r
from kit.sim import Mesh

pytestmark = pytest.mark.slow


def test_radio_unplugged_20_times_during_sends_delivers_everything_exactly_once(tmp_path):
    speed, preset = 20.0, "SHORT_FAST"
    mesh = Mesh(nodes=2, topology="line", preset=preset, speed=speed, nodeinfo_delay=1, nodeinfo_stagger=1)
    mesh.start()
    kits = [Kit(tmp_path / f"kit{i}", mesh, i, fast_config(speed, preset)) for i in range(2)]
    try:
        for kit in kits:
            kit.service.start()
        assert wait_for(lambda: all(k.service.status()["state"] == "connected" for k in kits), 20)
        rng = random.Random(3)
        sent = []
        for cycle in range(20):
            for _ in range(2):
                text = f"message {len(sent)}"
                kits[0].post(None, r.Checkin, name=f"Personne {len(sent)}", note=text)
                sent.append(f"Personne {len(sent)}")
            time.sleep(rng.uniform(0.0, 0.3))   # unplug while frames are queued or on air
            mesh.unplug(0)
            time.sleep(rng.uniform(0.1, 0.4))
            mesh.replug(0)
        received = lambda: {row[0] for row in kits[1].db.execute("SELECT name FROM checkins")}  # noqa: E731
        assert wait_for(lambda: received() == set(sent), 180), sorted(set(sent) - received())
        counts = kits[1].db.execute("SELECT name, count(*) FROM checkins GROUP BY name HAVING count(*) > 1").fetchall()
        assert counts == []  # nothing twice
        assert wait_for(lambda: kits[0].db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0, 30)
        assert mesh.stats(0).tx_frames > 0
    finally:
        for kit in kits:
            kit.close()
        mesh.stop()


def test_100k_random_and_mutated_frames_through_the_radio_path(tmp_path):
    """Every packet the radio hands over goes through MeshService._handle_packet, into the
    sync engine and the SQLite store: garbage is counted, never raised, and changes nothing."""
    from kit.core.kit import Kit
    from kit.core.radio_port import RadioSpec
    from kit.mesh import codec
    from kit.radio.pump import EnginePump
    from kit.radio.service import MeshService
    from kit.storage.sqlite_store import SqliteStore

    kit = Kit.open(tmp_path)
    service = MeshService(kit, RadioSpec("none"), seed=1)
    service.conn = kit.db().conn
    service.store = SqliteStore(service.conn)
    service.pump = EnginePump(kit, service.store, random.Random(1), preset="LONG_FAST", duty_cycle=0.05,
                              sync_interval_s=600, history_save_s=300)
    service.pump.start(node=7, now=1_800_000_000.0)
    service.engine = service.pump.engine
    rng = random.Random(2024)
    valid = [frame for i in range(1, 40) for frame in codec.encode(
        r.Board(origin=9, seq=i, created_at=1_800_000_000 + i, text=f"message {i} " * rng.randint(1, 30)))]
    before = service.conn.execute("SELECT count(*) FROM records").fetchone()[0]
    shapes = 0
    for n in range(100_000):
        choice = n % 4
        if choice == 0:
            payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 240)))
        else:
            frame = bytearray(rng.choice(valid))
            for _ in range(rng.randint(1, 4)):
                frame[rng.randrange(len(frame))] = rng.randrange(256)
            payload = bytes(frame[: rng.randrange(1, len(frame) + 1)] if choice == 3 else frame)
        packet = {"from": rng.choice([9, 10, 0x4B540001]), "decoded": {"portnum": "PRIVATE_APP", "payload": payload}}
        if n % 997 == 0:  # malformed packet dicts too
            packet = rng.choice([{}, {"decoded": None}, {"from": "x", "decoded": {"portnum": "PRIVATE_APP"}},
                                 {"decoded": {"portnum": "TEXT_MESSAGE_APP", "text": None}}])
            shapes += 1
        service._handle_packet(packet)
    status = service.engine.status(1_800_000_000.0)
    accepted = service.conn.execute("SELECT count(*) FROM records").fetchone()[0] - before
    assert status.frames_rejected + accepted > 0
    assert service.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # whatever was accepted decodes to a valid record and shows like any other
    for (kind, origin, seq) in service.conn.execute("SELECT kind, origin, seq FROM records").fetchall():
        assert service.store.get(r.Uid(origin, seq)) is not None
    assert shapes > 50


def test_a_refused_frame_is_handed_over_again_a_bounded_number_of_times(app):
    """DUTY_CYCLE_LIMIT: handed over again later, MAX_RETRIES times at most. MAX_RETRANSMIT (an
    alert no neighbour relayed): not at all, the sync engine re-sends it to the kits in range (a
    kit alone in range of nobody flooded the same alert every half minute for ever)."""
    import random

    from kit.mesh.store import MemoryStore
    from kit.radio.pump import MAX_RETRIES, RETRY_AFTER_S, EnginePump

    pump = EnginePump(app.extensions["kit"], MemoryStore(), random.Random(1), preset="LONG_FAST",
                      duty_cycle=0.08, sync_interval_s=600.0, history_save_s=60.0)
    payload, now, handed = b"\x21\x10alert", 0.0, 0
    for packet_id in range(1, 10):
        pump.handed_over(packet_id, payload)
        handed += 1
        pump.refused(packet_id, "DUTY_CYCLE_LIMIT", now)
        if not pump.retry:
            break
        now = pump.retry[0][0]
        assert pump.next_payload(now) == payload and now == packet_id * RETRY_AFTER_S["DUTY_CYCLE_LIMIT"]
    assert handed == 1 + MAX_RETRIES and not pump.retry
    pump.handed_over(99, payload + b"!")
    pump.refused(99, "MAX_RETRANSMIT", now)
    assert not pump.retry
