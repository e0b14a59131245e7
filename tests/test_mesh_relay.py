"""Kits pass records on only where a kit in range would otherwise miss them, and a kit that
missed one learns of it from the next record frame it hears (issue 12). Sans-I/O: engines
on a virtual clock, frames handed over by hand with the hop fields a radio reports."""
import random

from helpers import decode_all

from kit.mesh import codec
from kit.mesh import records as r
from kit.mesh.codec import Neighbours, encode, encode_control
from kit.mesh.store import MemoryStore
from kit.mesh.sync import SyncConfig, SyncEngine

A, B, C, D, E = 0x0A, 0x0B, 0x0C, 0x0D, 0x0E
T0 = 1_767_225_600


def engine(node, seed=1, **config):
    return SyncEngine(node, MemoryStore(), random.Random(seed), 0.0, SyncConfig(**config))


def board(origin, seq):
    return r.Board(origin=origin, seq=seq, created_at=T0, text=f"Distribution d'eau {seq}")


def hear(e, frame, sender, now):
    """`frame` heard first-hand (a sync frame at the end of its hop limit)."""
    return e.receive(frame, sender, now, hops_left=0, hops_away=0)


def transmissions(e, until, now=0.0):
    """(time, frame) of everything `e` sends until `until`."""
    out = []
    while now <= until:
        frame = e.next_transmission(now)
        if frame is not None:
            out.append((now, frame))
        now = max(e.next_wakeup(now), now + 1e-3)
    return out


def records_in(frames, sender):
    return [m for _, f in frames for m in decode_all(f, sender, 0.0) if isinstance(m, r.Record)]


def test_neighbours_frames_round_trip_and_bad_ones_are_refused():
    frame = encode_control(Neighbours((C, A, B)))
    assert codec.parse_frame(frame, A) == Neighbours((A, B, C))
    assert len(encode_control(Neighbours(tuple(range(1, 100))))) == 2 + 4 * codec.MAX_NEIGHBOURS
    for body in (bytes(4), (5).to_bytes(4, "big") + (3).to_bytes(4, "big"), bytes(3)):
        assert isinstance(codec.Decoder().decode(frame[:2] + body, A, 0.0), codec.Rejected)


def test_a_kit_tells_the_kits_in_range_whom_it_hears_soon_after_a_new_one():
    b = engine(B)
    hear(b, encode(board(A, 1), sender=A, own=True)[0], A, 0.0)
    hear(b, encode(board(C, 1), sender=C, own=True)[0], C, 10.0)
    told = [(t, codec.parse_frame(f, B)) for t, f in transmissions(b, 200.0)
            if f[0] & 0x1F == codec.FrameType.NEIGHBOURS]
    hold = SyncConfig().neighbours_hold_s
    assert told and told[0][1] == Neighbours((A, C)) and hold <= told[0][0] <= hold + 10.0
    assert len(told) == 1  # nothing new: nothing more until the next refresh


def test_a_relay_is_skipped_when_the_sender_reaches_every_kit_in_range_and_kept_otherwise():
    # B hears A and C. A tells it hears B and C: A's push reached C, B stays silent.
    # D hears A and E; A does not hear E: D passes the record on.
    b, d = engine(B, seed=2), engine(D, seed=3)
    hear(b, encode_control(Neighbours((B, C))), A, 0.0)
    hear(b, encode(board(C, 1), sender=C, own=True)[0], C, 1.0)
    hear(d, encode_control(Neighbours((B, C, D))), A, 0.0)
    hear(d, encode(board(E, 1), sender=E, own=True)[0], E, 1.0)
    push = encode(board(A, 1), sender=A, own=True)[0]
    for kit in (b, d):
        hear(kit, push, A, 100.0)
    assert r.Uid(A, 1) not in {m.uid for m in records_in(transmissions(b, 300.0, 100.0), B)}
    assert r.Uid(A, 1) in {m.uid for m in records_in(transmissions(d, 300.0, 100.0), D)}


def test_a_waiting_relay_is_dropped_when_another_kit_covers_the_range_first():
    b = engine(B, seed=2)
    hear(b, encode(board(C, 1), sender=C, own=True)[0], C, 0.0)
    hear(b, encode(board(D, 1), sender=D, own=True)[0], D, 0.0)
    hear(b, encode_control(Neighbours((B, C, D))), C, 1.0)
    hear(b, encode(board(A, 1), sender=A, own=True)[0], A, 10.0)  # A tells nothing: C and D need it
    b.channel_utilisation(40.0, 10.0)  # busy channel: the relay waits in the queue
    b.tick(50.0)
    assert b.scheduler.is_queued(("repeat", r.Uid(A, 1)))
    hear(b, encode(board(A, 1), sender=C)[0], C, 60.0)  # C passes it on, and C hears D
    assert not b.scheduler.is_queued(("repeat", r.Uid(A, 1)))


