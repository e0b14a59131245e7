import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.mesh import records as r
from kit.mesh.codec import (
    HEAD_BYTES,
    MAX_BODY,
    MAX_FRAME,
    URGENT_HEAD,
    Decoder,
    Digest,
    DigestEntry,
    Head,
    Known,
    Pending,
    Rejected,
    Request,
    batch,
    batch_size,
    encode,
    encode_control,
    head_tag,
    packable,
    resolve_heads,
    split_batch,
    unbatch,
    wants_room,
    with_wants,
)
from kit.mesh.fragments import FragmentLimits
from kit.mesh.wire import Malformed

NODE = st.integers(1, r.MAX_NODE)
SEQ = st.integers(1, r.MAX_SEQ)
TIME = st.integers(1_600_000_000, 2_000_000_000)
TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=40)
UID = st.builds(r.Uid, NODE, SEQ)
COMMON = dict(origin=NODE, seq=SEQ, created_at=TIME, exercise=st.booleans())

RECORDS = {
    r.Alert: st.builds(
        r.Alert, **COMMON, msg_type=st.sampled_from(r.MsgType), references=st.none() | UID,
        category=st.sampled_from(r.Category), event=TEXT, urgency=st.sampled_from(r.Urgency),
        severity=st.sampled_from(r.Severity), certainty=st.sampled_from(r.Certainty),
        response_type=st.sampled_from(r.ResponseType), headline=TEXT, description=TEXT, instruction=TEXT, area=TEXT,
        expires=st.none() | TIME, signature=st.sampled_from([b"", bytes(range(64))]),
    ),
    r.SiteStatus: st.builds(
        r.SiteStatus, **COMMON, site=st.integers(0, 2**20), status=st.sampled_from(r.SiteState),
        present=st.none() | st.integers(0, 2**24), capacity=st.none() | st.integers(0, 2**24),
        needs=st.integers(0, 255).map(r.Needs),
    ),
    r.FieldReport: st.builds(
        r.FieldReport, **COMMON, location=TEXT, incident=st.sampled_from(r.IncidentType),
        severity=st.sampled_from(r.Severity), text=TEXT,
    ),
    r.Checkin: st.builds(r.Checkin, **COMMON, name=TEXT, note=TEXT),
    r.Need: st.builds(r.Need, **COMMON, text=TEXT, name=TEXT),
    r.Offer: st.builds(r.Offer, **COMMON, text=TEXT, name=TEXT),
    r.Board: st.builds(r.Board, **COMMON, text=TEXT, author=TEXT),
    r.VolunteerText: st.builds(
        r.VolunteerText, **COMMON, sender=st.integers(0, r.MAX_NODE), sender_name=TEXT,
        packet_id=st.integers(0, r.MAX_NODE), text=TEXT,
    ),
    r.Correction: st.builds(r.Correction, **COMMON, target=UID, text=TEXT),
    r.Deletion: st.builds(r.Deletion, **COMMON, target=UID, reason=TEXT),
    r.Health: st.builds(
        r.Health, **COMMON, uptime_s=st.integers(0, 2**40), radio=st.sampled_from(r.RadioState),
        queue_len=st.integers(0, 2**32), airtime_ms_hour=st.integers(0, 2**32),
        last_sync=st.none() | TIME, mode=st.sampled_from(r.KitMode), battery_pct=st.none() | st.integers(0, 100),
    ),
}
any_record = st.one_of(*RECORDS.values())


def test_every_kind_has_a_strategy():
    assert set(RECORDS) == set(r.RECORD_TYPES)


def decode_all(frames, sender, decoder=None):
    decoder = decoder or Decoder()
    results = [decoder.decode(f, sender, now=0.0) for f in frames]
    assert all(isinstance(x, Pending) for x in results[:-1])
    return results[-1]


@pytest.mark.parametrize("kind", list(RECORDS), ids=lambda k: k.KIND)
def test_roundtrip_each_kind(kind):
    @settings(max_examples=150)
    @given(RECORDS[kind], st.booleans())
    def check(record, sender_is_origin):
        sender = record.origin if sender_is_origin else (record.origin % r.MAX_NODE) + 1
        frames = encode(record, sender=sender)
        assert all(len(f) <= MAX_FRAME for f in frames)
        assert all(f[1] & 0x01 == record.exercise for f in frames)  # drill flag on every frame
        assert decode_all(frames, sender) == record

    check()


