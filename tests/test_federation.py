"""Territory federation through a real Mosquitto (TLS from a test CA, one account per kit,
the rendered ACL): three simulated LoRa meshes of three kits, one kit per mesh with
backhaul; the broker killed and restarted, a backhaul cut and restored, a rogue client with
valid broker credentials, an ACL denial, a revoked kit."""
from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from broker_bench import HAVE_BROKER, PREFIX, WHY, Broker
from helpers import free_port, login, wait_for
from radio_bench import MESH_KEY, Kit, fast_config

from kit.core import alerts
from kit.core.config import new_kit_key
from kit.core.kit import Kit as CoreKit
from kit.crypto import signing
from kit.mesh import codec
from kit.mesh import records as r
from kit.mesh.frame_auth import FrameKeys
from kit.radio.broker import BrokerConfig, BrokerService
from kit.sim import Mesh
from kit.sim.testing import close_all, connect
from kit.storage.queries import board_messages
from kit.web.app import create_app
from kit.web.territory_app import create_territory_app

pytestmark = pytest.mark.requires(HAVE_BROKER, WHY)

SPEED = 20.0
PRESET = "SHORT_FAST"
FAST = BrokerConfig(backoff_s=(1.0, 2.0), digest_min_s=1.0, digest_max_s=5.0, status_every_s=0.5)


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def signer(tmp_path):
    path = tmp_path / "cellule.key"
    return path, signing.new_key(path)


def alert_fields(headline: str) -> dict:
    return alerts.fields_from({"event": "Crue", "headline": headline, "severity": "Extreme", "area": "Vallée"})


def verified(db, uid: r.Uid) -> bool:
    row = db.execute("SELECT verified FROM alerts WHERE origin = ? AND seq = ?", list(uid)).fetchone()
    return bool(row and row[0])


class Cut:
    """A TCP relay between a kit and the broker that can be cut (every connection reset,
    new ones refused) and restored: the kit's backhaul (a 4G dongle losing its mast)."""

    def __init__(self, target_port: int):
        self.target = target_port
        self.port = free_port()
        self.up = True
        self.conns: list[socket.socket] = []
        self.server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:  # the broker is down: the kit sees its connection fail
                client.close()
                continue
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        self.up = False
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns = []

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.server.close()


@pytest.fixture
def territory(tmp_path, broker, signer):
    """meshes[m][i]: kit i of mesh m on a line of three radios; kit 0 of each mesh has
    backhaul (mesh 2's through a relay the test can cut)."""
    key_path, public = signer
    config = dataclasses.replace(fast_config(SPEED, PRESET), health_interval_s=60)
    meshes, kits, links = [], [], []
    cut = Cut(broker.port)
    try:
        for m in range(3):
            mesh = Mesh(nodes=3, topology="line", preset=PRESET, speed=SPEED, nodeinfo_delay=1,
                        nodeinfo_stagger=1, seed=m,
                        first_node=0x4B540001 + 0x100 * m)
            mesh.start()
            meshes.append(mesh)
            row = []
            for i in range(3):
                extra = {"SIGNING_KEY": str(key_path)} if (m, i) == (0, 2) else {}
                row.append(Kit(tmp_path / f"m{m}k{i}", mesh, i, config, TRUST_KEYS=[public], **extra))
            kits.append(row)
        for row in kits:
            for kit in row:
                kit.service.start()
        everyone = [k for row in kits for k in row]
        assert wait_for(lambda: all(k.service.status()["state"] == "connected" for k in everyone), 30)
        for m, row in enumerate(kits):
            spec = broker.spec(f"kit-m{m}")
            if m == 2:
                spec = dataclasses.replace(spec, port=cut.port)
            link = BrokerService(row[0].kit, spec, FAST, seed=m)
            row[0].kit.attach_link(link)
            links.append(link.start())
        assert wait_for(lambda: all(link.status()["state"] == "connected" for link in links), 20)
        yield kits, links, cut
    finally:
        for link in links:
            link.stop()
        cut.close()
        for row in kits:
            for kit in row:
                kit.close()
        for mesh in meshes:
            mesh.stop()


