"""Frame tags and the rules that keep the channel key from being enough (pure, no radio)."""
import random

import pytest

from kit.mesh import codec, frame_auth
from kit.mesh import records as r
from kit.mesh.frame_auth import BadFrame, FrameKeys
from kit.mesh.store import MemoryStore
from kit.mesh.sync import FrameRejected, RecordReceived, RecordRejected, SyncConfig, SyncEngine

A, B, ROGUE = 0x0A, 0x0B, 0x66
KEYS = FrameKeys({1: bytes(range(32))}, 1)
T0 = 1_800_000_000


def engine(node, keys=KEYS):
    return SyncEngine(node, MemoryStore(), random.Random(node), 0.0, SyncConfig(), keys=keys)


def board(origin, seq, text="Besoin de pelles"):
    return r.Board(origin=origin, seq=seq, created_at=T0, text=text)


def test_a_sealed_frame_opens_only_with_the_key_and_its_sender():
    body = codec.encode(board(A, 1))[0]
    sealed = KEYS.seal(body, A)
    assert len(sealed) == len(body) + frame_auth.OVERHEAD <= codec.MAX_FRAME
    assert KEYS.open(sealed, A) == body
    with pytest.raises(BadFrame, match="bad_tag"):
        KEYS.open(sealed, B)                       # replayed under another radio
    with pytest.raises(BadFrame, match="bad_tag"):
        KEYS.open(sealed[:5] + bytes([sealed[5] ^ 1]) + sealed[6:], A)
    with pytest.raises(BadFrame, match="unknown_key"):
        KEYS.open(FrameKeys({2: bytes(32)}, 2).seal(body, A), A)
    with pytest.raises(BadFrame, match="unauthenticated"):
        KEYS.open(b"\x27", A)


def test_every_frame_an_engine_sends_is_sealed_and_fits():
    a = engine(A)
    a.publish(r.FieldReport(origin=A, seq=1, created_at=T0, location="Pont", incident=r.IncidentType.FLOOD,
                            severity=r.Severity.SEVERE, text="L'eau monte " * 40), 0.0)
    frames = []
    while (frame := a.next_transmission(1000.0 + len(frames) * 10)) is not None:
        frames.append(frame)
    assert len(frames) > 1 and all(len(f) <= codec.MAX_FRAME for f in frames)
    b = engine(B)
    events = [e for f in frames for e in b.receive(f, A, 2000.0)]
    assert any(isinstance(e, RecordReceived) for e in events)


def test_frames_without_the_kit_key_are_counted_and_change_nothing():
    b = engine(B)
    forged = [board(A, 1, "faux"), board(A, r.MAX_SEQ, "fin"),
              r.Deletion(origin=ROGUE, seq=1, created_at=T0, target=r.Uid(A, 1))]
    for record in forged:
        [event] = b.receive(codec.encode(record)[0], ROGUE, 1.0)  # made with the public codec, no tag
        assert isinstance(event, FrameRejected) and event.reason in ("bad_tag", "unknown_key", "unauthenticated")
    assert len(b.store) == 0
    genuine = board(A, 1)
    assert b.receive(KEYS.seal(codec.encode(genuine)[0], A), A, 2.0) == [RecordReceived(genuine, genuine)]


def test_a_record_far_ahead_of_its_origin_is_refused():
    b = engine(B)
    far = board(A, SyncConfig().seq_window + 1)
    assert b.receive(KEYS.seal(codec.encode(far)[0], A), A, 1.0) == [RecordRejected(far.uid, "seq_too_far_ahead")]
    near = board(A, SyncConfig().seq_window)
    assert isinstance(b.receive(KEYS.seal(codec.encode(near)[0], A), A, 2.0)[0], RecordReceived)


def test_100k_mutated_sealed_frames_never_raise_and_store_nothing_forged():
    """Fuzz the authenticated decoder: random bytes, and genuine sealed frames with bytes
    flipped, cut or extended. Only untouched genuine frames may be accepted."""
    rng = random.Random(2026)
    genuine = [KEYS.seal(f, A) for i in range(1, 40) for f in codec.encode(board(A, i, f"message {i} " * 5))]
    b = engine(B)
    sent = 0
    for n in range(100_000):
        if n % 3 == 0:
            payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 220)))
        else:
            original = rng.choice(genuine)
            frame = bytearray(original)
            for _ in range(rng.randint(1, 3)):
                frame[rng.randrange(len(frame))] ^= 1 << rng.randrange(8)
            payload = bytes(frame[: rng.randrange(1, len(frame) + 1)] if n % 3 == 2 else frame)
            if payload == original:  # two flips of one bit undo each other: not a mutation
                continue
        sent += 1
        b.receive(payload, rng.choice([A, ROGUE]), float(n))
    assert len(b.store) == 0  # no mutated or random frame was accepted
    assert sum(b.decoder.rejected.values()) == sent
