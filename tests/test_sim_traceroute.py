"""Traceroute on the simulated mesh (fw TraceRouteModule): the route both ways, SNR in quarter dB."""
from meshtastic.protobuf import mesh_pb2

from kit.sim import Mesh, traceroute
from kit.sim.testing import Received, close_all, connect, wait_until


def test_route_and_route_back_across_a_relay_with_snr_lists():
    with Mesh(3, "line", preset="MEDIUM_FAST", speed=20, nodeinfo_delay=1, nodeinfo_stagger=3,
              seed=3, snr=6.5) as mesh:
        ifaces = [connect(mesh, i) for i in range(3)]
        try:
            assert wait_until(lambda: all(len(i.nodes) == 3 for i in ifaces), 15)
            assert mesh.wait_idle(10)
            with Received("meshtastic.receive.traceroute", ifaces[0]) as at_a, \
                    Received("meshtastic.receive.traceroute", ifaces[2]) as at_c:
                ifaces[0].sendTraceRoute(dest=mesh.node_num(2), hopLimit=3)
                response = at_a.wait(timeout=10)
                request = at_c.wait(timeout=1)
            assert response is not None and request is not None
            middle = mesh.node_num(1)
            assert response["from"] == mesh.node_num(2)
            route = response["decoded"]["traceroute"]
            assert route["route"] == [middle]
            assert route["routeBack"] == [middle]
            assert route["snrTowards"] == [26, 26]  # int8(6.5 * 4), relay then destination
            assert route["snrBack"] == [26, 26]
            assert request["from"] == mesh.node_num(0)
            assert request["decoded"]["traceroute"]["route"] == [middle]
            assert request["decoded"]["traceroute"]["snrTowards"] == [26, 26]
        finally:
            close_all(*ifaces)
        assert mesh.scheduler.errors == 0


def test_unknown_hops_are_filled_in():
    # A packet that took 2 hops but carries no recorded hop: two unknown entries, then ours.
    p = mesh_pb2.MeshPacket(to=0xFFFFFFFF, hop_start=3, hop_limit=1)
    p.decoded.portnum = 70
    p.decoded.payload = mesh_pb2.RouteDiscovery().SerializeToString()
    assert traceroute.alter_received(p, 0x1234, -3.3)
    r = mesh_pb2.RouteDiscovery.FromString(p.decoded.payload)
    assert list(r.route) == [traceroute.UNKNOWN_HOP, traceroute.UNKNOWN_HOP, 0x1234]
    assert list(r.snr_towards) == [-128, -128, -13]  # (int8_t)(-3.3 * 4) truncates to -13


def test_response_fills_route_back_and_destination_adds_snr_only():
    p = mesh_pb2.MeshPacket(to=0x10, hop_start=3, hop_limit=3)
    p.decoded.portnum = 70
    p.decoded.request_id = 99
    p.decoded.payload = mesh_pb2.RouteDiscovery(route=[0x11], snr_towards=[40, 40]).SerializeToString()
    assert traceroute.alter_received(p, 0x10, 10.0)
    r = mesh_pb2.RouteDiscovery.FromString(p.decoded.payload)
    assert list(r.route_back) == [] and list(r.snr_back) == [40]
    assert list(r.route) == [0x11]