@given(st.lists(st.builds(DigestEntry, NODE, st.integers(0, 10**6), st.integers(0, 10**6)), max_size=12, unique_by=lambda e: e.origin))
def test_digest_roundtrip(entries):
    entries = tuple(sorted((DigestEntry(e.origin, min(e.contiguous, e.highest), max(e.contiguous, e.highest)) for e in entries), key=lambda e: e.origin))
    digest = Digest(entries)
    assert Decoder().decode(encode_control(digest), 7, 0.0) == digest


def test_request_roundtrip_and_uids():
    req = Request(0x1234, ((5, ((1, 3), (9, 1))), (6, ((2, 2),))))
    assert Decoder().decode(encode_control(req), 7, 0.0) == req
    assert req.uids() == [r.Uid(5, 1), r.Uid(5, 2), r.Uid(5, 3), r.Uid(5, 9), r.Uid(6, 2), r.Uid(6, 3)]


def site_status(**kw):
    base = dict(origin=0xA1B2C3D4, seq=1234, created_at=1_767_225_600, site=17, status=r.SiteState.OUVERT,
                present=46, capacity=120, needs=r.Needs.WATER | r.Needs.MEDICAL)
    return r.SiteStatus(**{**base, **kw})


WANTS = st.lists(
    st.tuples(NODE, st.lists(st.tuples(st.integers(1, 2**20), st.integers(1, 4)), min_size=1, max_size=3).map(tuple)),
    min_size=1, max_size=3,
).map(tuple)


@settings(max_examples=200)
@given(any_record, WANTS)
def test_piggy_backed_wants_roundtrip_on_every_frame(record, wants):
    sender = record.origin
    for frame in encode(record, sender=sender):
        if len(bytes(encode_control(Request(0, wants)))) - 6 > wants_room(frame):
            continue
        carried = with_wants(frame, wants)
        assert len(carried) <= MAX_FRAME
        result, got = Decoder().decode_frame(carried, sender, 0.0)
        assert got == wants and not isinstance(result, Rejected)
        assert wants_room(carried) == 0
    # The record itself is unchanged by the wants riding on its frames.
    frames = encode(record, sender=sender)
    assert decode_all([with_wants(f, wants) if len(encode_control(Request(0, wants))) - 6 <= wants_room(f) else f
                       for f in frames], sender) == record


def test_wants_are_refused_on_control_frames_and_bad_wants_reject_the_frame():
    assert wants_room(encode_control(Digest((DigestEntry(5, 3, 4),)))) == 0
    frame = bytearray(with_wants(encode(site_status(), sender=9)[0], ((5, ((1, 2),)),)))
    at = frame.index(bytes((0, 0, 0, 5)))
    frame[at + 3] = 0  # the origin of the want: 0 is not a node
    assert Decoder().decode(bytes(frame), 9, 0.0) == Rejected("bad_request")


def test_typical_site_status_fits_in_30_bytes():
    own, relayed = encode(site_status(), sender=0xA1B2C3D4), encode(site_status(), sender=5)
    assert len(own[0]) <= 16 and len(relayed[0]) <= 20


def long_alert(**kw):
    text = "Crue rapide de l'Hérault : montez à l'étage, ne prenez pas votre voiture. " * 6
    base = dict(origin=3, seq=2, created_at=1_767_225_600, category=r.Category.MET, event="Crue",
                urgency=r.Urgency.IMMEDIATE, severity=r.Severity.EXTREME, certainty=r.Certainty.OBSERVED,
                response_type=r.ResponseType.SHELTER, headline="Alerte crue", instruction=text,
                description="La Mosson déborde au pont de Juvignac. Le niveau monte de 20 cm par heure.",
                area="Bas quartiers", signature=bytes(64), exercise=True)
    return r.Alert(**{**base, **kw})


def test_long_alert_fragments_and_reassembles_in_any_order():
    alert = long_alert()
    frames = encode(alert, sender=3)
    assert len(frames) >= 2
    assert all(f[1] & 0x01 for f in frames)
    decoder = Decoder()
    results = [decoder.decode(f, 3, 0.0) for f in reversed(frames)]
    assert results[-1] == alert and all(isinstance(x, Pending) for x in results[:-1])


