import random

import pytest
from helpers import decode_all, engine_output

from kit.mesh import codec
from kit.mesh import records as r
from kit.mesh.airtime import payload_airtime_ms
from kit.mesh.codec import (
    Decoder,
    Digest,
    DigestEntry,
    Request,
    encode,
    encode_control,
    with_wants,
)
from kit.mesh.store import MemoryStore, effective_record
from kit.mesh.sync import (
    Duplicate,
    FrameRejected,
    RecordConflict,
    RecordReceived,
    SyncConfig,
    SyncEngine,
)

A, B, C = 0x0A, 0x0B, 0x0C
T0 = 1_767_225_600


def engine(node, now=0.0, seed=1):
    return SyncEngine(node, MemoryStore(), random.Random(seed), now)


def board(origin, seq, text="Besoin de pelles", **kw):
    return r.Board(origin=origin, seq=seq, created_at=T0, text=text, **kw)


def sent_until(e: SyncEngine, until: float, now: float = 0.0):
    """Everything `e` transmits until `until`, stepping to each wakeup."""
    return [m for m, _ in engine_output(e, until, now)]


timed = engine_output  # as sent_until, with the send time of each message


def test_publish_then_receive_elsewhere_is_idempotent():
    a, b = engine(A), engine(B)
    rec = board(A, a.next_seq())
    a.publish(rec, 0.0)
    frame = a.next_transmission(0.0)
    assert b.receive(frame, A, 1.0) == [RecordReceived(rec, rec)]
    assert b.receive(frame, A, 2.0) == [Duplicate(rec.uid)]
    assert b.store.get(rec.uid) == rec


def test_same_uid_other_content_is_a_conflict_and_not_stored():
    b = engine(B)
    b.receive(encode(board(A, 1))[0], C, 0.0)
    events = b.receive(encode(board(A, 1, text="autre chose"))[0], C, 1.0)
    assert events == [RecordConflict(board(A, 1), board(A, 1, text="autre chose"), C)]
    assert b.store.get(r.Uid(A, 1)).text == "Besoin de pelles"


def test_garbage_gives_frame_rejected():
    assert engine(B).receive(b"\xff\x00", A, 0.0) == [FrameRejected("unknown_version", A)]


def test_deletion_before_its_target_still_hides_it():
    b = engine(B)
    target = board(A, 1)
    deletion = r.Deletion(origin=A, seq=2, created_at=T0, target=target.uid)
    b.receive(encode(deletion)[0], A, 0.0)
    events = b.receive(encode(target)[0], A, 1.0)
    assert events == [RecordReceived(target, None)]
    # A replay much later does not resurrect it either.
    assert b.receive(encode(target)[0], A, 9999.0) == [Duplicate(target.uid)]
    assert effective_record(b.store, target.uid) is None


def test_latest_correction_wins_whatever_the_arrival_order():
    target = r.FieldReport(origin=A, seq=1, created_at=T0, location="Pont", incident=r.IncidentType.FLOOD,
                           severity=r.Severity.SEVERE, text="Pont coupé")
    early = r.Correction(origin=A, seq=2, created_at=T0 + 10, target=target.uid, text="Pont fermé")
    late = r.Correction(origin=A, seq=3, created_at=T0 + 20, target=target.uid, text="Pont rouvert")
    views = []
    for order in ([target, early, late], [late, target, early], [early, late, target]):
        e = engine(0x0D)
        for rec in order:
            e.receive(encode(rec)[0], rec.origin, 0.0)
        views.append(effective_record(e.store, target.uid).text)
    assert views == ["Pont rouvert"] * 3


def test_a_tombstone_from_another_kit_is_held_but_changes_nothing():
    """Only the target's own kit (or a crisis cell's signature, see test_records) may
    correct or delete a record: anyone else's tombstone is stored, never honoured."""
    b = engine(B)
    target = board(A, 1)
    b.receive(encode(target)[0], A, 0.0)
    for forged in (r.Deletion(origin=C, seq=1, created_at=T0, target=target.uid),
                   r.Correction(origin=C, seq=2, created_at=T0, target=target.uid, text="faux")):
        b.receive(encode(forged)[0], C, 1.0)
        assert b.store.has(forged.uid)
    assert effective_record(b.store, target.uid) == target


