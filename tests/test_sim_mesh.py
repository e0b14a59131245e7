"""The real `meshtastic` library against a simulated line of three radios (no mocks)."""
import socket

import pytest
from meshtastic.protobuf import config_pb2, mesh_pb2

from kit.sim import Mesh
from kit.sim.framing import FrameDecoder, encode_frame
from kit.sim.testing import Received, close_all, connect, wait_until

PRIVATE_APP = 256
TEXT_MESSAGE_APP = 1


def fast_line(**kwargs) -> Mesh:
    """Three kits in a line on MEDIUM_FAST, 20x real time, quick staggered NodeInfo."""
    args = dict(preset="MEDIUM_FAST", speed=20, nodeinfo_delay=1, nodeinfo_stagger=3, seed=1)
    args.update(kwargs)
    return Mesh(3, "line", **args)


@pytest.fixture(scope="module")
def line():
    with fast_line() as mesh:
        ifaces = [connect(mesh, i) for i in range(3)]
        assert wait_until(lambda: all(len(i.nodes) == 3 for i in ifaces), 15)
        assert mesh.wait_idle(10)
        yield mesh, ifaces
        close_all(*ifaces)
        assert mesh.scheduler.errors == 0


def test_handshake_shows_my_info_nodes_channels_and_lora(line):
    mesh, _ = line
    iface = connect(mesh, 1)  # a fresh handshake now that the node DB is full
    try:
        assert iface.myInfo.my_node_num == mesh.node_num(1)
        assert {n["num"] for n in iface.nodes.values()} == {mesh.node_num(i) for i in range(3)}
        assert iface.nodes[f"!{mesh.node_num(0):08x}"]["user"]["longName"] == "Sim node 0"
        lora = iface.localNode.localConfig.lora
        assert lora.region == config_pb2.Config.LoRaConfig.RegionCode.EU_868
        assert lora.modem_preset == config_pb2.Config.LoRaConfig.ModemPreset.MEDIUM_FAST
        assert lora.hop_limit == 3
        assert len(iface.localNode.channels) == 8
        assert iface.localNode.channels[0].role == 1  # PRIMARY
    finally:
        iface.close()


def test_broadcast_text_is_relayed_with_hop_limit_decremented(line):
    mesh, ifaces = line
    with Received("meshtastic.receive.text", ifaces[2]) as at_far_end:
        ifaces[0].sendText("bonjour la mairie")
        packet = at_far_end.wait(lambda p: p["decoded"]["text"] == "bonjour la mairie")
    assert packet is not None
    assert packet["from"] == mesh.node_num(0)
    assert packet["fromId"] == f"!{mesh.node_num(0):08x}"
    assert (packet["hopStart"], packet["hopLimit"]) == (3, 2)
    assert packet["relayNode"] == mesh.node_num(1) & 0xFF


def test_private_app_arrives_on_its_pubsub_topic(line):
    mesh, ifaces = line
    assert mesh.wait_idle(10)
    with Received("meshtastic.receive.data.PRIVATE_APP", ifaces[2]) as at_far_end:
        ifaces[0].sendData(b"\x01kit-frame", portNum=PRIVATE_APP)
        packet = at_far_end.wait(lambda p: p["decoded"]["payload"] == b"\x01kit-frame")
    assert packet is not None and packet["hopLimit"] == 2


def test_direct_message_with_want_ack_gets_ack_from_destination(line):
    mesh, ifaces = line
    assert mesh.wait_idle(10)
    answers = []
    sent = ifaces[0].sendData(b"dm", destinationId=mesh.node_num(2), portNum=PRIVATE_APP,
                              wantAck=True, onResponse=answers.append,
                              onResponseAckPermitted=True)
    assert wait_until(lambda: answers, 15)
    ack = answers[0]
    assert ack["from"] == mesh.node_num(2)
    assert ack["decoded"]["requestId"] == sent.id
    assert ack["decoded"]["routing"].get("errorReason", "NONE") == "NONE"


def _nak_reason(iface, destination, payload, portnum=PRIVATE_APP, timeout=15.0, **kwargs):
    answers = []
    iface.sendData(payload, destinationId=destination, portNum=portnum,
                   onResponse=answers.append, **kwargs)
    assert wait_until(lambda: answers, timeout), "no routing answer"
    return answers[0]


def test_direct_message_to_unreachable_node_gets_max_retransmit(line):
    mesh, ifaces = line
    nak = _nak_reason(ifaces[0], 0x0BADCAFE, b"anyone?", wantAck=True)
    assert nak["from"] == mesh.node_num(0)  # the local radio gives up
    assert nak["decoded"]["routing"]["errorReason"] == "MAX_RETRANSMIT"


def test_oversize_payload_gets_too_large(line):
    mesh, ifaces = line
    nak = _nak_reason(ifaces[0], 0xFFFFFFFF, b"x" * 233, portnum=TEXT_MESSAGE_APP)
    assert nak["decoded"]["routing"]["errorReason"] == "TOO_LARGE"
    assert mesh.node(0).api.malformed == 0