def test_too_long_record_is_refused_at_encode():
    huge = r.Board(origin=1, seq=1, created_at=1_767_225_600, text="".join(chr(0x4E00 + i) for i in range(600)))
    with pytest.raises(ValueError):
        encode(huge)


def test_known_fragments_are_not_reassembled_again():
    frames = encode(long_alert(), sender=3)
    assert isinstance(Decoder().decode(frames[0], 3, 0.0, known=lambda uid: True), Known)


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda f: bytes([(2 << 5) | (f[0] & 0x1F)]) + f[1:], "unknown_version"),
        (lambda f: bytes([(1 << 5) | 0x1F]) + f[1:], "unknown_type"),
        (lambda f: f[:1] + bytes([f[1] | 0x80]) + f[2:], "unknown_flags"),
        (lambda f: f[:4], "truncated"),
        (lambda f: f + b"\x00", "trailing_bytes"),
        (lambda f: f + bytes(200), "oversized"),
    ],
)
def test_malformed_frames_are_rejected_with_a_reason(mutate, reason):
    frame = encode(site_status(), sender=9)[0]
    decoder = Decoder()
    assert decoder.decode(mutate(frame), 9, 0.0) == Rejected(reason)
    assert decoder.rejected[reason] == 1 and decoder.accepted == 0


# --- reassembly bounds ------------------------------------------------------------------


def alert_frames(seq):
    return encode(long_alert(seq=seq), sender=3)


def test_reassembly_is_bounded_in_messages_and_time():
    decoder = Decoder(FragmentLimits(max_messages=4, timeout_s=100))
    for seq in range(1, 11):
        decoder.decode(alert_frames(seq)[0], 3, 0.0)
    assert len(decoder.reassembler) == 4 and decoder.reassembler.evicted == 6
    decoder.decode(alert_frames(20)[0], 3, 150.0)  # the others are now stale
    assert len(decoder.reassembler) == 1 and decoder.reassembler.expired == 4


def test_reassembly_memory_bound():
    decoder = Decoder(FragmentLimits(max_bytes=1000))
    for seq in range(1, 30):
        decoder.decode(alert_frames(seq)[0], 3, 0.0)
        assert decoder.reassembler.buffered_bytes <= 1000


def test_fragment_count_mismatch_is_rejected():
    frames = alert_frames(5)
    decoder = Decoder()
    decoder.decode(frames[0], 3, 0.0)
    forged = bytearray(frames[1])
    forged[3] = (forged[3] & 0xF0) | 0x07  # claims 8 parts instead of 2..3
    assert isinstance(decoder.decode(bytes(forged), 3, 0.0), Rejected)


# --- never raises ------------------------------------------------------------------------


def valid_frames(n=40):
    common = dict(origin=9, created_at=1_767_225_600)
    frames = []
    for i in range(1, n + 1):
        frames += encode(site_status(seq=i, present=i * 7), sender=9)
        frames += encode(long_alert(seq=i), sender=3)
        frames += encode(r.Checkin(seq=i, name="Marie Dupont", note="chez ma sœur", **common), sender=9)
        frames += encode(r.VolunteerText(seq=i, sender=77, sender_name="Vol 3", packet_id=i, text="Pont coupé", **common), sender=9)
        frames += encode(r.Deletion(seq=i, target=r.Uid(3, i), reason="doublon", **common), sender=5)
        frames += encode(r.Health(seq=i, uptime_s=i, radio=r.RadioState.OK, queue_len=2, airtime_ms_hour=900,
                                  last_sync=1_767_225_000, mode=r.KitMode.CRISE, battery_pct=80, **common), sender=9)
    frames.append(encode_control(Digest((DigestEntry(5, 3, 4), DigestEntry(9, 10, 10)))))
    frames.append(encode_control(Request(0, ((5, ((1, 3),)),))))
    frames.append(with_wants(encode(site_status(seq=99), sender=9)[0], ((5, ((1, 3), (7, 1))), (3, ((2, 2),)))))
    return frames


