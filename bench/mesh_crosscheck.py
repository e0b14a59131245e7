"""Cross-check of the territory network against the protocol-faithful TCP simulator.

The benchmarks (bench/mesh_territory.py) run the kits' sync engines on kit/sim/territory.py:
the firmware model (kit.sim SimNode on kit.sim's Medium) in virtual time, with its own small
adapter (`_KitSide`) standing where the USB cable is. A kit in the field runs
kit/radio/service.py instead, which talks to its radio through the real `meshtastic` library;
`python -m kit.sim` serves that library the same SimNode over TCP, in real (sped-up) time.
This bench runs one scenario on both and prints their delivery side by side:

- territory: Territory(...) in virtual time, many seeds (cheap);
- tcp: kit.sim.Mesh (the TCP simulator) at `--speed` x real time, one CoreKit (SQLite) and
  one MeshService per radio, connected through KitTCPInterface, as `kit serve` does.

Both sides get the same topology (20 % loss per link, SNR 0 dB as territory.line), preset,
hop limit 3, role CLIENT, NodeInfo timing, publication schedule (a few routine records per
kit, round robin over six kinds, and one alert) and the same SyncConfig: the engine's timers
scaled down by `TIMER_SCALE` so that a TCP run lasts about a minute of wall time. The kits'
own health reports are off on the TCP side (the territory has none).

Measured per side: the share of (record, other kit) pairs delivered by the end of the run and
within 30 s of publication, the delay from publication to a kit holding it (p50 / p95 per
kind), and frames put on air per radio (own, relays, NodeInfo).

Run: PYTHONPATH=. .venv/bin/python bench/mesh_crosscheck.py [--scenarios line3,line4,square4]
     [--seeds 30] [--tcp-runs 3] [--speed 10]
"""
from __future__ import annotations

import dataclasses
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kit.mesh import records as r  # noqa: E402
from kit.mesh.records import Alert  # noqa: E402
from kit.mesh.scheduler import SchedulerConfig  # noqa: E402
from kit.mesh.sync import RecordReceived, SyncConfig, SyncEngine  # noqa: E402
from kit.sim.medium import Topology  # noqa: E402
from kit.sim.territory import Territory, line  # noqa: E402

PRESET, HOPS, LOSS = "SHORT_FAST", 3, 0.2
T0 = 1_767_225_600
WITHIN_S = 30.0  # "delivered fast": within this of publication
# The engine's timers (relays, echoes, digests, requests, the gap between two frames of a
# kit) divided by this: on SHORT_FAST a frame is ~16 x shorter than on LONG_FAST, so the
# timers, a third of their defaults, still leave more frame-times between two decisions.
TIMER_SCALE = 3.0


def scaled_config(scale: float = TIMER_SCALE) -> SyncConfig:
    d = SyncConfig()
    s = 1.0 / scale
    return replace(
        d, digest_min_s=d.digest_min_s * s, digest_max_s=d.digest_max_s * s,
        request_timeout_s=d.request_timeout_s * s, hole_grace_s=d.hole_grace_s * s,
        reply_window_s=d.reply_window_s * s, piggyback_hold_s=d.piggyback_hold_s * s, aired_s=d.aired_s * s,
        alert_repeats_s=tuple(x * s for x in d.alert_repeats_s),
        urgent_relay_s=tuple(x * s for x in d.urgent_relay_s), alert_relay_s=tuple(x * s for x in d.alert_relay_s),
        edge_relay_s=tuple(x * s for x in d.edge_relay_s), echo_s=d.echo_s * s,
        scheduler=SchedulerConfig(preset=PRESET, duty_cycle=d.scheduler.duty_cycle,
                                  min_gap_s=d.scheduler.min_gap_s * s))


CONFIG = scaled_config()

