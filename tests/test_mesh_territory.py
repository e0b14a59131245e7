"""Kits' sync engines on the firmware-faithful simulator in virtual time (kit/sim/territory.py):
collisions, managed flooding, implicit ACKs and the duty-cycle gate, as the benchmark uses them."""
from dataclasses import replace

import pytest

from kit.mesh import records as r
from kit.sim.clock import VirtualScheduler
from kit.sim.dutycycle import DUTY_CYCLE_PERCENT
from kit.sim.territory import Territory, line, random_geometric

pytestmark = pytest.mark.slow
T0 = 1_767_225_600
ALERT = r.Alert(origin=1, seq=1, created_at=T0, category=r.Category.MET, event="Crue", urgency=r.Urgency.IMMEDIATE,
                severity=r.Severity.SEVERE, certainty=r.Certainty.OBSERVED, response_type=r.ResponseType.SHELTER,
                headline="Montez à l'étage", area="Bords du Lez", expires=T0 + 6 * 3600, signature=bytes(64))
BOARD = r.Board(origin=1, seq=1, created_at=T0, text="Distribution d'eau à la mairie de 14 h à 18 h")


def make(sample):
    return lambda origin, seq, now: replace(sample, origin=origin, seq=seq, created_at=T0 + now)


def traffic(net: Territory, until: float, per_kit_hour: float = 6.0) -> None:
    n, k = len(net.kits), 0
    step = 3600 / (per_kit_hour * n)
    while net.now < until:
        net.publish(k % n, make(BOARD))
        k += 1
        net.run_until(net.now + step)


def test_the_virtual_clock_runs_timers_in_order_and_jumps_between_them():
    clock, seen = VirtualScheduler(), []
    clock.call_at(5.0, seen.append, "b")
    clock.call_at(1.0, seen.append, "a")
    clock.call_at(9.0, seen.append, "c").cancel()
    clock.run_until(7.0)
    assert seen == ["a", "b"] and clock.now() == 7.0


def test_an_alert_crosses_a_line_of_five_kits_within_a_minute():
    net = Territory(line(5, loss=0.2), seed=4)
    traffic(net, 1800.0)
    record = net.publish(0, make(ALERT))
    net.run_until(net.now + 60.0)
    assert all(k.store.has(record.uid) for k in net.kits)


def test_fifty_kits_run_for_half_an_hour_within_the_law():
    topology, diameter = random_geometric(50, loss=0.2, degree=3.5, seed=1)
    assert diameter >= 4
    net = Territory(topology, seed=1)
    traffic(net, 1800.0)
    net.run_until(2400.0)
    limit = 3600 * DUTY_CYCLE_PERCENT["EU_868"] / 100
    assert max(net.max_window_airtime_s(i, 0.0, net.now) for i in range(50)) <= limit
    assert sum(len(k.store.uids()) for k in net.kits) > 50 * 20  # records did spread
    assert all(k.util_samples for k in net.kits)  # the radios reported the channel