def mutate(frame: bytes, rnd: random.Random) -> bytes:
    data = bytearray(frame)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(4)
        if op == 0 and data:
            data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
        elif op == 1 and data:
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        elif op == 2:
            del data[rnd.randrange(len(data) + 1):]
        else:
            pos = rnd.randrange(len(data) + 1)
            data[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
    return bytes(data)


def fuzz(n: int, seed: int) -> Decoder:
    rnd = random.Random(seed)
    frames = valid_frames()
    decoder = Decoder(FragmentLimits(max_messages=8))
    for i in range(n):
        if i % 4 == 0:
            payload = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 220)))
        else:
            payload = mutate(rnd.choice(frames), rnd)
        decoder.decode(payload, rnd.choice([3, 9, r.MAX_NODE]), now=i * 0.1)
    assert decoder.accepted + sum(decoder.rejected.values()) == n
    assert not [k for k in decoder.rejected if k.startswith("internal_error")], decoder.rejected
    return decoder


def test_fuzzed_frames_never_raise_fast():
    decoder = fuzz(5_000, seed=1)
    assert decoder.accepted > 0 and len(decoder.rejected) >= 5


@pytest.mark.slow
def test_fuzzed_frames_never_raise_100k():
    fuzz(100_000, seed=2)


@settings(max_examples=1000)
@given(st.binary(max_size=220), st.integers(-5, r.MAX_NODE + 5))
def test_arbitrary_bytes_never_raise(payload, sender):
    decoder = Decoder()
    result = decoder.decode(payload, sender, 0.0)
    if isinstance(result, Rejected):
        assert not result.reason.startswith("internal_error")
    assert decoder.accepted + sum(decoder.rejected.values()) == 1


@settings(max_examples=300)
@given(any_record, st.data())
def test_any_single_byte_change_is_decoded_or_rejected(record, data):
    frames = encode(record, sender=record.origin)
    frame = data.draw(st.sampled_from(frames))
    pos = data.draw(st.integers(0, len(frame) - 1))
    mutated = frame[:pos] + bytes([data.draw(st.integers(0, 255))]) + frame[pos + 1:]
    result = Decoder().decode(mutated, record.origin, 0.0)
    assert not (isinstance(result, Rejected) and result.reason.startswith("internal_error"))


def test_alert_description_round_trips_and_is_bounded():
    alert = long_alert(description="Montée rapide des eaux. " * 20)
    assert decode_all(encode(alert, sender=3), 3) == alert
    with pytest.raises(ValueError):
        long_alert(description="x" * (r.MAX_DESCRIPTION_CHARS + 1))


def test_typical_signed_alert_with_a_description_fits_in_one_frame():
    alert = r.Alert(origin=0xA1B2C3D4, seq=7, created_at=1_767_225_600, category=r.Category.MET, event="Crue",
                    urgency=r.Urgency.IMMEDIATE, severity=r.Severity.SEVERE, certainty=r.Certainty.OBSERVED,
                    response_type=r.ResponseType.SHELTER, headline="Crue rapide du Lez: montez à l'étage",
                    description="Le Lez déborde au pont Juvénal. Le niveau monte de 30 cm par heure.",
                    instruction="Ne prenez pas votre voiture. Restez à l'écoute de la mairie.",
                    area="Quartiers bas et bords du Lez", expires=1_767_225_600 + 6 * 3600, signature=bytes(64))
    frames = encode(alert, sender=alert.origin, own=True)
    assert len(frames) == 1 and len(frames[0]) <= MAX_FRAME
    assert decode_all(frames, alert.origin) == alert


def test_own_flag_round_trips():
    rec = site_status()
    for own in (False, True):
        for sender in (rec.origin, 9):
            frame = encode(rec, sender=sender, own=own)[0]
            decoded = Decoder().decode_full(frame, sender, 0.0)
            assert decoded.result == rec and decoded.own is own


# --- batch frames --------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(*(s for cls, s in RECORDS.items() if cls is not r.Alert)), min_size=2, max_size=6))
def test_a_batch_carries_its_records_back_unchanged(records):
    frames = [f for rec in records for f in encode(rec, sender=9)]
    whole = [f for f in frames if packable(f)]
    chosen = []
    for f in whole:
        if batch_size([len(x) for x in chosen + [f]]) <= MAX_BODY:
            chosen.append(f)
    if len(chosen) < 2:
        return
    packed = batch(chosen)
    assert len(packed) == batch_size([len(f) for f in chosen]) <= MAX_BODY
    assert unbatch(packed) == chosen
    decoder = Decoder()
    assert [decoder.decode(f, 9, 0.0) for f in unbatch(packed)] == [
        decoder.decode(f, 9, 0.0) for f in chosen
    ]