@pytest.mark.slow
def test_an_alert_crosses_three_meshes_and_nothing_is_lost_when_the_broker_or_a_backhaul_fails(territory, broker):
    kits, links, cut = territory
    everyone = [k for row in kits for k in row]
    # 1. An alert signed in valley 1 (on a kit without backhaul) is verified on every kit of
    #    valleys 2 and 3, the four LoRa-only ones there too, through their own meshes.
    alert = kits[0][2].kit.create_alert(alert_fields("Montez à l'étage"), "cellule", "cli")
    assert wait_for(lambda: all(verified(k.db, alert.uid) for k in everyone), 60), \
        [verified(k.db, alert.uid) for k in everyone]

    # 2. The broker is killed mid-stream and restarted: nothing is lost, nothing is twice.
    kits[1][1].post("avant la coupure")
    broker.kill()
    for n in range(3):
        kits[0][1].post(f"pendant la coupure {n}")
    kits[2][2].post("valle 3 pendant la coupure")
    assert wait_for(lambda: all(link.status()["state"] != "connected" for link in links), 20)
    broker.start()
    expected = sorted(["avant la coupure", "valle 3 pendant la coupure"] + [f"pendant la coupure {n}" for n in range(3)])
    assert wait_for(lambda: all(k.board() == expected for k in everyone), 90), [k.board() for k in everyone]

    # 3. Valley 3's backhaul is cut, then restored: it catches up, in both directions.
    cut.cut()
    assert wait_for(lambda: links[2].status()["state"] != "connected", 20)
    kits[0][0].post("vallée 1 pendant que la 3 est isolée")
    kits[2][1].post("vallée 3 isolée")
    assert wait_for(lambda: "vallée 3 isolée" in kits[2][0].board(), 30)
    cut.restore()
    expected = sorted(expected + ["vallée 1 pendant que la 3 est isolée", "vallée 3 isolée"])
    assert wait_for(lambda: all(k.board() == expected for k in everyone), 90), \
        [(k.origin, k.board()) for k in everyone] + [link.status() for link in links]
    for kit in everyone:  # records are identified by uid everywhere: each is stored once
        assert kit.db.execute("SELECT count(*) FROM messages").fetchone()[0] == len(expected)
    assert all(link.status()["loop_errors"] == 0 for link in links)


@pytest.mark.slow
def test_the_territory_page_lists_all_nine_kits(territory, broker, tmp_path, signer):
    """`kit territory`'s page, on a viewer with its own broker account: every kit (the six
    with no IP too, through their backhaul kits), its health, radio, both contacts, the
    active alert and a shelter's status; no JavaScript."""
    kits, links, cut = territory
    everyone = [k for row in kits for k in row]
    viewer = CoreKit.open(tmp_path / "prefecture", KIT_KEYS=[MESH_KEY], TRUST_KEYS=[signer[1]])
    link = BrokerService(viewer, broker.spec("prefecture"), FAST, seed=99)
    viewer.attach_link(link)
    link.start()
    try:
        alert = kits[0][2].kit.create_alert(alert_fields("Évacuez la rive"), "cellule", "cli")
        sites = kits[1][2].db.execute("SELECT position, name FROM sites ORDER BY position").fetchone()
        kits[1][2].kit.site_status(tuple(sites), "gymnase", r.SiteState.OUVERT, "benevole", "cli", present=40,
                                   capacity=120)
        client = create_territory_app(viewer).test_client()
        nodes = [f"!{k.origin:08x}" for k in everyone]

        def page() -> str:
            return client.get("/").get_data(as_text=True)
        assert wait_for(lambda: all(n in page() for n in nodes) and "40/120" in page()
                        and verified(viewer.db(), alert.uid)
                        and viewer.db().execute("SELECT count(DISTINCT origin) FROM kit_health").fetchone()[0] == 9,
                        60), page()
        html = page()
        assert "<script" not in html and "Évacuez la rive" in html and "40/120" in html
        for m, row in enumerate(kits):
            assert f"kit-m{m}" in html   # the backhaul kits, heard over IP
        assert client.post("/").status_code == 405   # read-only
    finally:
        link.stop()
        viewer.close()