C = dict(origin=1, seq=1, created_at=T0, exercise=False)
ROUTINE = [
    r.SiteStatus(**C, site=17, status=r.SiteState.OUVERT, present=46, capacity=120, needs=r.Needs.WATER),
    r.FieldReport(**C, location="Pont de la D14, Saint-Martin", incident=r.IncidentType.FLOOD,
                  severity=r.Severity.SEVERE, text="Eau sur la chaussée, route coupée"),
    r.Checkin(**C, name="Jeanne Roussel", note="Je vais bien, chez ma sœur à Lunel"),
    r.Need(**C, text="Besoin de 10 lits de camp au centre d'accueil", name="Mairie"),
    r.Offer(**C, text="Je peux prêter une pompe", name="Paul"),
    r.Board(**C, text="Distribution d'eau potable à la mairie de 14 h à 18 h", author="Mairie"),
]
ALERT = r.Alert(**C, category=r.Category.MET, event="Crue", urgency=r.Urgency.IMMEDIATE,
                severity=r.Severity.SEVERE, certainty=r.Certainty.OBSERVED, response_type=r.ResponseType.SHELTER,
                headline="Crue rapide du Lez: montez à l'étage", area="Bords du Lez",
                expires=T0 + 6 * 3600, signature=bytes(64))


def square(n: int, loss: float) -> Topology:
    topo = line(n, loss)
    topo.link(n - 1, 0, loss=loss, snr=0.0)
    return topo


