"""Kits exchange records over a simulated mesh through the real meshtastic library.

Topology: kits on radios 0 — 1 — 2 (a line: 0 and 2 only hear each other through 1);
radio 3 is a volunteer's stock handheld next to radio 1.
"""
import pytest
from helpers import wait_for
from radio_bench import Kit, fast_config

from kit.mesh import records as r
from kit.sim import Mesh, Topology
from kit.sim.phone_api import TEXT_INTERVAL_S
from kit.sim.testing import Received, close_all, connect
from kit.storage.queries import board_messages

SPEED = 20.0
PRESET = "SHORT_FAST"
VOLUNTEER = 3


@pytest.fixture
def mesh_and_kits(tmp_path):
    topology = Topology(4).link(0, 1).link(1, 2).link(1, VOLUNTEER)
    mesh = Mesh(nodes=4, topology=topology, preset=PRESET, speed=SPEED, nodeinfo_delay=1, nodeinfo_stagger=1)
    mesh.start()
    kits = [Kit(tmp_path / f"kit{i}", mesh, i, fast_config(SPEED, PRESET)) for i in range(3)]
    for kit in kits:
        kit.service.start()
    assert wait_for(lambda: all(k.service.status()["state"] == "connected" for k in kits), 20)
    mesh.wait_idle(10)
    yield mesh, kits
    for kit in kits:
        kit.close()
    mesh.stop()


@pytest.fixture
def handheld(mesh_and_kits):
    mesh, _kits = mesh_and_kits
    iface = connect(mesh, VOLUNTEER)
    yield iface
    close_all(iface)


def test_a_post_on_one_kit_reaches_every_kit_through_a_relay(mesh_and_kits):
    mesh, kits = mesh_and_kits
    kits[0].post("Pont de la gare fermé")
    assert wait_for(lambda: all("Pont de la gare fermé" in k.board() for k in kits), 30)
    assert kits[2].service.status()["last_sync"] is not None
    assert kits[0].db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0  # handed to the radio


def test_posts_made_while_the_radio_is_unplugged_go_out_once_it_is_back(mesh_and_kits):
    mesh, kits = mesh_and_kits
    mesh.unplug(0)
    assert wait_for(lambda: kits[0].service.status()["state"] != "connected", 20)
    for i in range(3):
        kits[0].post(f"hors ligne {i}")
    assert kits[0].db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 3
    mesh.replug(0)
    expected = [f"hors ligne {i}" for i in range(3)]
    assert wait_for(lambda: all(k.board() == expected for k in kits), 60), [k.board() for k in kits]
    assert kits[0].service.status()["state"] == "connected"
    for kit in kits:  # nothing twice
        assert kit.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 3


def test_a_kit_that_was_off_catches_up(mesh_and_kits, tmp_path):
    mesh, kits = mesh_and_kits
    kits[2].service.stop()
    kits[0].post("pendant l'absence 1")
    kits[1].post("pendant l'absence 2")
    assert wait_for(lambda: len(kits[1].board()) == 2 and len(kits[0].board()) == 2, 30)
    kits[2].restart_service(seed=9)
    assert wait_for(lambda: kits[2].board() == ["pendant l'absence 1", "pendant l'absence 2"], 90), kits[2].board()


def test_partition_then_heal(mesh_and_kits):
    mesh, kits = mesh_and_kits
    mesh.partition({0}, {1, 2, 3})
    kits[0].post("côté ouest")
    kits[2].post("côté est")
    assert wait_for(lambda: "côté est" in kits[1].board(), 30)
    assert "côté est" not in kits[0].board() and "côté ouest" not in kits[1].board()
    mesh.heal()
    assert wait_for(lambda: all(k.board() == ["côté est", "côté ouest"] for k in kits), 120), \
        [k.board() for k in kits]


def test_volunteer_text_reaches_every_board_once_with_the_sender_name(mesh_and_kits, handheld):
    mesh, kits = mesh_and_kits
    handheld.localNode.setOwner("Bénévole Nord", "BN")  # stock handheld with its owner's name
    mesh.wait_idle(10)
    handheld.sendText("Arbre tombé rue des Saules")
    assert wait_for(lambda: all("Arbre tombé rue des Saules" in k.board() for k in kits), 60), \
        [k.board() for k in kits]
    # Every kit has either re-published the text or stood down: none may still do it.
    assert wait_for(lambda: all(k.service.status()["pending_texts"] == 0 for k in kits), 30)
    mesh.wait_idle(10)
    for kit in kits:
        shown = [m for m in board_messages(kit.db) if m["text"] == "Arbre tombé rue des Saules"]
        assert len(shown) == 1 and shown[0]["kind"] == "radio"


