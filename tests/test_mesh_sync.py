import random

from kit.mesh import records as r
from kit.mesh.codec import Decoder, Digest, DigestEntry, Request, encode, encode_control
from kit.mesh.store import MemoryStore, effective_record
from kit.mesh.sync import Duplicate, FrameRejected, RecordReceived, RecordRejected, SyncEngine

A, B, C = 0x0A, 0x0B, 0x0C
T0 = 1_767_225_600


def engine(node, now=0.0, seed=1):
    return SyncEngine(node, MemoryStore(), random.Random(seed), now)


def board(origin, seq, text="Besoin de pelles", **kw):
    return r.Board(origin=origin, seq=seq, created_at=T0, text=text, **kw)


def sent_until(e: SyncEngine, until: float, now: float = 0.0):
    """Everything `e` transmits until `until`, stepping to each wakeup."""
    out = []
    while now <= until:
        e.tick(now)
        frame = e.next_transmission(now)
        if frame is not None:
            out.append(Decoder().decode(frame, e.node, now))
        wake = e.next_wakeup(now)
        if wake is None:
            break
        now = max(wake, now + 1e-3)
    return out


def test_publish_then_receive_elsewhere_is_idempotent():
    a, b = engine(A), engine(B)
    rec = board(A, a.next_seq())
    a.publish(rec, 0.0)
    frame = a.next_transmission(0.0)
    assert b.receive(frame, A, 1.0) == [RecordReceived(rec, rec)]
    assert b.receive(frame, A, 2.0) == [Duplicate(rec.uid)]
    assert b.store.get(rec.uid) == rec


def test_same_uid_other_content_is_rejected_and_not_stored():
    b = engine(B)
    b.receive(encode(board(A, 1))[0], C, 0.0)
    events = b.receive(encode(board(A, 1, text="autre chose"))[0], C, 1.0)
    assert events == [RecordRejected(r.Uid(A, 1), "uid_conflict")]
    assert b.store.get(r.Uid(A, 1)).text == "Besoin de pelles"


def test_garbage_gives_frame_rejected():
    assert engine(B).receive(b"\xff\x00", A, 0.0) == [FrameRejected("unknown_version", A)]


def test_deletion_before_its_target_still_hides_it():
    b = engine(B)
    target = board(A, 1)
    deletion = r.Deletion(origin=C, seq=1, created_at=T0, target=target.uid)
    b.receive(encode(deletion)[0], C, 0.0)
    events = b.receive(encode(target)[0], A, 1.0)
    assert events == [RecordReceived(target, None)]
    # A replay much later does not resurrect it either.
    assert b.receive(encode(target)[0], A, 9999.0) == [Duplicate(target.uid)]
    assert effective_record(b.store, target.uid) is None


def test_latest_correction_wins_whatever_the_arrival_order():
    target = r.FieldReport(origin=A, seq=1, created_at=T0, location="Pont", incident=r.IncidentType.FLOOD,
                           severity=r.Severity.SEVERE, text="Pont coupé")
    early = r.Correction(origin=B, seq=1, created_at=T0 + 10, target=target.uid, text="Pont fermé")
    late = r.Correction(origin=C, seq=1, created_at=T0 + 20, target=target.uid, text="Pont rouvert")
    views = []
    for order in ([target, early, late], [late, target, early], [early, late, target]):
        e = engine(0x0D)
        for rec in order:
            e.receive(encode(rec)[0], rec.origin, 0.0)
        views.append(effective_record(e.store, target.uid).text)
    assert views == ["Pont rouvert"] * 3


def test_hole_is_requested_from_the_sender_after_a_grace():
    b = engine(B)
    b.receive(encode(board(A, 1))[0], A, 0.0)
    b.receive(encode(board(A, 4))[0], A, 1.0)
    sent = [m for m in sent_until(b, 20.0, now=1.0) if isinstance(m, Request)]
    assert sent and sent[0].responder == A
    assert set(sent[0].uids()) == {r.Uid(A, 2), r.Uid(A, 3)}


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
                msg = Decoder().decode(frame, k.node, now)
                if isinstance(msg, r.VolunteerText):
                    published.append(msg)
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