def test_a_rogue_client_with_broker_credentials_injects_nothing_kits_trust(tmp_path, broker, signer):
    """Valid broker account, no kit key: garbage, a frame sealed with another key and a
    replayed genuine frame under another node number are all refused; nothing is stored."""
    kit = CoreKit.open(tmp_path / "kit", KIT_KEYS=[MESH_KEY], TRUST_KEYS=[signer[1]])
    link = BrokerService(kit, broker.spec("kit-a"), FAST, seed=1)
    kit.attach_link(link)
    link.start()
    try:
        assert wait_for(lambda: link.status()["state"] == "connected", 20)
        before = kit.db().execute("SELECT count(*) FROM records").fetchone()[0]
        rogue = _client(broker, "rogue")
        wrong = FrameKeys(*_ring(new_kit_key()))
        board = r.Board(origin=0x0BAD0001, seq=1, created_at=1, exercise=False, text="faux message")
        frames = [b"\x00" * 40, wrong.seal(codec.encode(board, sender=0x0BAD0001, own=True)[0], 0x0BAD0001)]
        for frame in frames:
            rogue.publish(f"{PREFIX}/kit/rogue/0bad0001", frame, qos=1).wait_for_publish(5)
        assert wait_for(lambda: link.status()["frames_rejected"] >= len(frames), 10), link.status()
        assert kit.db().execute("SELECT count(*) FROM records").fetchone()[0] == before
        rogue.disconnect()
    finally:
        link.stop()
        kit.close()


def _ring(line: str):
    from kit.core.config import kit_keys_from_text
    return kit_keys_from_text([line])


def _client(broker: Broker, name: str) -> mqtt.Client:
    password = broker.account(name)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{name}", protocol=mqtt.MQTTv311)
    client.username_pw_set(name, password)
    client.tls_set(ca_certs=str(broker.ca))
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


def test_the_acl_keeps_an_account_to_its_own_topic(broker):
    heard: list[str] = []
    observer = _client(broker, "observer")
    observer.on_message = lambda c, u, m: heard.append(m.topic)
    observer.subscribe(f"{PREFIX}/kit/#", qos=1)
    rogue = _client(broker, "rogue")
    try:
        assert wait_for(lambda: observer.is_connected() and rogue.is_connected(), 10)
        rogue.publish(f"{PREFIX}/kit/kit-m0/00000001", b"x", qos=1).wait_for_publish(5)   # another kit's topic
        rogue.publish(f"{PREFIX}/elsewhere", b"x", qos=1).wait_for_publish(5)             # outside its own
        rogue.publish(f"{PREFIX}/kit/rogue/00000002", b"x", qos=1).wait_for_publish(5)    # its own: allowed
        assert wait_for(lambda: heard, 5)
        assert heard == [f"{PREFIX}/kit/rogue/00000002"]
    finally:
        for c in (observer, rogue):
            c.disconnect()
            c.loop_stop()


@pytest.fixture
def two_kits(tmp_path, broker, signer):
    """Kits a (a crisis cell's: it signs) and b, each with its broker link, both connected."""
    key_path, public = signer
    a = CoreKit.open(tmp_path / "a", KIT_KEYS=[MESH_KEY], TRUST_KEYS=[public], SIGNING_KEY=str(key_path))
    b = CoreKit.open(tmp_path / "b", KIT_KEYS=[MESH_KEY], TRUST_KEYS=[public])
    links = []
    for kit, name in ((a, "kit-a"), (b, "kit-b")):
        link = BrokerService(kit, broker.spec(name), FAST, seed=len(links))
        kit.attach_link(link)
        links.append(link.start())
    try:
        assert wait_for(lambda: all(link.status()["state"] == "connected" for link in links), 20)
        yield a, b, links
    finally:
        for link in links:
            link.stop()
        a.close()
        b.close()


def test_a_revoked_kit_is_refused_by_the_broker(two_kits, broker):
    a, b, links = two_kits
    first = a.create_alert(alert_fields("avant"), "cellule", "cli")
    assert wait_for(lambda: verified(b.db(), first.uid), 10)
    broker.revoke("kit-a")
    links[0].stop()                      # the kit restarts (or its connection drops)
    again = BrokerService(a, broker.spec("kit-a"), FAST, seed=7)
    a.links = [again]
    links.append(again.start())   # stopped with the others
    assert wait_for(lambda: again.status()["state"] == "refused", 10), again.status()
    password = a.add_user("cellule", "admin", "test", "cli")   # the crisis cell sees why
    client = create_app({"LISTENER": "admin"}, kit=a).test_client()
    login(client, "cellule", password)
    page = client.get("/admin/").get_data(as_text=True)
    assert "refused" in page and "Not authorized" in page
    later = a.create_alert(alert_fields("après la révocation"), "cellule", "cli")
    assert not wait_for(lambda: verified(b.db(), later.uid), 4)