def test_heads_ride_with_the_records_and_a_single_record_may_carry_them():
    status = encode(site_status(), sender=9)[0]
    heads = (r.Uid(7, 300), r.Uid(r.MAX_NODE, 1))
    for frames in ([status], [status, status]):
        packed = batch(frames, heads)
        assert len(packed) == batch_size([len(f) for f in frames], heads)
        assert split_batch(packed) == (tuple(map(Head.of, heads)), frames) and unbatch(packed) == frames
    with pytest.raises(ValueError):
        batch([status], heads * 2)  # at most MAX_HEADS
    # Flagged, the first head names an alert (its receiver asks for it at once if it lacks it).
    urgent = split_batch(batch([status], heads, urgent=True))[0]
    assert [h.urgent for h in urgent] == [True, False] and urgent[0][:2] == Head.of(heads[0])[:2]
    flagged = batch([status], heads[:1], urgent=True)
    with pytest.raises(Malformed, match="bad_heads"):  # the flag without a head to name
        split_batch(flagged[:1] + bytes((URGENT_HEAD,)) + flagged[2 + HEAD_BYTES:])


def test_a_head_is_3_bytes_resolved_among_the_origins_the_kit_knows():
    status = encode(site_status(), sender=9)[0]
    heads = (r.Uid(7, 300), r.Uid(8, 2), r.Uid(11, 5))
    assert batch_size([len(status)], heads) == batch_size([len(status)]) + 3 * 3
    named = split_batch(batch([status], heads))[0]
    # The seq with that low byte nearest the highest we hold (300 from 250 or from 420);
    # origin 11 never heard of: left out, a digest tells.
    assert resolve_heads(named, {7: 250, 8: 1}) == [r.Uid(7, 300), r.Uid(8, 2)]
    assert resolve_heads(named, {7: 420, 8: 200}) == [r.Uid(7, 300), r.Uid(8, 258)]
    assert resolve_heads(named, {7: 1}) == [r.Uid(7, 44)]  # the nearest is all a kit can tell (300 & 255)
    # Two known origins with the same tag: neither is guessed.
    twin = next(o for o in range(12, 1 << 20) if head_tag(o) == head_tag(7))
    assert resolve_heads(named, {7: 250, twin: 3, 8: 1}) == [r.Uid(8, 2)]


def test_alerts_fragments_and_control_frames_are_never_batched():
    status, alert = encode(site_status(), sender=9)[0], alert_frames(1)[0]
    fragment = encode(r.Board(origin=9, seq=1, created_at=1_767_225_600, text="x" * 400), sender=9)[0]
    digest = encode_control(Digest((DigestEntry(9, 1, 1),)))
    for other in (alert, fragment, digest):
        assert not packable(other)
        with pytest.raises(ValueError):
            batch([status, other])
    assert batch([status]) == status  # one frame goes as is
    assert unbatch(status) == [status]


@pytest.mark.parametrize(
    "case, reason",
    [
        ("empty", "bad_batch"),
        ("heads", "bad_heads"),
        ("nested", "bad_batch"),
        ("control", "bad_batch"),
        ("truncated", "truncated"),
        ("short_heads", "truncated"),
    ],
)
def test_malformed_batches_are_refused_with_a_reason(case, reason):
    status = encode(site_status(), sender=9)[0]
    good = batch([status, status])
    head = bytes((good[0], 0))
    digest = encode_control(Digest((DigestEntry(9, 1, 1),)))
    frame = {
        "empty": head,
        "heads": bytes((good[0], 4)) + bytes(4 * 5) + bytes((len(status),)) + status,
        "nested": head + bytes((len(good),)) + good + bytes((len(status),)) + status,
        "control": head + bytes((len(digest),)) + digest + bytes((len(status),)) + status,
        "truncated": good[:-3],
        "short_heads": bytes((good[0], 2)) + bytes(4),
    }[case]
    with pytest.raises(Malformed) as caught:
        unbatch(frame)
    assert caught.value.reason == reason
    assert Decoder().decode(good, 9, 0.0) == Rejected("unsplit_batch")  # split before decoding
