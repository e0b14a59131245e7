"""Alerts and site statuses fast, routine traffic polite (issue 12)."""
import random

import pytest
from helpers import engine_output

from kit.mesh import codec
from kit.mesh import records as r
from kit.mesh.codec import encode
from kit.mesh.scheduler import Lane
from kit.mesh.store import MemoryStore
from kit.mesh.sync import SyncConfig, SyncEngine

A, B, C = 0x0A, 0x0B, 0x0C
T0 = 1_767_225_600


def engine(node, seed=1, **config):
    return SyncEngine(node, MemoryStore(), random.Random(seed), 0.0, SyncConfig(**config))


def alert(origin, seq):
    return r.Alert(origin=origin, seq=seq, created_at=T0, category=r.Category.MET, event="Crue",
                   urgency=r.Urgency.IMMEDIATE, severity=r.Severity.SEVERE, certainty=r.Certainty.OBSERVED, response_type=r.ResponseType.SHELTER,
                   headline="Montez à l'étage", area="Bords du Lez", expires=T0 + 3600, signature=bytes(64))


def board(origin, seq):
    return r.Board(origin=origin, seq=seq, created_at=T0, text="Distribution d'eau à 14 h")


def sent(e: SyncEngine, until: float, now: float = 0.0):
    """(time, decoded message) of everything `e` sends until `until`."""
    return [(t, m) for m, t in engine_output(e, until, now)]


def test_only_alerts_are_flooded_with_want_ack_the_rest_reaches_the_nearest_kits():
    e = engine(A, sync_hops=1)
    status = r.SiteStatus(origin=A, seq=2, created_at=T0, site=3, status=r.SiteState.OUVERT)
    assert e.send_options(encode(alert(A, 1))[0]) == (None, True)
    assert e.send_options(encode(status)[0]) == (1, False)
    assert e.send_options(encode(board(A, 3))[0]) == (1, False)
    assert not codec.is_flooded(b"")


def test_an_alert_is_pushed_again_after_its_repeat_delay():
    a = engine(A, alert_repeats_s=(30.0,))
    a.publish(alert(A, 1), 0.0)
    times = [t for t, m in sent(a, 100.0) if isinstance(m, r.Alert)]
    assert len(times) == 2
    assert times[0] < 1.0 and 30.0 <= times[1] < 40.0


def test_a_kit_relays_a_new_alert_unless_it_heard_it_often_enough():
    first = encode(alert(A, 1), sender=A, own=True)[0]
    lonely, crowded = engine(B, seed=2), engine(C, seed=3)
    lonely.receive(first, A, 0.0)
    crowded.receive(first, A, 0.0)
    crowded.receive(first, A, 2.0)  # two relays of it (a relay keeps `from`): its neighbourhood has it
    crowded.receive(first, A, 3.0)
    relayed = [t for t, m in sent(lonely, 60.0) if isinstance(m, r.Alert)]
    low, high = SyncConfig().alert_relay_s
    assert len(relayed) == 1 and low <= relayed[0] <= high
    assert not [m for _, m in sent(crowded, 60.0) if isinstance(m, r.Alert)]


def test_routine_traffic_waits_while_the_channel_is_busy_alerts_do_not():
    a = engine(A, alert_repeats_s=())
    a.channel_utilisation(40.0, 0.0)
    a.publish(board(A, 1), 0.0)
    a.publish(alert(A, 2), 0.0)
    out = [m for _, m in sent(a, 60.0)]
    assert [type(m) for m in out if not isinstance(m, (codec.Digest, codec.Request))] == [r.Alert]
    status = a.status(60.0)
    assert status.queue_lengths[Lane.ROUTINE] == 1 and status.channel_util_percent == 40.0
    assert status.deferred == 2  # the board and the periodic digest
    a.channel_utilisation(10.0, 61.0)  # the next minute's reading: quiet again
    assert any(isinstance(m, r.Board) for _, m in sent(a, 120.0, now=61.0))
    assert a.status(120.0).deferred == 0


@pytest.mark.parametrize("util", [25.0, 0.0])
def test_the_polite_threshold_is_the_firmwares(util):
    a = engine(A)
    a.channel_utilisation(util, 0.0)
    a.publish(board(A, 1), 0.0)
    assert any(isinstance(m, r.Board) for _, m in sent(a, 10.0))


# --- sync frames to the kits in range, records passed on by the kits (issue 12) ----------


def records_sent(e: SyncEngine, until: float, now: float = 0.0, kind=r.Board, origin=None):
    return [t for t, m in sent(e, until, now) if isinstance(m, kind) and origin in (None, m.origin)]