def test_kit_territory_serves_the_page_from_the_profiles_broker(tmp_path, broker):
    """`kit territory --profile` as a crisis cell runs it: its own account and the
    territory's kit key from the profile; a kit on the broker appears, heard over IP."""
    example = (Path(__file__).resolve().parents[1] / "deploy" / "example-kit.toml").read_text()
    profile = tmp_path / "prefecture.toml"
    profile.write_text(example.replace("# kit_keys = [\"1:...\"]", f'kit_keys = ["{MESH_KEY}"]') + f"""
[federation]
broker = "mqtts://127.0.0.1:{broker.port}"
prefix = "{PREFIX}"
account = "prefecture"
password = "{broker.account('prefecture')}"
ca_file = "{broker.ca}"
""")
    kit = CoreKit.open(tmp_path / "kit", KIT_KEYS=[MESH_KEY])
    link = BrokerService(kit, broker.spec("mairie-07"), FAST, seed=3)
    kit.attach_link(link)
    link.start()
    port = free_port()
    viewer = subprocess.Popen([sys.executable, "-m", "kit", "territory", "--profile", str(profile),
                               "--data", str(tmp_path / "viewer"), "--listen", f"127.0.0.1:{port}"],
                              env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def page() -> str:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
        except OSError:
            return ""
    try:
        node = f"!{kit.origin:08x}"
        assert wait_for(lambda: node in page() and "mairie-07" in page(), 30), page()
    finally:
        viewer.terminate()
        viewer.wait(10)
        link.stop()
        kit.close()


def test_while_the_broker_is_down_the_link_waits_without_spinning_and_loses_nothing(two_kits, broker):
    a, b, links = two_kits
    broker.stop()
    assert wait_for(lambda: links[0].status()["state"] != "connected", 10)
    made = [a.publish(r.Board, text=f"hors ligne {n}").uid for n in range(5)]
    cpu = time.process_time()
    time.sleep(3)
    assert time.process_time() - cpu < 0.5   # frames wait in the engine: no busy loop
    broker.start()
    assert wait_for(lambda: all(b.db().execute("SELECT 1 FROM records WHERE origin = ? AND seq = ?",
                                               list(uid)).fetchone() for uid in made), 30)


def test_a_bug_in_the_broker_loop_is_counted_shown_and_the_link_restarts(two_kits):
    a, b, links = two_kits
    engine = links[1].engine
    real_tick = engine.tick

    def tick_once_broken(now):
        engine.tick = real_tick
        raise RuntimeError("a bug")
    engine.tick = tick_once_broken
    links[1].inbox.put(("wake", None))
    assert wait_for(lambda: links[1].status()["loop_errors"] == 1, 10), links[1].status()
    assert "RuntimeError: a bug" in links[1].status()["error"]
    assert wait_for(lambda: links[1].status()["state"] == "connected", 10)
    uid = a.publish(r.Board, text="après la panne").uid
    assert wait_for(lambda: b.db().execute("SELECT 1 FROM records WHERE origin = ? AND seq = ?",
                                           list(uid)).fetchone(), 10)


@pytest.mark.slow
def test_a_volunteers_text_crosses_to_kits_of_other_meshes(tmp_path, broker):
    """A stock handheld's plain text, shared by its valley's kit as a record, reaches a kit
    that has only IP (item 3 of the issue without the firmware's MQTT proxy)."""
    mesh = Mesh(nodes=2, topology="line", preset=PRESET, speed=SPEED, nodeinfo_delay=1, nodeinfo_stagger=1,
                first_node=0x4B540901)
    mesh.start()
    valley = Kit(tmp_path / "valley", mesh, 0, fast_config(SPEED, PRESET))
    far = CoreKit.open(tmp_path / "far", KIT_KEYS=[MESH_KEY])
    links = []
    handheld = None
    try:
        valley.service.start()
        assert wait_for(lambda: valley.service.status()["state"] == "connected", 20)
        for kit, name in ((valley.kit, "valley"), (far, "far")):
            link = BrokerService(kit, broker.spec(name), FAST, seed=len(links))
            kit.attach_link(link)
            links.append(link.start())
        assert wait_for(lambda: all(link.status()["state"] == "connected" for link in links), 20)
        handheld = connect(mesh, 1)
        mesh.wait_idle(10)
        handheld.sendText("Arbre tombé rue des Saules")
        assert wait_for(lambda: "Arbre tombé rue des Saules" in [m["text"] for m in board_messages(far.db())], 60)
    finally:
        if handheld is not None:
            close_all(handheld)
        for link in links:
            link.stop()
        valley.close()
        far.close()
        mesh.stop()
