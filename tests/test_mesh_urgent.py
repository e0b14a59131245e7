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


def test_alert_and_status_frames_are_urgent_others_are_not():
    status = r.SiteStatus(origin=A, seq=2, created_at=T0, site=3, status=r.SiteState.OUVERT)
    assert codec.is_urgent(encode(alert(A, 1))[0])
    assert codec.is_urgent(encode(status)[0])
    assert not codec.is_urgent(encode(board(A, 3))[0])
    assert not codec.is_urgent(b"")


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
    assert len(relayed) == 1 and 10.0 <= relayed[0] <= 30.0
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