def test_a_record_whose_flood_ends_here_is_passed_on_unless_a_flood_goes_past_us():
    frame = encode(board(A, 1), sender=A, own=True)[0]
    edge, inside, overtaken = engine(B, seed=2), engine(C, seed=3), engine(0x0D, seed=4)
    for e in (edge, inside, overtaken):  # a kit in range that has not sent the record
        e.receive(encode(board(0x0E, 1), sender=0x0E, own=True)[0], 0x0E, 0.0, hops_left=3, hops_away=0)
    edge.receive(frame, A, 0.0, hops_left=0, hops_away=0)
    inside.receive(frame, A, 0.0, hops_left=2, hops_away=0)  # the radios carry it on
    overtaken.receive(frame, A, 0.0, hops_left=0, hops_away=0)
    overtaken.receive(encode(board(A, 1), sender=C)[0], C, 2.0, hops_left=1, hops_away=1)  # a flood goes on past us
    low, high = SyncConfig().edge_relay_s
    times = records_sent(edge, 120.0, origin=A)
    assert times and low <= times[0] <= high
    assert not records_sent(inside, 120.0, origin=A) and not records_sent(overtaken, 120.0, origin=A)


def test_a_kit_does_not_pass_on_what_every_kit_in_range_already_sent():
    frame = encode(board(A, 1), sender=A, own=True)[0]
    end_of_line, middle = engine(B, seed=2), engine(C, seed=3)
    for e in (end_of_line, middle):
        e.receive(encode(board(0x0D, 1), sender=0x0D, own=True)[0], 0x0D, 0.0, hops_left=0, hops_away=0)
        e.receive(frame, A, 1.0, hops_left=0, hops_away=0)
    # Both heard kits A and D first-hand; D sends A's record too, but only the end of the
    # line hears it: every kit in its range has it.
    end_of_line.receive(encode(board(A, 1), sender=0x0D)[0], 0x0D, 3.0, hops_left=0, hops_away=0)
    middle.receive(encode(board(0x0E, 1), sender=0x0E, own=True)[0], 0x0E, 2.0, hops_left=0, hops_away=0)
    assert not records_sent(end_of_line, 200.0, 3.0, origin=A)
    assert records_sent(middle, 200.0, 3.0, origin=A)


def test_a_record_sent_to_the_kits_in_range_goes_again_when_no_kit_passes_it_on():
    a, b = engine(A), engine(B)
    a.receive(encode(board(C, 1), sender=C, own=True)[0], C, 0.0, hops_left=0, hops_away=0)  # hop limits known
    a.publish(board(A, 1), 1.0)
    echo_s = SyncConfig().echo_s
    times = records_sent(a, 1.0 + 3 * echo_s, 1.0)
    assert len(times) == 2 and times[1] - times[0] >= echo_s  # sent again once, then given up
    b.receive(encode(board(C, 1), sender=C, own=True)[0], C, 0.0, hops_left=0, hops_away=0)
    b.publish(board(B, 1), 1.0)
    first = records_sent(b, 5.0, 1.0)
    b.receive(encode(board(B, 1), sender=C)[0], C, first[0] + 10.0, hops_left=0, hops_away=0)  # C passed it on
    assert not records_sent(b, 1.0 + 3 * echo_s, first[0] + 10.0)


def test_the_nearest_holder_answers_first():
    near, far = engine(B, seed=5), engine(C, seed=5)
    for e in (near, far):
        e.receive(encode(board(A, 1), sender=A, own=True)[0], A, 0.0, hops_left=3, hops_away=0)
    request = codec.encode_control(codec.Request(codec.BROADCAST_ANY, ((A, ((1, 1),)),)))
    near.receive(request, 0x0D, 100.0, hops_left=2, hops_away=0)
    far.receive(request, 0x0D, 100.0, hops_left=0, hops_away=2)
    window = SyncConfig().reply_window_s
    assert records_sent(near, 200.0, 100.0)[0] <= 100.0 + window
    assert records_sent(far, 300.0, 100.0)[0] >= 100.0 + 2 * window


def test_a_radio_near_its_duty_cycle_holds_everything_but_alerts():
    a = engine(A, alert_repeats_s=())
    a.channel_utilisation(5.0, 0.0, tx_percent=9.5)
    a.publish(board(A, 1), 0.0)
    a.publish(alert(A, 2), 0.0)
    assert [type(m) for _, m in sent(a, 60.0)] == [r.Alert]
    a.channel_utilisation(5.0, 61.0, tx_percent=6.0)
    assert records_sent(a, 120.0, 61.0)


def test_a_kit_in_range_that_has_sent_nothing_yet_still_gets_the_record():
    """Kit B heard kit D's radio only (its NodeInfo): D has not sent A's record, so B passes
    it on although A, the only kit B heard sending records, already has it."""
    b = engine(B, seed=2)
    b.peer_heard(0x0D, 0.0, hops_away=0)
    b.receive(encode(board(A, 1), sender=A, own=True)[0], A, 1.0, hops_left=0, hops_away=0)
    assert records_sent(b, 120.0, 1.0, origin=A)
