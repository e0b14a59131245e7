"""Traceroute module (fw src/modules/TraceRouteModule.cpp), for both radios of the simulator.

The module is promiscuous: every node that decodes a TRACEROUTE_APP packet rewrites its
RouteDiscovery before the packet is relayed or delivered.

* A request (no `request_id`) fills `route` / `snr_towards`; a response fills `route_back` /
  `snr_back`.
* Hops that did not record themselves (hop_start - hop_limit larger than the list) are filled
  with 0xFFFFFFFF and their SNR with -128 (insertUnknownHops).
* Each node appends the SNR it heard the packet with, as int8 quarter-dB (snr * 4), and, unless
  the packet is addressed to it, its own node number (appendMyIDandSNR).
* The destination answers a request with the request's (already updated) RouteDiscovery:
  same channel, `request_id` = request id, the request's want_ack, hop limit for a response
  (MeshModule::setReplyTo + TraceRouteModule::allocReply).
"""
from __future__ import annotations

from google.protobuf.message import DecodeError
from meshtastic.protobuf import mesh_pb2

ROUTE_SIZE = 8  # fw mesh.options: RouteDiscovery.route max_count
UNKNOWN_HOP = 0xFFFFFFFF  # NODENUM_BROADCAST stands for a hop that did not record itself
UNKNOWN_SNR = -128  # INT8_MIN


def _lists(r: mesh_pb2.RouteDiscovery, towards: bool):
    return (r.route, r.snr_towards) if towards else (r.route_back, r.snr_back)


def insert_unknown_hops(p: mesh_pb2.MeshPacket, r: mesh_pb2.RouteDiscovery, towards: bool) -> None:
    route, snrs = _lists(r, towards)
    if p.hop_start != 0 and p.hop_limit <= p.hop_start:
        hops_taken = p.hop_start - p.hop_limit
        for _ in range(hops_taken - len(route)):
            if len(route) < ROUTE_SIZE:
                route.append(UNKNOWN_HOP)
        for _ in range(len(route) - len(snrs)):
            if len(snrs) < ROUTE_SIZE:
                snrs.append(UNKNOWN_SNR)


def snr_to_int8(snr: float) -> int:
    """(int8_t)(snr * 4): truncation towards zero, clamped to the int8 range."""
    return max(-128, min(127, int(snr * 4)))


def append_id_and_snr(r: mesh_pb2.RouteDiscovery, my_num: int, snr: float, towards: bool,
                      snr_only: bool) -> None:
    route, snrs = _lists(r, towards)
    if len(snrs) < ROUTE_SIZE:
        snrs.append(snr_to_int8(snr))
    if snr_only:
        return
    if len(route) < ROUTE_SIZE:
        route.append(my_num)


def alter_received(p: mesh_pb2.MeshPacket, my_num: int, snr: float) -> bool:
    """Update a received TRACEROUTE_APP packet in place (TraceRouteModule::alterReceivedProtobuf).
    Returns False when the payload is not a RouteDiscovery (left untouched)."""
    r = mesh_pb2.RouteDiscovery()
    try:
        r.ParseFromString(p.decoded.payload)
    except DecodeError:
        return False
    towards = p.decoded.request_id == 0
    insert_unknown_hops(p, r, towards)
    append_id_and_snr(r, my_num, snr, towards, snr_only=p.to == my_num)
    p.decoded.payload = r.SerializeToString()
    return True


def reply_payload(request: mesh_pb2.MeshPacket) -> bytes:
    """The destination's answer: the request's RouteDiscovery as it stands (allocReply)."""
    r = mesh_pb2.RouteDiscovery()
    try:
        r.ParseFromString(request.decoded.payload)
    except DecodeError:
        pass
    return r.SerializeToString()
