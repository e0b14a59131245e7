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

Measured per side: the share of routine (record, other kit) pairs held by the end of the run,
and within 3 s and 30 s of publication for kits in range of the origin and 2+ hops away; the
delay from publication to a kit holding it (p50 / p95 per kind); frames put on air per radio
(own, relays, NodeInfo) and receptions lost to collisions.

Run: PYTHONPATH=. .venv/bin/python bench/mesh_crosscheck.py [--scenarios line3,line4,square4]
     [--seeds 40] [--tcp-runs 4] [--speed 10]
"""
from __future__ import annotations

import dataclasses
import math
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kit.mesh import records as r  # noqa: E402
from kit.mesh.records import Alert  # noqa: E402
from kit.mesh.scheduler import SchedulerConfig  # noqa: E402
from kit.mesh.sync import RecordReceived, SyncConfig, SyncEngine  # noqa: E402
from kit.radio.pump import MAX_RETRIES, RETRY_AFTER_S  # noqa: E402
from kit.sim.medium import Topology  # noqa: E402
from kit.sim.territory import Territory, _hops_from, line  # noqa: E402

PRESET, HOPS, LOSS = "SHORT_FAST", 3, 0.2
T0 = 1_767_225_600
# The engine's timers (relays, echoes, digests, requests, the gap between two frames of a
# kit) divided by this: on SHORT_FAST a frame is ~16 x shorter than on LONG_FAST, so the
# timers, a third of their defaults, still leave more frame-times between two decisions.
TIMER_SCALE = 3.0


def scaled_config(scale: float = TIMER_SCALE) -> SyncConfig:
    """Every duration of SyncConfig (its fields named *_s: relays, echoes, digests, requests,
    silences...) and the scheduler's gap between two frames of a kit, divided by `scale`."""
    d = SyncConfig()

    def shorter(value):
        return tuple(x / scale for x in value) if isinstance(value, tuple) else value / scale
    timers = {f.name: shorter(getattr(d, f.name)) for f in dataclasses.fields(d) if f.name.endswith("_s")}
    return replace(d, **timers, scheduler=SchedulerConfig(preset=PRESET, duty_cycle=d.scheduler.duty_cycle,
                                                          min_gap_s=d.scheduler.min_gap_s / scale))


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
    # Sim s between two publications. Not a multiple of a timer: at 10.0 (= echo_s) a push
    # in virtual time met the echo of the previous one to the millisecond and collided
    # (in range within 3 s: 0.75 against 0.79 at 10.7, line3 collisions 6.4 against 3.9),
    # which the TCP side's few ms of latency undid.
    spacing: float = 10.7
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
    late: float = 0.0  # TCP side: the latest publication, sim s after its planned time
    naks: Counter = field(default_factory=Counter)  # Routing errors the radios gave their kit
    lags: list = field(default_factory=list)  # TCP side: sim s each simulator timer ran after its time


def kind_of(record: r.Record) -> str:
    return "alert" if isinstance(record, Alert) else "routine"


# --- territory side ------------------------------------------------------------------------------

def run_territory(sc: Scenario, seed: int, config: SyncConfig = CONFIG, retries: bool = True) -> Run:
    """`retries`: the kits hand NAKed frames over again, as kit/radio/pump.py does."""
    net = Territory(sc.topology(), seed=seed, hop_limit=HOPS, preset=PRESET, config=config,
                    retry_after=RETRY_AFTER_S if retries else None, max_retries=MAX_RETRIES)
    run = Run("territory")
    for kit in net.kits:  # what each radio tells its kit about its own packets (an observation)
        kit.node.api.deliver = _noting_naks(kit.node.api.deliver, kit.node.node_num, run.naks)
    published = []
    for t, i, sample in sc.plan():
        net.run_until(t)
        record = net.publish(i, lambda o, s, c, sample=sample: replace(sample, origin=o, seq=s, created_at=T0 + int(c)))
        published.append((record, i, net.now))
    net.run_until(sc.end)
    for record, i, t in published:
        run.records.append((kind_of(record), i, t, [k.stored_at.get(record.uid) for k in net.kits]))
    run.frames = [net.medium.stats[i].tx_frames for i in range(sc.kits)]
    run.collided = sum(s.rx_collided for s in net.medium.stats.values())
    return run