@dataclass(frozen=True)
class Scenario:
    name: str
    kits: int
    shape: str = "line"          # line | square (a ring)
    per_kit: int = 4             # routine records per kit
    warm: float = 90.0           # sim s before the first record (every NodeInfo sent)
    spacing: float = 10.0        # sim s between two publications
    drain: float = 120.0         # sim s after the last one
    alert_from: int = 0

    def topology(self) -> Topology:
        return (line if self.shape == "line" else square)(self.kits, LOSS)

    def plan(self) -> list[tuple[float, int, r.Record]]:
        """(sim time, kit, sample): routine records round robin, the alert half-way."""
        routine = [(k % self.kits, ROUTINE[k % len(ROUTINE)]) for k in range(self.per_kit * self.kits)]
        routine.insert(len(routine) // 2, (self.alert_from, ALERT))
        return [(self.warm + j * self.spacing, i, sample) for j, (i, sample) in enumerate(routine)]

    @property
    def end(self) -> float:
        return self.plan()[-1][0] + self.drain


SCENARIOS = {s.name: s for s in (Scenario("line3", 3), Scenario("line4", 4), Scenario("square4", 4, "square"))}


@dataclass
class Run:
    """One run: per published record, its kind, origin kit, publication time and when each kit
    first held it (None: never in the run); frames each radio put on air."""

    side: str
    records: list = field(default_factory=list)  # (kind, origin kit, t_pub, [t_held or None per kit])
    frames: list = field(default_factory=list)
    collided: int = 0


def kind_of(record: r.Record) -> str:
    return "alert" if isinstance(record, Alert) else "routine"


# --- territory side ------------------------------------------------------------------------------

def run_territory(sc: Scenario, seed: int, config: SyncConfig = CONFIG) -> Run:
    net = Territory(sc.topology(), seed=seed, hop_limit=HOPS, preset=PRESET, config=config)
    published = []
    for t, i, sample in sc.plan():
        net.run_until(t)
        record = net.publish(i, lambda o, s, c, sample=sample: replace(sample, origin=o, seq=s, created_at=T0 + int(c)))
        published.append((record, i, net.now))
    net.run_until(sc.end)
    run = Run("territory")
    for record, i, t in published:
        run.records.append((kind_of(record), i, t, [k.stored_at.get(record.uid) for k in net.kits]))
    run.frames = [net.medium.stats[i].tx_frames for i in range(sc.kits)]
    run.collided = sum(s.rx_collided for s in net.medium.stats.values())
    return run


# --- TCP side: the real radio adapter, the real meshtastic library, the TCP simulator -------------

def run_tcp(sc: Scenario, seed: int, speed: float, workdir: Path, config: SyncConfig = CONFIG) -> Run:
    from kit.core.config import new_kit_key
    from kit.core.kit import Kit as CoreKit
    from kit.core.radio_port import RadioSpec
    from kit.radio.pump import EnginePump
    from kit.radio.service import MeshService, ServiceConfig
    from kit.sim.simulated_mesh import Mesh
    from kit.storage.sqlite_store import SqliteStore

    class ConfiguredPump(EnginePump):
        """EnginePump builds its SyncConfig from ServiceConfig's few fields (kit/radio/pump.py):
        this one hands the engine the whole cross-check config instead, nothing else changed."""

        def start(self, node: int, now: float) -> None:
            super().start(node, now)
            assert self.kit.db().execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
            self.engine = SyncEngine(self.origin, self.store, self.rng, now, config, radio_node=node,
                                     keys=self.kit.frame_keys)

    class ObservedService(MeshService):
        """MeshService, noting when this kit first stored each record (an observation only)."""

        held: dict

        def _loop(self) -> None:
            if self.pump is None:  # on the radio thread, as MeshService does (SQLite: one thread)
                self.pump = ConfiguredPump(self.kit, SqliteStore(self.kit.db().conn, clock=self.clock), self.rng,
                                           preset=PRESET, duty_cycle=config.scheduler.duty_cycle,
                                           sync_interval_s=config.digest_max_s, history_save_s=3600.0)
            super()._loop()

        def _note(self, events) -> None:
            now = self.clock()
            for event in events:
                if isinstance(event, RecordReceived):
                    self.held.setdefault(event.record.uid, now)
            super()._note(events)

    mesh = Mesh(sc.kits, sc.topology(), preset=PRESET, speed=speed, seed=seed, hop_limit=HOPS,
                nodeinfo_delay=30.0, nodeinfo_stagger=10.0)
    key = new_kit_key()
    service_config = ServiceConfig(heartbeat_s=5, answer_timeout_s=5, backoff_s=(0.2, 1.0), preset=PRESET,
                                   speed=speed, health_interval_s=0)
    epoch = time.time()
    clock = lambda: epoch + mesh.now()  # noqa: E731
    kits, services = [], []
    mesh.start()
    try:
        for i in range(sc.kits):
            kit = CoreKit.open(workdir / f"kit{i}", KIT_KEYS=[key])
            service = ObservedService(kit, RadioSpec("tcp", host="127.0.0.1", port=mesh.port(i)), service_config,
                                      clock=clock, seed=seed * 7919 + i)
            service.held = {}
            kit.attach_radio(service)
            kits.append(kit)
            services.append(service.start())
        deadline = time.monotonic() + 30
        while not all(s.pump is not None and s.pump.engine is not None for s in services):
            if time.monotonic() > deadline:
                raise RuntimeError("the kits did not connect to the simulated radios")
            time.sleep(0.05)
        published = []
        for t, i, sample in sc.plan():
            if mesh.now() > t + 1.0:
                raise RuntimeError(f"TCP run late: publication due at {t:.0f} s, now {mesh.now():.0f} s")
            while mesh.now() < t:
                time.sleep(min(0.02, (t - mesh.now()) / speed))
            fields = {f.name: getattr(sample, f.name) for f in dataclasses.fields(sample)
                      if f.name not in ("origin", "seq", "created_at", "exercise")}
            now = mesh.now()
            record = kits[i].publish(type(sample), exercise=False, now=int(epoch + now), **fields)
            services[i].held.setdefault(record.uid, epoch + now)
            published.append((record, i, now))
        while mesh.now() < sc.end:
            time.sleep(0.05)
        run = Run("tcp")
        for record, i, t in published:
            held = [s.held.get(record.uid) for s in services]
            run.records.append((kind_of(record), i, t, [None if h is None else h - epoch for h in held]))
        run.frames = [mesh.medium.stats[i].tx_frames for i in range(sc.kits)]
        run.collided = sum(s.rx_collided for s in mesh.medium.stats.values())
        assert mesh.scheduler.errors == 0, "a simulator callback raised"
        return run
    finally:
        for service in services:
            service.stop()
        mesh.stop()
        for kit in kits:
            kit.close()


# --- figures -----------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def pairs(run: Run, kind: str | None = None):
    """(delay or None) for every (record, kit other than its origin) pair."""
    for k, origin, t, held in run.records:
        if kind is None or k == kind:
            for j, h in enumerate(held):
                if j != origin:
                    yield None if h is None else h - t


def summary(runs: list[Run]) -> dict:
    """Pooled over runs; `*_runs` are the per-run values (their spread is the seed noise)."""
    out = {}
    for kind in ("routine", "alert"):
        delays = [d for run in runs for d in pairs(run, kind)]
        got = [d for d in delays if d is not None]
        out[kind] = dict(n=len(delays), delivered=len(got) / len(delays), fast=sum(d <= WITHIN_S for d in got) / len(delays),
                         p50=pct(got, .5), p95=pct(got, .95))
    per_run = []
    for run in runs:
        delays = list(pairs(run))
        per_run.append(sum(d is not None and d <= WITHIN_S for d in delays) / len(delays))
    out["fast_runs"] = per_run
    out["delivered_runs"] = [sum(d is not None for d in pairs(run)) / sum(1 for _ in pairs(run)) for run in runs]
    out["frames"] = statistics.fmean(f for run in runs for f in run.frames)
    out["collided"] = statistics.fmean(run.collided for run in runs)
    return out


def binomial_sd(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-9) / n)