def test_record_frames_carry_heads_and_a_kit_that_lacks_one_asks_the_sender():
    a, b = engine(A), engine(B, seed=2)
    first, second = board(C, 2), board(C, 3)
    a.store.put(board(C, 1))
    b.store.put(board(C, 1))  # a head names a record of an origin the kit knows
    for rec in (first, second):  # with hops left: the radios carry them on, A does not
        a.receive(encode(rec, sender=C, own=True)[0], C, 0.0, hops_left=1, hops_away=0)
    a.publish(board(A, 1), 100.0)
    frame = next(f for _, f in transmissions(a, 120.0, 100.0) if codec.is_batch(f))
    heads, parts = codec.split_batch(frame)
    assert set(heads) >= {codec.Head.of(first.uid), codec.Head.of(second.uid)} and len(parts) == 1
    # B never heard C's latest records: the heads on A's push tell it, and it asks A.
    hear(b, frame, A, 101.0)
    assert {first.uid, second.uid} <= set(b._wants)
    sent = [m for _, f in transmissions(b, 800.0, 101.0) for m in decode_all(f, B, 0.0)]
    asked = {u for m in sent if isinstance(m, codec.Request) for u in m.uids()}
    assert {first.uid, second.uid} <= asked


def test_heads_leave_out_records_the_kit_is_about_to_send_itself():
    a = engine(A)
    hear(a, encode(board(C, 1), sender=C, own=True)[0], C, 0.0)  # A will pass it on
    a.publish(board(A, 1), 1.0)
    frames = [f for _, f in transmissions(a, 10.0, 1.0) if r.Uid(A, 1) in {m.uid for m in records_in([(0, f)], A)}]
    assert len(frames) == 1 and codec.Head.of(r.Uid(C, 1)) not in codec.split_batch(frames[0])[0]


def test_an_echo_is_not_sent_to_kits_that_would_not_pass_it_on():
    # B's only neighbour, C, hears nobody else: C never passes B's records on, so its
    # silence means nothing and B does not send them again.
    b = engine(B)
    hear(b, encode_control(Neighbours((B,))), C, 0.0)
    b.publish(board(B, 1), 1.0)
    pushes = [m for m in records_in(transmissions(b, 200.0, 1.0), B) if m.uid == r.Uid(B, 1)]
    assert len(pushes) == 1
    # With a neighbour that hears a kit beyond B's range, silence is a lost frame: once again.
    b2 = engine(B)
    hear(b2, encode_control(Neighbours((B, D))), C, 0.0)
    b2.publish(board(B, 1), 1.0)
    pushes = [m for m in records_in(transmissions(b2, 200.0, 1.0), B) if m.uid == r.Uid(B, 1)]
    assert len(pushes) == 2


def test_a_request_heard_from_a_kit_in_range_does_not_silence_our_own():
    # Requests reach the kits in range only: the kit that asked may have no holder in range
    # where we do (a healed partition pulled hop by hop), so we still ask ours.
    b = engine(B)
    b.receive(encode_control(codec.Digest((codec.DigestEntry(A, 2, 2),))), C, 0.0, hops_left=0, hops_away=0)
    b.receive(encode_control(codec.Request(C, ((A, ((1, 2),)),))), E, 0.0, hops_left=0, hops_away=0)
    sent = [m for _, f in transmissions(b, 60.0) for m in decode_all(f, B, 0.0)]
    assert {u for m in sent if isinstance(m, codec.Request) for u in m.uids()} == {r.Uid(A, 1), r.Uid(A, 2)}


def alert(origin, seq):
    return r.Alert(origin=origin, seq=seq, created_at=T0, category=r.Category.MET, event="Crue",
                   urgency=r.Urgency.IMMEDIATE, severity=r.Severity.SEVERE, certainty=r.Certainty.OBSERVED,
                   response_type=r.ResponseType.SHELTER, headline="Montez à l'étage", signature=bytes(64))


def test_an_alert_a_kit_missed_is_named_in_heads_and_asked_for_at_once_on_a_busy_channel():
    # B missed every copy of C's alert (hidden terminals: each collided at B); A holds it.
    a, b = engine(A), engine(B, seed=2)
    for kit in (a, b):
        kit.store.put(board(C, 1))
    hear(a, encode(alert(C, 2), sender=C, own=True)[0], C, 0.0)
    transmissions(a, 60.0)  # A's relay of it goes
    a.publish(board(A, 1), 100.0)
    frame = next(f for _, f in transmissions(a, 110.0, 100.0) if codec.is_batch(f))
    heads = codec.split_batch(frame)[0]
    assert heads[0] == codec.Head(codec.head_tag(C), 2, urgent=True) and not any(h.urgent for h in heads[1:])
    # The channel is busy: B's requests for routine records wait, not this one.
    b.channel_utilisation(60.0, 100.0)
    hear(b, frame, A, 101.0)
    grace = SyncConfig().hole_grace_s
    sent = [(t, m) for t, f in transmissions(b, 101.0 + grace + 5.0, 101.0) for m in decode_all(f, B, 0.0)]
    asked = [(t, m) for t, m in sent if isinstance(m, codec.Request) and r.Uid(C, 2) in m.uids()]
    assert asked and asked[0][1].responder == A
    # A answers the kits in range (B floods it on as a kit storing a new alert does).
    hear(a, encode_control(asked[0][1]), B, asked[0][0] + 1.0)
    answer = next(f for _, f in transmissions(a, asked[0][0] + 10.0, asked[0][0] + 1.0)
                  if r.Uid(C, 2) in {m.uid for m in records_in([(0, f)], A)})
    assert a.send_options(answer) == (SyncConfig().sync_hops, False)
    # An alert is named for alert_heads_s, then heads are routine again.
    a.publish(board(A, 2), 100.0 + SyncConfig().alert_heads_s + 1.0)
    later = [f for _, f in transmissions(a, 720.0, 701.0) if codec.is_batch(f)]
    assert later and not any(h.urgent for f in later for h in codec.split_batch(f)[0])
