"""Trust on the mesh, through the real meshtastic library on the simulated mesh.

A rogue radio holds the channel key only (any volunteer's handheld does) and makes frames
with the project's own public codec. Kits 0 — 1 — 2 are in a line; the rogue (radio 3) and
a volunteer's handheld (radio 4) are next to kit 1. In every case: each kit shows exactly
the genuine records, the attacked kit keeps accepting posts and alerts, nothing is lost.
"""
import pytest
from helpers import wait_for
from radio_bench import MESH_KEY, Kit, fast_config

from kit.core import config as kit_config
from kit.crypto import signing
from kit.mesh import codec
from kit.mesh import records as r
from kit.mesh.frame_auth import FrameKeys
from kit.sim import Mesh, Topology
from kit.sim.testing import Received, close_all, connect
from kit.storage import queries

pytestmark = pytest.mark.slow

SPEED = 20.0
PRESET = "SHORT_FAST"
ROGUE, HANDHELD = 3, 4
T = 1_800_000_000


@pytest.fixture
def territory(tmp_path):
    # The rogue hears kits 0 and 1 directly: sync frames reach only the radios in range.
    topology = Topology(5).link(0, 1).link(1, 2).link(1, ROGUE).link(0, ROGUE).link(1, HANDHELD)
    mesh = Mesh(nodes=5, topology=topology, preset=PRESET, speed=SPEED, nodeinfo_delay=1, nodeinfo_stagger=1)
    mesh.start()
    key_path = tmp_path / "mairie.key"
    signing.new_key(key_path)
    kits = [Kit(tmp_path / f"kit{i}", mesh, i, fast_config(SPEED, PRESET),
                **({"SIGNING_KEY": str(key_path)} if i == 0 else {}),
                TRUST_KEYS=[signing.public_key_text(signing.load_key(key_path))]) for i in range(3)]
    for kit in kits:
        kit.service.start()
    assert wait_for(lambda: all(k.service.status()["state"] == "connected" for k in kits), 20)
    rogue = connect(mesh, ROGUE)
    yield mesh, kits, rogue
    close_all(rogue)
    for kit in kits:
        kit.close()
    mesh.stop()


def send(rogue, frames):
    for frame in frames:
        rogue.sendData(frame, portNum=256)


def again_until(action, predicate, tries=5, timeout=10) -> bool:
    """The simulated medium has collisions, as the air does: a single frame may be lost, so
    the sender tries again (an attacker would too) until its effect is seen."""
    for _ in range(tries):
        action()
        if wait_for(predicate, timeout):
            return True
    return False


def boards(kits):
    return [k.board() for k in kits]


def test_forged_and_pre_empted_records_never_block_the_genuine_ones(territory):
    mesh, kits, rogue = territory
    a = kits[0].origin
    # Records claiming kit A's next seqs, its highest possible seq, and a forged status.
    forged = [r.Board(origin=a, seq=s, created_at=T, text=f"faux {s}") for s in range(1, 6)]
    forged += [r.Board(origin=a, seq=r.MAX_SEQ, created_at=T, text="fin de séquence"),
               r.SiteStatus(origin=kits[1].origin, seq=1, created_at=T, site=0, status=r.SiteState.EVACUE)]
    send(rogue, [f for rec in forged for f in codec.encode(rec)])
    # ... and the same sealed with a key that is not the territory's
    stranger = FrameKeys({1: bytes(32)}, 1)
    send(rogue, [stranger.seal(f, mesh.node_num(ROGUE)) for f in codec.encode(forged[0])])
    assert wait_for(lambda: sum(k.service.status()["frames_rejected"] for k in kits) >= 3, 30)
    for kit in kits:
        assert kit.db.execute("SELECT count(*) FROM records WHERE origin = ?", [a]).fetchone()[0] == 0
    site = kits[2].db.execute("SELECT status FROM sites WHERE position = 0").fetchone()[0]
    assert site != "evacue"
    genuine = [kits[0].post(f"vrai {i}") for i in range(3)]
    assert [g.seq for g in genuine] == [1, 2, 3]
    assert wait_for(lambda: all(b == ["vrai 0", "vrai 1", "vrai 2"] for b in boards(kits)), 60), boards(kits)
    # after a restart too, kit A keeps its own sequence
    kits[0].restart_service(seed=5)
    assert kits[0].post("après redémarrage").seq == 4


def test_a_flipped_copy_of_a_signed_alert_heard_first_changes_nothing(territory):
    mesh, kits, rogue = territory
    from kit.core import alerts

    fields = alerts.fields_from({"event": "Crue", "headline": "Montez à l'étage", "severity": "Extreme"})
    # The copy the rogue will send first: the genuine alert's next uid, one byte flipped.
    draft = signing.sign_record(r.Alert(origin=kits[0].origin, seq=kits[0].kit._own_seq(kits[0].kit.db(),
                                                                                         kits[0].origin) + 1,
                                        created_at=T, **alerts.record_fields(fields)), kits[0].kit.signing_key)
    frame = bytearray(codec.encode(draft)[0])
    frame[-3] ^= 0x01
    assert again_until(lambda: send(rogue, [bytes(frame)]), lambda: kits[1].service.status()["frames_rejected"] >= 1)
    alert = kits[0].kit.create_alert(fields, "cellule", "cli")
    assert alert.uid == draft.uid

    def official(kit):
        return [a["headline"] for a in queries.active_alerts(kit.db, verified_only=True)]
    assert wait_for(lambda: all(official(k) == ["Montez à l'étage"] for k in kits), 60), [official(k) for k in kits]