def row(name: str, side: str, runs: list[Run]) -> dict:
    s = summary(runs)
    fr = s["fast_runs"]
    spread = f"{min(fr):.2f}-{max(fr):.2f}"
    print(f"{name:>8} {side:>9} {len(runs):>4}"
          f" {s['routine']['delivered']:>8.1%} {s['routine']['fast']:>7.1%} {s['routine']['p50']:>5.1f}/{s['routine']['p95']:<5.1f}"
          f" {s['alert']['delivered']:>8.1%} {s['alert']['fast']:>7.1%} {s['alert']['p50']:>5.1f}/{s['alert']['p95']:<5.1f}"
          f" {spread:>11} {s['frames']:>7.1f} {s['collided']:>6.1f}")
    return s


def main() -> None:
    args = sys.argv[1:]

    def opt(name, default):
        return args[args.index(name) + 1] if name in args else default
    names = opt("--scenarios", "line3,line4,square4").split(",")
    seeds = int(opt("--seeds", "30"))
    tcp_runs = int(opt("--tcp-runs", "3"))
    speed = float(opt("--speed", "10"))
    print("$ PYTHONPATH=. .venv/bin/python bench/mesh_crosscheck.py " + " ".join(args) + "\n")
    print(f"{PRESET}, {LOSS:.0%} loss per link, hop limit {HOPS}, engine timers / {TIMER_SCALE:g}; TCP at x{speed:g}.")
    print(f"pairs = (record, kit other than its origin); fast = held within {WITHIN_S:.0f} s; delay p50/p95 in sim s;")
    print("fast/run = spread of the per-run fast share (all kinds); frames = mean frames on air per radio;")
    print("coll = frames lost to collisions per run (all receivers).")
    print(f"{'scenario':>8} {'side':>9} {'runs':>4} {'routine':>8} {'fast':>7} {'p50/p95':<11} {'alert':>8} {'fast':>7}"
          f" {'p50/p95':<11} {'fast/run':>11} {'frames':>7} {'coll':>6}")
    for name in names:
        sc = SCENARIOS[name]
        t0 = time.time()
        terr = [run_territory(sc, seed) for seed in range(1, seeds + 1)]
        a = row(name, "territory", terr)
        tcp = []
        for seed in range(1, tcp_runs + 1):
            with tempfile.TemporaryDirectory() as tmp:
                tcp.append(run_tcp(sc, seed, speed, Path(tmp)))
        b = row(name, "tcp", tcp)
        fa = statistics.fmean(a["fast_runs"])
        fb = statistics.fmean(b["fast_runs"])
        sd = statistics.stdev(a["fast_runs"]) if len(a["fast_runs"]) > 1 else float("nan")
        print(f"{'':>8} fast share: territory {fa:.3f} (seed sd {sd:.3f}), tcp {fb:.3f} over {len(tcp)} runs: "
              f"|diff| = {abs(fa - fb) / (sd / math.sqrt(len(tcp))):.1f} standard errors of a {len(tcp)}-run mean"
              f"   ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
