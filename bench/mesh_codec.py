"""Mesh core figures: frame sizes and airtime per message type, control share at steady
state, convergence after a partition vs its lower bound.

Run: .venv/bin/python bench/mesh_codec.py
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mesh_sim import Network  # noqa: E402

from kit.mesh import records as r  # noqa: E402
from kit.mesh.airtime import airtime_ms, frame_bytes, payload_airtime_ms  # noqa: E402
from kit.mesh.codec import encode  # noqa: E402
from kit.mesh.scheduler import AirtimeScheduler, Lane  # noqa: E402

NODE, T = 0xA1B2C3D4, 1_767_225_600
C = dict(origin=NODE, seq=1234, created_at=T)

# Typical messages (not in the codebook corpus), each with what a person would type as a
# plain Meshtastic text for the same content.
SAMPLES = [
    (r.SiteStatus(**C, site=17, status=r.SiteState.OUVERT, present=46, capacity=120, needs=r.Needs.WATER | r.Needs.MEDICAL),
     "Gymnase Jean Moulin: OUVERT, 46 présents / 120 places. Besoins: eau, médical."),
    (r.FieldReport(**C, location="Pont de la D14, Saint-Martin", incident=r.IncidentType.FLOOD, severity=r.Severity.SEVERE,
                   text="Eau sur la chaussée, route coupée dans les deux sens"),
     "Inondation grave, Pont de la D14, Saint-Martin: Eau sur la chaussée, route coupée dans les deux sens"),
    (r.Checkin(**C, name="Jeanne Roussel", note="Je vais bien, chez ma sœur à Lunel"),
     "Je suis en sécurité: Jeanne Roussel. Je vais bien, chez ma sœur à Lunel"),
    (r.Need(**C, text="Besoin de 10 lits de camp et de couvertures au centre d'accueil", name="Mairie"),
     "Besoin: 10 lits de camp et couvertures au centre d'accueil (Mairie)"),
    (r.Offer(**C, text="Je peux prêter une pompe et un groupe électrogène", name="Paul"),
     "Offre: je peux prêter une pompe et un groupe électrogène (Paul)"),
    (r.Board(**C, text="Distribution d'eau potable à la mairie de 14 h à 18 h", author="Mairie"),
     "Distribution d'eau potable à la mairie de 14 h à 18 h (Mairie)"),
    (r.VolunteerText(**C, sender=0x33AA, sender_name="Bénévole 7", packet_id=0x1A2B3C4D, text="Arbre tombé chemin des Crêtes, passage bloqué"),
     "Arbre tombé chemin des Crêtes, passage bloqué"),
    (r.Deletion(**C, target=r.Uid(0x12345678, 56), reason="doublon"), "SUPPRIMÉ message 12345678/56 (doublon)"),
    (r.Health(**C, uptime_s=86_400, radio=r.RadioState.OK, queue_len=3, airtime_ms_hour=41_000, last_sync=T - 120,
              mode=r.KitMode.CRISE, battery_pct=87),
     "Kit K01: en ligne 24 h, radio OK, file 3, airtime 41 s/h, sync il y a 2 min, mode crise, batterie 87 %"),
    (r.Alert(**C, category=r.Category.MET, event="Crue", urgency=r.Urgency.IMMEDIATE, severity=r.Severity.SEVERE,
             certainty=r.Certainty.OBSERVED, response_type=r.ResponseType.SHELTER,
             headline="Crue rapide du Lez: montez à l'étage",
             instruction="Ne prenez pas votre voiture. Ne descendez pas dans les sous-sols. Restez à l'écoute de la mairie.",
             area="Quartiers bas et bords du Lez", expires=T + 6 * 3600, signature=bytes(64)),
     "ALERTE Crue (grave, immédiat, observé) – Quartiers bas et bords du Lez: Crue rapide du Lez: montez à l'étage. "
     "Ne prenez pas votre voiture. Ne descendez pas dans les sous-sols. Restez à l'écoute de la mairie. Jusqu'à 18 h."),
]


def text_airtime(n: int) -> float:
    # TEXT_MESSAGE_APP's portnum takes 1 byte where PRIVATE_APP's takes 3.
    return airtime_ms(frame_bytes(n) - 2)


def json_of(record: r.Record) -> bytes:
    return json.dumps(asdict(record), ensure_ascii=False, separators=(",", ":"), default=lambda b: b.hex()).encode()


def table() -> None:
    print("1) Bytes and LONG_FAST airtime per message (kit frame vs plain text vs JSON)")
    print(f"{'type':<15}{'kit B':>7}{'frames':>7}{'kit ms':>8}{'text B':>8}{'text ms':>8}{'JSON B':>8}{'JSON ms':>9}{'kit/text':>9}")
    for record, text in SAMPLES:
        frames = encode(record, sender=NODE)
        kit_b = sum(len(f) for f in frames)
        kit_ms = sum(payload_airtime_ms(len(f)) for f in frames)
        tb = len(text.encode("utf-8"))
        jb = len(json_of(record))
        t_ms = sum(text_airtime(min(200, tb - i)) for i in range(0, tb, 200))
        j_ms = sum(payload_airtime_ms(min(200, jb - i)) for i in range(0, jb, 200))
        print(f"{record.KIND:<15}{kit_b:>7}{len(frames):>7}{kit_ms:>8.0f}{tb:>8}{t_ms:>8.0f}{jb:>8}{j_ms:>9.0f}{kit_ms / t_ms:>9.2f}")
    print("   (alert: with a 64-byte Ed25519 signature; text and JSON have none)\n")


def publish_round(net: Network, n: int) -> None:
    sample = SAMPLES[n % 7][0]
    i = n % len(net.kits)
    net.publish(i, lambda o, s, t: replace(sample, origin=o, seq=s, created_at=T + t))


def control_share(loss: float, hop_limit: int, per_kit_per_hour: float, kits: int = 5, seed: int = 11) -> tuple[float, float]:
    net = Network(kits, loss=loss, hop_limit=hop_limit, seed=seed)
    step = 3600 / (per_kit_per_hour * kits)
    n = 0
    while net.now < 3600:  # warm-up hour
        publish_round(net, n)
        n += 1
        net.run_until(net.now + step)
    base = {k.node: dict(k.engine.scheduler.total_ms_by_lane) for k in net.kits}
    while net.now < 4 * 3600:
        publish_round(net, n)
        n += 1
        net.run_until(net.now + step)
    ctl = tot = 0.0
    for k in net.kits:
        for lane, ms in k.engine.scheduler.total_ms_by_lane.items():
            d = ms - base[k.node][lane]
            tot += d
            ctl += d if lane is Lane.CONTROL else 0
    return ctl / tot, tot / 1000 / 3 / kits


def ideal_send_time(frames: list[bytes]) -> float:
    """Lower bound: one kit sends exactly these frames, as fast as its scheduler allows."""
    s = AirtimeScheduler()
    for f in frames:
        s.enqueue([f], Lane.STATUS, "sync")
    now, end = 0.0, 0.0
    while True:
        frame = s.next_frame(now)
        if frame is not None:
            end = now + payload_airtime_ms(len(frame)) / 1000
        wake = s.next_wakeup(now)
        if wake is None:
            return end
        now = max(wake, now + 1e-3)


def partition(minutes: int, per_side_per_hour: float, loss: float, seed: int) -> tuple[float, float, int]:
    net = Network(6, loss=loss, hop_limit=3, seed=seed)
    n = 0
    while net.now < 600:
        publish_round(net, n)
        n += 1
        net.run_until(net.now + 60)
    net.run_until(1800)
    assert net.converged()
    net.cut(2, 3)
    before = [k.store.uids() for k in net.kits]
    step = 3600 / (2 * per_side_per_hour)
    end = net.now + minutes * 60
    while net.now < end:
        publish_round(net, n)
        n += 1
        net.run_until(net.now + step)
    left = set().union(*(k.store.uids() for k in net.kits[:3])) - before[0]
    right = set().union(*(k.store.uids() for k in net.kits[3:])) - before[0]
    net.heal()
    heal_at = net.now
    while not net.converged():
        net.run_until(net.now + 5)
    took = net.now - heal_at

    def frames(uids, holder):
        return [f for u in uids for f in encode(holder.store.get(u), sender=0)]

    bound = max(ideal_send_time(frames(left, net.kits[0])), ideal_send_time(frames(right, net.kits[5])))
    return took, bound, len(left) + len(right)


def main() -> None:
    print("$ .venv/bin/python bench/mesh_codec.py\n")
    table()
    print("2) Share of own airtime spent on sync control (digests + requests), 5 kits, 3 h after 1 h warm-up")
    print(f"{'loss':>6}{'hops':>6}{'rec/kit/h':>11}{'control':>9}{'own s/kit/h':>13}")
    for loss, hops, rate in [(0.0, 3, 6), (0.1, 3, 6), (0.2, 3, 6), (0.1, 3, 20), (0.2, 1, 6)]:
        share, per_kit = control_share(loss, hops, rate)
        print(f"{loss:>6.0%}{hops:>6}{rate:>11}{share:>9.1%}{per_kit:>13.1f}")
    print()
    print("3) Convergence after a partition heals (6 kits, cut between 3|3, hop limit 3)")
    print(f"{'cut min':>8}{'rec/side/h':>11}{'loss':>6}{'missing':>8}{'took s':>8}{'bound s':>8}{'ratio':>7}")
    for minutes, rate, loss, seed in [(60, 30, 0.0, 1), (60, 30, 0.1, 2), (120, 60, 0.1, 3), (120, 120, 0.1, 4)]:
        took, bound, missing = partition(minutes, rate, loss, seed)
        print(f"{minutes:>8}{rate:>11}{loss:>6.0%}{missing:>8}{took:>8.0f}{bound:>8.0f}{took / bound:>7.2f}")


if __name__ == "__main__":
    main()