def test_hole_is_requested_from_the_sender_after_a_grace():
    # A quiet kit (no record frame of its own to piggy-back on) asks at once after the grace.
    b = engine(B)
    b.receive(encode(board(A, 1))[0], A, 0.0)
    b.receive(encode(board(A, 4))[0], A, 1.0)
    sent = [m for m in sent_until(b, 20.0, now=1.0) if isinstance(m, Request)]
    assert sent and sent[0].responder == A
    assert set(sent[0].uids()) == {r.Uid(A, 2), r.Uid(A, 3)}


def test_holes_above_a_record_that_fills_the_first_one_are_wanted_again():
    """Traced on a healed 20-kit mesh: a leaf kit held seqs 3 and 5 of an origin, its wants
    for 1, 2 and 4 given up after their attempts; its only neighbour, seeing just its first
    hole in its digest, sent seq 1; seq 2 and 4 were never asked again."""
    b = engine(B)
    for seq in (3, 5):
        b.receive(encode(board(A, seq))[0], A, 0.0)
    b._wants.clear()  # every ask given up
    b.receive(encode(board(A, 1))[0], C, 100.0)
    sent = [m for m in sent_until(b, 130.0, now=100.0) if isinstance(m, Request)]
    assert sent and sent[0].responder == C
    assert set(sent[0].uids()) == {r.Uid(A, 2), r.Uid(A, 4)}


def test_a_busy_kit_piggy_backs_its_wants_instead_of_a_request():
    b = engine(B)
    b.publish(board(B, 1), 0.0)
    assert b.next_transmission(0.0) is not None  # B has sent a record: it will send more
    b.receive(encode(board(A, 1))[0], A, 1.0)
    b.receive(encode(board(A, 4))[0], A, 2.0)
    assert not [m for m in sent_until(b, 300.0, now=2.0) if isinstance(m, Request)]
    b.publish(board(B, 2), 300.0)
    frame = codec.unbatch(b.next_transmission(300.0))[0]  # the push, with B's latest records as heads
    result, wants = Decoder().decode_frame(frame, B, 300.0)
    assert result == board(B, 2)
    assert wants == ((A, ((2, 2),)),)
    # Carried once: no dedicated request for them soon after.
    assert not [m for m in sent_until(b, 320.0, now=300.0) if isinstance(m, Request)]


def test_wants_not_piggy_backed_go_out_as_a_request_after_the_hold():
    b = engine(B)
    b.publish(board(B, 1), 0.0)
    b.next_transmission(0.0)
    b.receive(encode(board(A, 1))[0], A, 1.0)
    b.receive(encode(board(A, 3))[0], A, 2.0)
    sent = [(m, t) for m, t in timed(b, 2000.0, now=2.0) if isinstance(m, Request)]
    assert sent and 600.0 <= sent[0][1] <= 1300.0
    assert sent[0][0].uids() == [r.Uid(A, 2)]


@pytest.mark.parametrize("util, first, last", [(3.0, 120.0, 300.0), (20.0, 600.0, 1300.0)])
def test_on_a_quiet_channel_a_want_waits_less_for_a_ride(util, first, last):
    # The radio hears the channel busy 3 % of the time: a dedicated request costs little, so
    # the want waits quiet_hold_s for a ride (then the control lane's pacing), not 600 s.
    b = engine(B)
    b.channel_utilisation(util, 0.0)
    b.publish(board(B, 1), 0.0)
    b.next_transmission(0.0)
    b.receive(encode(board(A, 1))[0], A, 1.0)
    b.receive(encode(board(A, 3))[0], A, 2.0)
    sent = [t for m, t in timed(b, 2000.0, now=2.0) if isinstance(m, Request)]
    assert sent and first <= sent[0] <= last


def test_piggy_backed_wants_are_answered_by_any_holder():
    a, c = engine(A), engine(C)
    for e in (a, c):
        e.store.put(board(A, 1))
    frame = with_wants(encode(board(B, 1), sender=B)[0], ((A, ((1, 1),)),))
    a.receive(frame, B, 0.0)
    c.receive(frame, B, 0.0)
    assert any(m == board(A, 1) for m in sent_until(a, 5.0))  # the origin answers at once
    c.receive(encode(board(A, 1), sender=A)[0], A, 1.0)  # ... and the others hear it
    assert not any(isinstance(m, r.Board) for m in sent_until(c, 60.0, now=1.0))