def test_volunteer_site_command_updates_every_kit_and_answers(mesh_and_kits, handheld):
    """From a handheld the crisis cell enrolled (test_mesh_trust: the others wait)."""
    mesh, kits = mesh_and_kits
    for kit in kits:
        kit.kit.enroll_node(mesh.node_num(VOLUNTEER), "Bénévole Nord", "cellule", "cli")
    name = kits[0].db.execute("SELECT name FROM sites WHERE type='hebergement' ORDER BY position LIMIT 1").fetchone()[0]
    word = name.split()[-1]
    with Received("meshtastic.receive.text", handheld) as answers:
        handheld.sendText(f"#site {word} ouvert 40/120 eau")
        answer = answers.wait(lambda p: p["decoded"]["text"].startswith("OK"), timeout=30)
    assert answer is not None and name in answer["decoded"]["text"]
    def opened(kit):
        return kit.db.execute("SELECT status, present, capacity, needs FROM sites WHERE name = ?", [name]
                              ).fetchone() == ("ouvert", 40, 120, int(r.Needs.WATER))
    assert wait_for(lambda: all(opened(k) for k in kits), 60)


def test_volunteer_gets_help_and_clear_errors(mesh_and_kits, handheld):
    mesh, kits = mesh_and_kits
    with Received("meshtastic.receive.text", handheld) as answers:
        handheld.sendText("#site nulle-part ouvert")
        assert answers.wait(lambda p: "Lieu inconnu" in p["decoded"]["text"], timeout=30)
        # The radio takes one text per TEXT_INTERVAL_S (simulated) from its client, and the first
        # text's relays must be off the air (the handheld does not hear them: they would collide).
        answered = mesh.now()
        assert mesh.wait_for(lambda: mesh.now() - answered >= TEXT_INTERVAL_S and mesh.idle(), 10)
        handheld.sendText("#aide")
        assert answers.wait(lambda p: "#site" in p["decoded"]["text"] and "#besoin" in p["decoded"]["text"], 30)


def test_garbage_frames_change_nothing(mesh_and_kits, handheld):
    mesh, kits = mesh_and_kits
    before = [k.db.execute("SELECT count(*) FROM records").fetchone()[0] for k in kits]
    import random
    rng = random.Random(7)
    for _ in range(20):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 180)))
        handheld.sendData(junk, portNum=256)
    handheld.sendData(b"\x20\x01" + b"\xff" * 30, portNum=256)  # version 1 header, nonsense body
    assert wait_for(lambda: sum(k.service.status()["frames_rejected"] for k in kits) >= 10, 30)
    assert [k.db.execute("SELECT count(*) FROM records").fetchone()[0] for k in kits] == before
    assert all(k.service.status()["state"] == "connected" for k in kits)
    kits[0].post("toujours là")  # the radio loop still works
    assert wait_for(lambda: all("toujours là" in k.board() for k in kits), 30)


def test_the_radio_loop_survives_a_failure_and_sends_again(mesh_and_kits):
    """A bug in the engine (injected: tick raises once) is logged, counted and shown, the
    link is reopened after a backoff, and the kit sends again."""
    mesh, kits = mesh_and_kits
    service = kits[0].service
    engine = service.pump.engine
    real_tick, failed = engine.tick, []

    def tick_once_broken(now):
        if not failed:
            failed.append(now)
            raise RuntimeError("injected failure")
        return real_tick(now)
    engine.tick = tick_once_broken
    kits[0].post("avant la panne")
    assert wait_for(lambda: service.status()["loop_errors"] == 1, 30)
    assert "injected failure" in service.status()["error"]
    assert wait_for(lambda: service.status()["state"] == "connected", 30)
    kits[0].post("après la panne")
    assert wait_for(lambda: all(k.board() == ["après la panne", "avant la panne"] for k in kits), 60), \
        [k.board() for k in kits]


def test_a_radio_left_in_core_portnums_only_is_named_on_the_dashboard(tmp_path):
    """A radio set to ROUTER by hand keeps rebroadcast_mode CORE_PORTNUMS_ONLY (the firmware
    installs it with the role): it hands its kit none of the other kits' frames. The kit says
    so on its dashboard instead of looking connected and empty."""
    from helpers import login

    from kit.core import auth
    from kit.web.app import create_app

    mesh = Mesh(nodes=2, topology=Topology(2).link(0, 1), preset=PRESET, speed=SPEED, nodeinfo_delay=1)
    device = mesh.node(0).state.config.device
    device.rebroadcast_mode = device.RebroadcastMode.CORE_PORTNUMS_ONLY
    mesh.start()
    kits = [Kit(tmp_path / f"kit{i}", mesh, i, fast_config(SPEED, PRESET)) for i in range(2)]
    try:
        for kit in kits:
            kit.service.start()
        assert wait_for(lambda: all(k.service.status()["state"] == "connected" for k in kits), 20)
        kits[1].post("Pont fermé")
        assert wait_for(lambda: kits[1].service.status()["queue"] == 0 and
                        kits[1].db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0, 20)
        mesh.wait_idle(10)
        assert kits[0].board() == []  # the radio dropped it before the kit could see it
        assert kits[0].service.status()["radio_problem"] == "rebroadcast_mode CORE_PORTNUMS_ONLY"
        assert kits[1].service.status()["radio_problem"] is None
        admin = create_app({"LISTENER": "admin"}, kit=kits[0].kit)
        client = admin.test_client()
        assert login(client, "admin1", auth.add_user(kits[0].db, "admin1", "admin"), lang="en").status_code == 303
        page = client.get("/admin/").get_data(as_text=True)
        assert "The radio drops the other kits' frames (rebroadcast_mode CORE_PORTNUMS_ONLY)" in page
    finally:
        for kit in kits:
            kit.close()
        mesh.stop()
