"""Stream API framing of the simulated radio: golden bytes (START1 0x94, START2 0xC3, 16-bit length: meshtastic/python stream_interface.py), resync,
oversize lengths, truncated frames and random garbage against the live TCP server."""
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from meshtastic.protobuf import mesh_pb2

from kit.sim import Mesh
from kit.sim.framing import FrameDecoder, encode_frame

GOLDEN_TO_RADIO = [
    (mesh_pb2.ToRadio(want_config_id=0x12345678), "94c3000618f8acd19101"),
    (mesh_pb2.ToRadio(heartbeat=mesh_pb2.Heartbeat()), "94c300023a00"),
    (mesh_pb2.ToRadio(disconnect=True), "94c300022001"),
]


def _hi_text() -> mesh_pb2.ToRadio:
    msg = mesh_pb2.ToRadio()
    msg.packet.to = 0xFFFFFFFF
    msg.packet.decoded.portnum = 1
    msg.packet.decoded.payload = b"hi"
    msg.packet.id = 0x01020304
    msg.packet.hop_limit = 3
    return msg


GOLDEN_TO_RADIO.append((_hi_text(), "94c300160a1415ffffffff220608011202686935040302014803"))

GOLDEN_FROM_RADIO = [
    (mesh_pb2.FromRadio(my_info=mesh_pb2.MyNodeInfo(my_node_num=0x0A0A0A0A)), "94c300071a05088a94a850"),
    (mesh_pb2.FromRadio(config_complete_id=0x12345678), "94c3000638f8acd19101"),
]


@pytest.mark.parametrize("msg, golden", GOLDEN_TO_RADIO + GOLDEN_FROM_RADIO)
def test_golden_frames_encode_and_decode(msg, golden):
    frame = bytes.fromhex(golden)
    assert encode_frame(msg.SerializeToString()) == frame
    assert FrameDecoder().feed(frame) == [msg.SerializeToString()]


def test_golden_queue_status():
    frame = bytes.fromhex("94c3000c5a0a1010181020effdb6f50d")
    (payload,) = FrameDecoder().feed(frame)
    status = mesh_pb2.FromRadio.FromString(payload).queueStatus
    assert (status.free, status.maxlen, status.res) == (16, 16, 0)
    assert encode_frame(mesh_pb2.FromRadio(queueStatus=status).SerializeToString()) == frame


def test_resync_after_garbage_and_oversize_length():
    decoder = FrameDecoder()
    heartbeat = bytes.fromhex("94c300023a00")
    stream = b"log line\r\n" + bytes([0xC3] * 32) + bytes.fromhex("94c30fff") + heartbeat
    assert decoder.feed(stream) == [b"\x3a\x00"]
    assert decoder.garbage_bytes == len(b"log line\r\n") + 32
    assert decoder.oversize_headers == 1


def test_frames_split_across_reads():
    decoder = FrameDecoder()
    frame = bytes.fromhex(GOLDEN_TO_RADIO[3][1])
    out = [f for byte in frame for f in decoder.feed(bytes([byte]))]
    assert out == [frame[4:]]


def test_truncated_frame_waits_for_the_rest():
    decoder = FrameDecoder()
    assert decoder.feed(bytes.fromhex("94c3000618f8ac")) == []
    assert decoder.pending == 7
    assert decoder.feed(bytes.fromhex("d19101")) == [bytes.fromhex("18f8acd19101")]


# -- against the live server ---------------------------------------------------------------

def _read_until_config_complete(sock: socket.socket, nonce: int, timeout: float = 5.0) -> list:
    sock.settimeout(timeout)
    decoder = FrameDecoder()
    messages = []
    while True:
        data = sock.recv(4096)
        assert data, "server closed the connection"
        for payload in decoder.feed(data):
            msg = mesh_pb2.FromRadio.FromString(payload)
            messages.append(msg)
            if msg.config_complete_id == nonce:
                return messages


@pytest.fixture(scope="module")
def mesh():
    with Mesh(1, "line", preset="SHORT_FAST", speed=50, nodeinfo_delay=1) as m:
        yield m


def test_server_resyncs_after_garbage_and_counts_it(mesh):
    server = mesh.servers[0]
    before = server.stats.garbage_bytes, server.stats.oversize_headers
    with socket.create_connection(("127.0.0.1", mesh.port(0))) as sock:
        sock.sendall(b"\x00garbage" + bytes.fromhex("94c30fff") + encode_frame(
            mesh_pb2.ToRadio(want_config_id=777).SerializeToString()))
        messages = _read_until_config_complete(sock, 777)
    assert messages[0].HasField("my_info")
    assert server.stats.garbage_bytes - before[0] == 8
    assert server.stats.oversize_headers - before[1] == 1


def test_malformed_protobuf_is_counted_and_ignored(mesh):
    api = mesh.node(0).api
    before = api.malformed
    with socket.create_connection(("127.0.0.1", mesh.port(0))) as sock:
        sock.sendall(encode_frame(b"\xff\xff\xff\xff"))  # invalid wire type
        sock.sendall(encode_frame(mesh_pb2.ToRadio(want_config_id=778).SerializeToString()))
        _read_until_config_complete(sock, 778)
    assert api.malformed == before + 1


def test_truncated_frame_then_hangup_leaves_server_usable(mesh):
    with socket.create_connection(("127.0.0.1", mesh.port(0))) as sock:
        sock.sendall(bytes.fromhex("94c3004018f8"))
    with socket.create_connection(("127.0.0.1", mesh.port(0))) as sock:
        sock.sendall(encode_frame(mesh_pb2.ToRadio(want_config_id=779).SerializeToString()))
        assert _read_until_config_complete(sock, 779)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(min_size=1, max_size=600))
def test_random_garbage_never_crashes_the_server(mesh, garbage):
    with socket.create_connection(("127.0.0.1", mesh.port(0))) as sock:
        sock.sendall(garbage)
        # Whatever the garbage left half-parsed, enough 0xC3 bytes (what the python client sends
        # on connect) and a fresh frame must get a complete handshake back.
        sock.sendall(bytes([0xC3]) * 520 + encode_frame(
            mesh_pb2.ToRadio(want_config_id=4242).SerializeToString()))
        assert _read_until_config_complete(sock, 4242)
    assert mesh.scheduler.errors == 0