def test_a_digest_gets_what_the_peer_cannot_know_it_lacks_re_sent_without_a_request():
    a = engine(A)
    for seq in (1, 2, 3):
        a.store.put(board(C, seq))
    # B holds C's 1 only; A has held 2 and 3 long enough: it re-sends them (tail).
    a.receive(encode_control(Digest((DigestEntry(C, 1, 1),))), B, 100.0)
    sent = sent_until(a, 200.0, now=100.0)
    assert {m.uid for m in sent if isinstance(m, r.Board)} == {r.Uid(C, 2), r.Uid(C, 3)}
    assert not [m for m in sent if isinstance(m, Request)]


def test_many_wants_are_requested_at_once_from_anyone():
    b = engine(B)
    b.publish(board(B, 1), 0.0)
    b.next_transmission(0.0)
    b.receive(encode_control(Digest((DigestEntry(A, 30, 30),))), C, 10.0)
    sent = [m for m in sent_until(b, 20.0, now=10.0) if isinstance(m, Request)]
    assert sent and sent[0].responder == 0 and len(sent[0].uids()) == 30


def test_a_kit_heard_again_after_a_long_silence_gets_a_digest_soon():
    b = engine(B)
    b.receive(encode(board(A, 1))[0], A, 0.0)
    for _ in sent_until(b, 3000.0):
        pass
    assert b.trickle.interval == 600.0
    b.receive(encode(board(A, 2))[0], A, 5000.0)  # A silent for > peer_silence_s
    digests = [t for m, t in timed(b, 5040.0, now=5000.0) if isinstance(m, Digest)]
    assert digests and digests[0] <= 5030.0
    # The adapter may report any packet heard (NodeInfo, telemetry) the same way.
    e = engine(C)
    e.peer_heard(A, 0.0)
    for _ in sent_until(e, 3000.0):
        pass
    e.peer_heard(A, 9000.0)
    assert [t for m, t in timed(e, 9040.0, now=9000.0) if isinstance(m, Digest)][0] <= 9030.0


def test_a_far_kit_heard_through_a_flood_is_no_sign_of_a_healed_partition():
    # An alert flooded from 2 hops away says nothing new of our range: the next digest stays
    # where Trickle put it. The same kit heard first-hand after as long a silence brings it
    # within digest_min_s (see the test above).
    e = engine(C)
    e.peer_heard(A, 0.0, hops_away=2)
    for _ in sent_until(e, 9000.0):
        pass
    due = e.trickle.next_time()
    assert due > 9000.0 + 30.0
    e.receive(encode(board(A, 1))[0], A, 9000.0, hops_left=1, hops_away=2)
    assert e.trickle.next_time() == due
    for _ in sent_until(e, 15000.0, now=9000.0):
        pass
    due = e.trickle.next_time()
    e.peer_heard(A, 15000.0, hops_away=2)  # the adapter's report of any packet: the same
    assert due > 15030.0 and e.trickle.next_time() == due
    e.peer_heard(A, 20000.0, hops_away=0)
    assert e.trickle.next_time() <= 20030.0


def test_named_responder_answers_and_others_stay_silent():
    a, c = engine(A), engine(C)
    for e in (a, c):
        e.store.put(board(A, 1))
    request = encode_control(Request(A, ((A, ((1, 1),)),)))
    a.receive(request, B, 0.0)
    c.receive(request, B, 0.0)
    assert any(isinstance(m, r.Board) for m in sent_until(a, 10.0))
    assert not any(isinstance(m, r.Board) for m in sent_until(c, 60.0))


def test_open_request_reply_is_suppressed_when_someone_else_answers_first():
    c = engine(C)
    c.store.put(board(A, 1))
    c.receive(encode_control(Request(0, ((A, ((1, 1),)),))), B, 0.0)
    c.receive(encode(board(A, 1))[0], 0x0E, 1.0)  # another kit answered before our delay ran out
    assert not any(isinstance(m, r.Board) for m in sent_until(c, 60.0, now=1.0))


def test_digest_showing_missing_records_triggers_a_request_to_that_peer():
    b = engine(B)
    b.receive(encode_control(Digest((DigestEntry(A, 3, 5),))), C, 0.0)
    requests = [m for m in sent_until(b, 5.0) if isinstance(m, Request)]
    assert requests[0].responder == C
    assert set(requests[0].uids()) == {r.Uid(A, 1), r.Uid(A, 2), r.Uid(A, 3), r.Uid(A, 5)}