def test_largest_private_payload_passes():
    # fw gate: encoded Data (+2-byte bitfield) + 16 <= 255 -> 231 B on PRIVATE_APP
    with Mesh(1, "line", preset="SHORT_FAST", speed=20, nodeinfo_delay=100) as mesh:
        iface = connect(mesh, 0)
        try:
            answers = []
            iface.sendData(b"y" * 231, portNum=PRIVATE_APP, onResponse=answers.append)
            assert wait_until(lambda: mesh.stats(0).tx_frames == 1, 5)
            assert answers == []
            nak = _nak_reason(iface, 0xFFFFFFFF, b"y" * 232)
            assert nak["decoded"]["routing"]["errorReason"] == "TOO_LARGE"
        finally:
            iface.close()


def test_text_rate_limit_but_private_app_unlimited():
    with Mesh(2, "full", preset="SHORT_FAST", speed=1, nodeinfo_delay=100) as mesh:
        iface = connect(mesh, 0)
        try:
            iface.sendText("one")
            nak = _nak_reason(iface, 0xFFFFFFFF, b"two", portnum=TEXT_MESSAGE_APP)
            assert nak["decoded"]["routing"]["errorReason"] == "RATE_LIMIT_EXCEEDED"
            answers = []
            for i in range(3):
                iface.sendData(b"p%d" % i, portNum=PRIVATE_APP, onResponse=answers.append)
            assert wait_until(lambda: mesh.stats(0).tx_frames == 4, 5)
            assert answers == []
        finally:
            iface.close()


def test_loss_on_a_link_blocks_it_and_partition_heals():
    with fast_line() as mesh:
        ifaces = [connect(mesh, i) for i in (0, 2)]
        try:
            with Received("meshtastic.receive.data.PRIVATE_APP", ifaces[1]) as far:
                mesh.set_loss(1, 2, 1.0)
                ifaces[0].sendData(b"lost", portNum=PRIVATE_APP)
                assert wait_until(lambda: mesh.stats(2).rx_lost >= 1, 5)
                mesh.set_loss(1, 2, 0.0)
                mesh.partition({0}, {1, 2})
                ifaces[0].sendData(b"cut", portNum=PRIVATE_APP)
                assert mesh.wait_idle(5)
                assert far.wait(timeout=0.3) is None
                mesh.heal()
                ifaces[0].sendData(b"healed", portNum=PRIVATE_APP)
                packet = far.wait(timeout=10)
                assert packet is not None and packet["decoded"]["payload"] == b"healed"
        finally:
            close_all(*ifaces)


def _raw_handshake(port: int, nonce: int = 1234) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(5)
    sock.sendall(encode_frame(mesh_pb2.ToRadio(want_config_id=nonce).SerializeToString()))
    decoder = FrameDecoder()
    while not any(mesh_pb2.FromRadio.FromString(f).config_complete_id == nonce
                  for f in decoder.feed(sock.recv(4096))):
        pass
    return sock


def test_second_tcp_client_force_closes_the_first():
    with Mesh(1, "line", preset="SHORT_FAST", speed=20, nodeinfo_delay=100) as mesh:
        first = _raw_handshake(mesh.port(0))
        second = connect(mesh, 0)
        try:
            first.settimeout(5)
            while True:  # the server's handshake leftovers, then EOF
                if first.recv(4096) == b"":
                    break
            assert second.myInfo.my_node_num == mesh.node_num(0)
            assert mesh.servers[0].stats.connections == 2
        finally:
            first.close()
            second.close()


def test_unplug_and_replug_a_radio():
    with fast_line() as mesh:
        far = connect(mesh, 2)
        try:
            with Received("meshtastic.receive.data.PRIVATE_APP", far) as at_far_end:
                assert mesh.wait_idle(10)
                middle = connect(mesh, 1)
                assert middle.myInfo.reboot_count == 0
                middle.close()
                mesh.unplug(1)
                with pytest.raises(OSError):
                    socket.create_connection(("127.0.0.1", mesh.port(1)), timeout=1)
                near = connect(mesh, 0)
                near.sendData(b"while unplugged", portNum=PRIVATE_APP)
                assert at_far_end.wait(timeout=0.5) is None  # the relay is unpowered
                mesh.replug(1)
                middle = connect(mesh, 1)
                assert middle.myInfo.reboot_count == 1
                assert mesh.wait_idle(10)
                near.sendData(b"after replug", portNum=PRIVATE_APP)
                assert at_far_end.wait(lambda p: p["decoded"]["payload"] == b"after replug")
                close_all(middle, near)
        finally:
            far.close()
        assert mesh.scheduler.errors == 0


def test_stop_leaks_no_threads_and_frees_ports():
    import threading

    before = set(threading.enumerate())
    mesh = fast_line()
    mesh.start()
    iface = connect(mesh, 0)
    iface.close()
    ports = [mesh.port(i) for i in range(3)]
    mesh.stop()
    leftovers = [t.name for t in set(threading.enumerate()) - before
                 if t.name.startswith(("sim-api", "kit-sim"))]
    assert leftovers == []
    for port in ports:  # the listeners are gone: the ports can be bound again
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
