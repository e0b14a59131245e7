"""Several engines on a simulated lossy LoRa channel (bench/mesh_sim.py)."""
import statistics
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from mesh_sim import Network  # noqa: E402

from kit.mesh import records as r  # noqa: E402
from kit.mesh.store import effective_record  # noqa: E402

KINDS = [
    lambda o, s, t: r.SiteStatus(origin=o, seq=s, created_at=t, site=s % 9, status=r.SiteState.OUVERT, present=s, capacity=80),
    lambda o, s, t: r.Checkin(origin=o, seq=s, created_at=t, name=f"Personne {s}", note="je vais bien"),
    lambda o, s, t: r.Board(origin=o, seq=s, created_at=t, text="Distribution d'eau à la mairie à 14 h"),
    lambda o, s, t: r.FieldReport(origin=o, seq=s, created_at=t, location="Pont de la Gare", incident=r.IncidentType.FLOOD,
                                  severity=r.Severity.SEVERE, text="Eau sur la chaussée, route coupée"),
]


def traffic(net: Network, count: int, every_s: float, kits=None, deletions=True):
    kits = kits if kits is not None else range(len(net.kits))
    kits = list(kits)
    published = []
    for n in range(count):
        i = kits[n % len(kits)]
        rec = net.publish(i, KINDS[n % len(KINDS)])
        published.append(rec)
        if deletions and n % 10 == 9:  # its kit deletes a record (only it has that authority)
            victim = published[n - 7]
            net.publish(kits[(n - 7) % len(kits)],
                        lambda o, s, t: r.Deletion(origin=o, seq=s, created_at=t, target=victim.uid, reason="erreur"))
        net.run_until(net.now + every_s)
    return published


def run_to_convergence(net: Network, limit_s: float) -> float:
    start = net.now
    while net.now - start < limit_s:
        net.run_until(net.now + 10)
        if net.converged():
            return net.now - start
    raise AssertionError(f"no convergence in {limit_s} s: {[len(k.store) for k in net.kits]}")


def check_invariants(net: Network):
    budget = net.config.scheduler.budget_ms
    for i, kit in enumerate(net.kits):
        assert net.max_window_airtime_ms(i) <= budget + 1e-6
    deleted = {rec.target for k in net.kits for rec in k.store._records.values() if isinstance(rec, r.Deletion)}
    for kit in net.kits:
        for uid in deleted:
            assert effective_record(kit.store, uid) is None
        assert not [e for e in kit.events if type(e).__name__ == "FrameRejected"]


def test_line_of_six_with_20_percent_loss_converges():
    # hop_limit 1: kit 0 cannot hear kit 5 even through the radios' relays; the kits in
    # between must carry the records at the application level. Every seed converges within
    # the run; the time is a distribution, so it is bounded over 10 seeds: 9 within 1800 s,
    # the median within 1200 s. (Measured: 230-2470 s, median 635 s, before the third step
    # of issue 12; 400-1860 s, median 765 s, after. Three seeds under 1800 s each, the bound
    # this test had, held for either version only by the choice of seeds.)
    took = []
    for seed in range(1, 11):
        net = Network(6, loss=0.2, hop_limit=1, seed=seed)
        traffic(net, 60, every_s=45)
        took.append(run_to_convergence(net, 3600))  # raises if not within the run
        check_invariants(net)
    assert sum(t < 1800 for t in took) >= 9 and sorted(took)[5] < 1200, took


def test_partition_then_heal_converges():
    net = Network(6, loss=0.1, hop_limit=3, seed=5)
    traffic(net, 10, every_s=30)
    net.cut(2, 3)
    traffic(net, 40, every_s=60)
    net.heal()
    took = run_to_convergence(net, 3600)
    assert took < 1200
    check_invariants(net)


def test_kit_off_for_hours_catches_up():
    net = Network(5, loss=0.2, hop_limit=3, seed=8)
    traffic(net, 10, every_s=30)
    net.power_off(4)
    traffic(net, 80, every_s=150, kits=range(4))  # ≈ 3.3 h of traffic without kit 4
    net.power_on(4)
    took = run_to_convergence(net, 3 * 3600)
    assert took < 3600
    check_invariants(net)


def test_quiet_mesh_spends_little_on_control():
    net = Network(5, loss=0.0, hop_limit=3, seed=4)
    traffic(net, 20, every_s=30, deletions=False)
    before = sum(sum(k.engine.scheduler.total_ms_by_lane.values()) for k in net.kits)
    net.run_until(net.now + 6 * 3600)
    after = sum(sum(k.engine.scheduler.total_ms_by_lane.values()) for k in net.kits)
    # ≈ one ~60 B digest per 600 s for the whole mesh: ~36 × 0.7 s over 6 h.
    assert (after - before) / 1000 < 60


def test_kits_whose_origin_is_not_their_radio_node_converge():
    """Kits 1 and 4 made records before their radio was attached: their frames go out under
    the radio's number, their records keep their origin. They converge as fast as the same
    mesh whose origins are the radio node numbers (FLAG_OWN tells first-hand pushes apart
    whatever the numbers). One seed's time swings 0.1–40 × the other's with the loss draws
    alone (60 s against 2,710 s), and a few stalled runs of 2,000 s decide a sum over six
    seeds: the same code measured 1.36 × then 0.87 × (sums over 40 seeds, before and after
    request jitter). Their medians over 40 seeds: 795 and 670 s before, 715 and 835 s after."""
    took, same_took = [], []
    for seed in range(1, 41):
        net = Network(6, loss=0.2, hop_limit=3, seed=seed, own_origins=(1, 4))
        traffic(net, 40, every_s=45)
        assert {k.record_origin for k in net.kits} != {k.node for k in net.kits}
        took.append(run_to_convergence(net, 3600))
        check_invariants(net)
        origins = {uid.origin for uid in net.kits[0].store.uids()}
        assert net.kits[1].record_origin in origins and net.kits[1].node not in origins
        same = Network(6, loss=0.2, hop_limit=3, seed=seed)
        traffic(same, 40, every_s=45)
        same_took.append(run_to_convergence(same, 3600))
    assert statistics.median(took) <= 1.25 * statistics.median(same_took)


def test_partition_heal_with_separate_origins_converges():
    net = Network(6, loss=0.1, hop_limit=3, seed=5, own_origins=(0, 3, 5))
    traffic(net, 10, every_s=30)
    net.cut(2, 3)
    traffic(net, 40, every_s=60)
    net.heal()
    took = run_to_convergence(net, 3600)
    assert took < 1200
    check_invariants(net)