def _noting_naks(deliver, node: int, naks: Counter):
    from meshtastic.protobuf import mesh_pb2, portnums_pb2

    def noted(p: mesh_pb2.MeshPacket) -> None:
        if getattr(p, "from") == node and p.decoded.portnum == portnums_pb2.ROUTING_APP:
            routing = mesh_pb2.Routing.FromString(p.decoded.payload)
            if routing.error_reason:
                naks[mesh_pb2.Routing.Error.Name(routing.error_reason)] += 1
        deliver(p)
    return noted


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

        def refused(self, packet_id, reason: str, now: float) -> None:
            if reason != "NONE":
                naks[reason] += 1
            super().refused(packet_id, reason, now)

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
    naks: Counter = Counter()
    service_config = ServiceConfig(heartbeat_s=5, answer_timeout_s=5, backoff_s=(0.2, 1.0), preset=PRESET,
                                   speed=speed, health_interval_s=0)
    epoch = time.time()
    clock = lambda: epoch + mesh.now()  # noqa: E731
    kits, services = [], []
    lags: list = []
    due = mesh.scheduler._next_due

    def next_due():  # how late the real-time loop runs each timer (virtual time: never)
        timer = due()
        if timer is not None:
            lags.append(mesh.scheduler.now() - timer.when)
        return timer
    mesh.scheduler._next_due = next_due
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
        published, late = [], 0.0
        if mesh.now() > sc.warm:
            raise RuntimeError(f"the kits took until {mesh.now():.0f} s (sim) to connect: warm-up too short")
        for t, i, sample in sc.plan():
            while mesh.now() < t:
                time.sleep(min(0.02, (t - mesh.now()) / speed))
            late = max(late, mesh.now() - t)  # delays count from the actual publication
            fields = {f.name: getattr(sample, f.name) for f in dataclasses.fields(sample)
                      if f.name not in ("origin", "seq", "created_at", "exercise")}
            now = mesh.now()
            record = kits[i].publish(type(sample), exercise=False, now=int(epoch + now), **fields)
            services[i].held.setdefault(record.uid, epoch + now)
            published.append((record, i, now))
        while mesh.now() < sc.end:
            time.sleep(0.05)
        run = Run("tcp", late=late, naks=naks, lags=lags)
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

# The shares compared: routine (record, kit) pairs held within 3 s and within 30 s, for kits in range
# of the record's origin (1 hop) and beyond (2+). Each catches a different fidelity bug (see
# tests/test_mesh_crosscheck.py): loss ignored (1 hop, 3 s), sync frames flooded by the radios
# instead of sent to the kits in range (2+, 3 s), hop fields lost on the way to the engine (2+, 30 s).
SHARES = (("1 hop", 1, 3.0), ("1 hop", 1, 30.0), ("2+ hops", 2, 3.0), ("2+ hops", 2, 30.0))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def delays(sc: Scenario, run: Run, kind: str, hops: int | None = None) -> list:
    """Delay (None: never held) of every (record, kit other than its origin) pair of a kind;
    `hops` 1: kits in range of the origin, 2: the others."""
    topo = sc.topology()
    away = {a: _hops_from(topo, a) for a in range(sc.kits)}
    return [None if h is None else h - t
            for k, origin, t, held in run.records if k == kind
            for j, h in enumerate(held)
            if j != origin and (hops is None or (away[origin][j] == 1) == (hops == 1))]


def shares(sc: Scenario, run: Run) -> list[float]:
    out = []
    for _label, hops, within in SHARES:
        ds = delays(sc, run, "routine", hops)
        out.append(sum(d is not None and d <= within for d in ds) / len(ds))
    return out


def summary(sc: Scenario, runs: list[Run]) -> dict:
    """Pooled over runs, and the per-run shares (their spread is the run-to-run noise)."""
    out = {"runs": len(runs), "shares": [shares(sc, run) for run in runs]}
    for kind in ("routine", "alert"):
        ds = [d for run in runs for d in delays(sc, run, kind)]
        got = [d for d in ds if d is not None]
        out[kind] = dict(delivered=len(got) / len(ds), p50=pct(got, .5), p95=pct(got, .95))
    out["frames_runs"] = [statistics.fmean(run.frames) for run in runs]
    out["frames"] = statistics.fmean(out["frames_runs"])
    out["collided"] = statistics.fmean(run.collided for run in runs)
    out["naks"] = sum((run.naks for run in runs), Counter())
    lags = sorted(lag for run in runs for lag in run.lags)
    out["lag_p99_ms"] = 1000 * pct(lags, .99) if lags else None
    return out