def test_hearing_the_same_request_suppresses_our_own():
    b = engine(B)
    b.receive(encode_control(Digest((DigestEntry(A, 2, 2),))), C, 0.0)
    b.receive(encode_control(Request(C, ((A, ((1, 2),)),))), 0x0E, 0.0)  # another kit asked already
    assert not [m for m in sent_until(b, 30.0) if isinstance(m, Request)]


def test_volunteer_text_heard_by_several_kits_is_published_once():
    kits = [engine(n, seed=n) for n in (A, B, C)]
    for k in kits:
        k.heard_text(sender=0x77, sender_name="Bénévole 3", packet_id=42, text="Pont coupé", now=0.0)
    # Let them run, broadcasting to each other instantly (no loss).
    now, published = 0.0, []
    while now < 120.0:
        for k in kits:
            k.tick(now)
            frame = k.next_transmission(now)
            if frame is not None:
                published += [m for m in decode_all(frame, k.node, now) if isinstance(m, r.VolunteerText)]
                for other in kits:
                    if other is not k:
                        other.receive(frame, k.node, now)
        now += 0.5
    assert len(published) == 1
    assert all(k.store.first_with_key((0x77, 42)) == published[0].uid for k in kits)
    assert kits[0].heard_text(0x77, "Bénévole 3", 42, "Pont coupé", now) == [Duplicate(published[0].uid)]


def test_publishing_someone_elses_record_is_refused():
    a = engine(A)
    try:
        a.publish(board(B, 1), 0.0)
    except ValueError:
        return
    raise AssertionError("publish accepted a foreign origin")


def test_quiet_agreeing_kits_back_off_to_the_max_digest_interval():
    a = engine(A)
    digests = [m for m in sent_until(a, 6 * 3600) if isinstance(m, Digest)]
    # Trickle doubles from 30 s to 600 s: ≈ 5 digests to get there, then one per 600 s.
    assert 36 <= len(digests) <= 45


def test_publish_accepts_a_record_the_application_already_stored_and_queues_it_once():
    a = engine(A)
    rec = board(A, 1)
    a.store.put(rec)  # the web app stored it before the radio thread publishes it
    a.publish(rec, 0.0)
    a.publish(rec, 1.0)
    sent = [m for m in sent_until(a, 100.0) if isinstance(m, r.Board)]
    assert sent == [rec]
    try:
        a.publish(board(A, 1, text="autre chose"), 2.0)
    except ValueError:
        return
    raise AssertionError("publish accepted other content under a stored uid")


def test_origin_other_than_the_radio_node():
    RADIO, ORIGIN = 0x0E, 0x0A0B0C0D
    k = SyncEngine(ORIGIN, MemoryStore(), random.Random(1), 0.0, radio_node=RADIO)
    rec = board(ORIGIN, k.next_seq())
    k.publish(rec, 0.0)
    frame = k.next_transmission(0.0)
    assert frame[1] & codec.FLAG_OWN and not frame[1] & codec.FLAG_ORIGIN_IS_SENDER
    assert k.receive(frame, RADIO, 1.0) == []  # our own frame echoed by a relay
    b = engine(B)
    assert b.receive(frame, RADIO, 1.0) == [RecordReceived(rec, rec)]
    # A push from the origin's kit counts as first-hand although from != origin: a later
    # in-order push is "consistent", a jump is a hole to fill from that radio.
    k.publish(board(ORIGIN, 2), 10.0)
    k.next_transmission(10.0)  # lost on its way to b
    k.publish(board(ORIGIN, 3), 20.0)
    frames = [f for f in (k.next_transmission(t) for t in (20.0, 30.0)) if f]  # a digest, the push
    b.receive(frames[-1], RADIO, 31.0)
    assert set(b._wants) == {r.Uid(ORIGIN, 2)} and b._wants[r.Uid(ORIGIN, 2)].responder == RADIO
    # Requests name the radio node; the kit answers them.
    k.receive(encode_control(Request(RADIO, ((ORIGIN, ((1, 1),)),))), B, 40.0)
    assert any(m == rec for m in sent_until(k, 60.0, now=40.0))
    # A kit's own record re-sent by another kit carries no FLAG_OWN.
    relay = encode(rec, sender=B)[0]
    assert not relay[1] & codec.FLAG_OWN