def test_forged_corrections_and_deletions_hide_nothing(territory):
    mesh, kits, rogue = territory
    checkin = kits[0].kit.publish(r.Checkin, name="Marie Dupont", note="au gymnase")
    assert wait_for(lambda: all(queries.lookup_checkins(k.db, "Marie Dupont") for k in kits), 60)
    send(rogue, codec.encode(r.Deletion(origin=mesh.node_num(ROGUE), seq=1, created_at=T, target=checkin.uid)))
    send(rogue, codec.encode(r.Deletion(origin=kits[0].origin, seq=50, created_at=T, target=checkin.uid)))
    # A kit (holding the kit key) without authority over kit A's record: held, not honoured.
    kits[2].kit.publish(r.Correction, target=checkin.uid, text="faux")
    assert wait_for(lambda: kits[0].db.execute("SELECT count(*) FROM records WHERE kind = 'correction'")
                    .fetchone()[0] == 1, 60)
    for kit in kits:
        assert [c["note"] for c in queries.lookup_checkins(kit.db, "Marie Dupont")] == ["au gymnase"]


def test_a_replay_after_the_record_was_deleted_changes_nothing(territory):
    """Records carry no freshness: a replay is harmless because a uid is stored once and a
    deletion outlives its target (the time between does not matter)."""
    mesh, kits, rogue = territory
    kit_a = mesh.node_num(0)

    def is_post(packet):
        decoded = packet.get("decoded") or {}
        payload = bytes(decoded.get("payload") or b"")
        return packet.get("from") == kit_a and decoded.get("portnum") == "PRIVATE_APP" and payload \
            and payload[0] & 0x1F == codec.FrameType.BOARD
    with Received("meshtastic.receive.data.PRIVATE_APP", rogue) as heard:
        kits[0].post("Pont fermé")
        frame = bytes(heard.wait(is_post, timeout=30)["decoded"]["payload"])
    assert wait_for(lambda: all(b == ["Pont fermé"] for b in boards(kits)), 60)
    kits[0].kit.hide_message(queries.format_uid(r.Uid(kits[0].origin, 1)), "cellule", "erreur", "cli")
    assert wait_for(lambda: all(b == [] for b in boards(kits)), 60)
    # The rogue replays it under its own node (the tag covers the sender: refused), and kit
    # A's own radio sends it again (a genuine frame, as a spoofed sender would: stored once).
    rejected = sum(k.service.status()["frames_rejected"] for k in kits)
    assert again_until(lambda: send(rogue, [frame]),
                       lambda: sum(k.service.status()["frames_rejected"] for k in kits) > rejected)
    kits[0].service.link.call("replay", "sendData", frame, destinationId=0xFFFFFFFF, portNum=256,
                              wantAck=False, channelIndex=0)
    mesh.wait_idle(10)
    assert boards(kits) == [[], [], []]
    for kit in kits:
        assert kit.db.execute("SELECT count(*) FROM records WHERE kind = 'board'").fetchone()[0] == 1


def test_commands_of_a_radio_not_enrolled_wait_for_an_operator(territory):
    mesh, kits, rogue = territory
    handheld = connect(mesh, HANDHELD)
    try:
        position, name = kits[1].db.execute("SELECT position, name FROM sites WHERE type = 'hebergement' "
                                            "ORDER BY position LIMIT 1").fetchone()

        def status(kit):
            return kit.db.execute("SELECT status FROM sites WHERE position = ?", [position]).fetchone()[0]
        before = [status(k) for k in kits]
        assert again_until(lambda: handheld.sendText(f"#site {name.split()[-1]} evacue"),
                           lambda: kits[1].db.execute("SELECT count(*) FROM pending_commands").fetchone()[0])
        waiting = kits[1].db.execute("SELECT id FROM pending_commands WHERE state = 'pending'").fetchall()
        assert len(waiting) == 1
        assert [status(k) for k in kits] == before
        assert all(k.db.execute("SELECT count(*) FROM pending_commands").fetchone()[0] == 0 for k in (kits[0], kits[2]))
        kits[1].kit.approve_command(waiting[0][0], "cellule", "cli")
        assert wait_for(lambda: all(status(k) == "evacue" for k in kits), 60)
        # Once enrolled, the same radio acts at once.
        for kit in kits:
            kit.kit.enroll_node(mesh.node_num(HANDHELD), "Équipe nord", "cellule", "cli")
        assert again_until(lambda: handheld.sendText(f"#site {name.split()[-1]} ouvert"),
                           lambda: all(status(k) == "ouvert" for k in kits), timeout=30)
    finally:
        close_all(handheld)


def test_key_rotation_mid_crisis(territory):
    """Kits 0 and 1 move to key 2 (the old key still accepted); kit 2 is left with the old
    key only: it says so, the others still hear it and repair it, and once it has the new
    profile everything converges."""
    mesh, kits, rogue = territory
    new = kit_config.new_kit_key(2)

    def give(kit, texts, seed):
        kit.service.stop()
        kit.kit.frame_keys = FrameKeys(*kit_config.kit_keys_from_text(texts))
        kit.restart_service(seed=seed)
    for i, kit in enumerate(kits[:2]):
        give(kit, [new, MESH_KEY], seed=7 + i)
    kits[0].post("nouvelle clé")   # sealed with key 2: kit 2 cannot open it, and says so
    assert wait_for(lambda: "nouvelle clé" in kits[1].board(), 60)
    assert wait_for(lambda: kits[2].service.status()["unknown_key_frames"] > 0, 60)
    assert "nouvelle clé" not in kits[2].board()
    kits[2].post("ancienne clé")   # sealed with the old key: still accepted, and repaired if lost
    assert wait_for(lambda: all("ancienne clé" in k.board() for k in kits[:2]), 90), boards(kits)
    give(kits[2], [new, MESH_KEY], seed=9)
    assert wait_for(lambda: all(b == ["ancienne clé", "nouvelle clé"] for b in boards(kits)), 120), boards(kits)