def compare(terr: dict, tcp: dict) -> list[tuple[float, float, float, float]]:
    """Per share, then for the frames per radio: (territory mean, run-to-run sd, tcp mean, z)
    where z is the difference of the two means in standard errors (a two-sample t statistic:
    the run-to-run sd pooled over both sides, mostly the territory's many seeds)."""
    out = []
    for m in range(len(SHARES) + 1):
        a = [s[m] for s in terr["shares"]] if m < len(SHARES) else terr["frames_runs"]
        b = [s[m] for s in tcp["shares"]] if m < len(SHARES) else tcp["frames_runs"]
        diff = abs(statistics.fmean(a) - statistics.fmean(b))
        sd = math.sqrt((statistics.variance(a) * (len(a) - 1) + (statistics.variance(b) if len(b) > 1 else 0.0)
                        * (len(b) - 1)) / (len(a) + len(b) - 2))
        se = sd * math.sqrt(1 / len(a) + 1 / len(b))
        out.append((statistics.fmean(a), sd, statistics.fmean(b), diff / se if se else (0.0 if diff == 0 else math.inf)))
    return out


def print_row(name: str, side: str, s: dict) -> None:
    means = [statistics.fmean(x[m] for x in s["shares"]) for m in range(len(SHARES))]
    ro, al = s["routine"], s["alert"]
    print(f"{name:>8} {side:>9} {s['runs']:>4} {ro['delivered']:>6.1%} " + " ".join(f"{m:>6.2f}" for m in means)
          + f" {ro['p50']:>5.1f}/{ro['p95']:<5.1f} {al['delivered']:>6.1%} {al['p50']:>4.1f}/{al['p95']:<4.1f}"
          f" {s['frames']:>6.1f} {s['collided']:>5.1f}  "
          + ", ".join(f"{k} {v / s['runs']:.2f}" for k, v in sorted(s["naks"].items()))
          + (f"; timer lag p99 {s['lag_p99_ms']:.0f} ms" if s["lag_p99_ms"] is not None else ""))


def header() -> None:
    cols = " ".join(f"{('≤%.0fs' % w):>6}" for _l, _h, w in SHARES)
    print(f"{'':>8} {'':>9} {'':>4} {'':>6}  {'in range':^13} {'2+ hops':^13}")
    print(f"{'scenario':>8} {'side':>9} {'runs':>4} {'held':>6} {cols} {'p50/p95':<11} {'alert':>6} {'p50/p95':<9}"
          f" {'frames':>6} {'coll':>5}  NAKs/run")


def main() -> None:
    args = sys.argv[1:]

    def opt(name, default):
        return args[args.index(name) + 1] if name in args else default
    names = opt("--scenarios", "line3,line4,square4").split(",")
    seeds = int(opt("--seeds", "40"))
    tcp_runs = int(opt("--tcp-runs", "4"))
    speed = float(opt("--speed", "10"))
    print("$ PYTHONPATH=. .venv/bin/python bench/mesh_crosscheck.py " + " ".join(args) + "\n")
    print(f"{PRESET}, {LOSS:.0%} loss per link, hop limit {HOPS}, engine timers / {TIMER_SCALE:g}; TCP side at x{speed:g}"
          " real time.")
    print("Routine (record, kit) pairs: held = by the end of the run; then the share held within 3 s / 30 s of")
    print("publication, for kits in range of its origin and 2+ hops away; delay p50/p95 in sim s. alert = the")
    print("same for the alert's pairs. frames = mean frames on air per radio (own, relays, NodeInfo);")
    print("coll = receptions lost to collisions per run; NAKs = Routing errors a radio gave its kit about its own")
    print("packets, per run; timer lag = how late the real-time simulator ran its timers (sim ms; a slot is")
    print("8.6 ms, a frame 40-110 ms). z = |territory - tcp| in standard errors (run-to-run sd, pooled).")
    header()
    for name in names:
        sc = SCENARIOS[name]
        t0 = time.time()
        terr = summary(sc, [run_territory(sc, seed) for seed in range(1, seeds + 1)])
        print_row(name, "territory", terr)
        runs = []
        for seed in range(1, tcp_runs + 1):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(run_tcp(sc, seed, speed, Path(tmp)))
        tcp = summary(sc, runs)
        print_row(name, "tcp", tcp)
        zs = compare(terr, tcp)
        print(f"{'':>8} {'z':>9} {'':>4} {'':>6} " + " ".join(f"{z:>6.1f}" for *_x, z in zs[:-1])
              + " " * 30 + f"{zs[-1][3]:>6.1f}"
              + f"   (seed sd {', '.join(f'{sd:.2f}' for _a, sd, _b, _z in zs)}; {time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