def test_a_heal_offers_everything_in_order_and_holders_interleave():
    # Two holders of 12 records a peer lacks: together they send each about once.
    recs = [board(A, s) for s in range(1, 13)]
    h1, h2 = engine(B, seed=1), engine(C, seed=2)
    for h in (h1, h2):
        for rec in recs:
            h.store.put(rec)
    digest = encode_control(Digest(()))
    for h in (h1, h2):
        h.receive(digest, 0x0D, 100.0)
    now, sent = 100.0, []
    while now < 400.0:
        for h, other in ((h1, h2), (h2, h1)):
            frame = h.next_transmission(now)
            if frame is not None:
                sent += [m.uid for m in decode_all(frame, h.radio_node, now) if isinstance(m, r.Board)]
                other.receive(frame, h.radio_node, now + 1.0)
        now += 0.5
    assert set(sent) == {rec.uid for rec in recs}
    assert len(sent) <= len(recs) + 2
    assert sent[:3] == sorted(sent[:3])


def test_a_request_for_many_origins_fits_one_frame_and_never_raises():
    """At 50 kits the request builder used to raise 'control frame over 200 bytes' into the
    radio loop: wants scattered over many origins now make the longest request that fits."""
    k = engine(B)
    for origin in range(0x100, 0x100 + 60):
        for seq in (2, 5, 9):  # holes at 1, 3-4, 6-8 for each origin
            k.receive(encode(board(origin, seq))[0], origin, 0.0)
    frames = []
    for step in range(200):
        frame = k.next_transmission(1000.0 + step * 30)
        if frame is not None:
            frames.append(frame)
    requests = [f for f in frames if f[0] & 0x1F == 17]
    assert requests and all(len(f) <= 200 for f in requests)


def test_records_waiting_together_go_in_one_frame_and_arrive_one_by_one():
    from kit.mesh.frame_auth import FrameKeys

    keys = FrameKeys({1: bytes(32)}, 1)
    a = SyncEngine(A, MemoryStore(), random.Random(1), 0.0, keys=keys)
    b = SyncEngine(B, MemoryStore(), random.Random(2), 0.0, keys=keys)
    recs = [board(A, seq, text=f"Besoin {seq}") for seq in (1, 2, 3)]
    for rec in recs:
        a.publish(rec, 0.0)
    frame = a.next_transmission(0.0)
    assert codec.is_batch(frame[:-9]) and a.next_transmission(5.0) is None
    assert b.receive(frame, A, 1.0) == [RecordReceived(rec, rec) for rec in recs]
    assert b.receive(frame, A, 2.0) == [Duplicate(rec.uid) for rec in recs]
    # The same records one per frame cost more air.
    single = SyncEngine(A, MemoryStore(), random.Random(1), 0.0, SyncConfig(batch_bytes=0), keys=keys)
    for rec in recs:
        single.publish(rec, 0.0)
    frames = [single.next_transmission(t) for t in (0.0, 4.0, 8.0)]
    assert all(f is not None and not codec.is_batch(f[:-9]) for f in frames)
    assert a.status(10.0).airtime_used_ms < 0.75 * single.status(10.0).airtime_used_ms


def test_a_malformed_batch_is_counted_and_dropped():
    b = engine(B)
    status = encode(board(A, 1), sender=A)[0]
    bad = codec.batch([status, status])[:-2]
    assert b.receive(bad, A, 0.0) == [FrameRejected("truncated", A)]
    assert b.decoder.rejected["truncated"] == 1 and not b.store.has(r.Uid(A, 1))


def test_kits_that_learn_a_gap_from_one_digest_ask_at_different_instants():
    # B and C, on either side of A and out of each other's range, hear A's digest at the same
    # instant: asked at the same instant, their requests would collide at A (hidden terminals,
    # which listen before talk cannot see).
    digest = encode_control(Digest((DigestEntry(A, 3, 3),)))
    airtime = payload_airtime_ms(len(encode_control(Request(A, ((A, ((1, 3),)),))))) / 1000
    apart = 0
    for seed in range(10):
        times = []
        for node, kit_seed in ((B, 2 * seed), (C, 2 * seed + 1)):
            e = engine(node, seed=kit_seed)
            e.receive(digest, A, 0.0, hops_left=0, hops_away=0)
            times.append(next(t for m, t in timed(e, 120.0) if isinstance(m, Request)))
        assert max(times) <= SyncConfig().request_jitter_s + 1.0
        apart += abs(times[0] - times[1]) > airtime
    assert apart >= 7  # uniform over 5 s: two asks overlap one time in 6
