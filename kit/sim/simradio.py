"""The radio of a node in simulator mode (`meshtasticd -s`, fw src/platform/portduino/SimRadio.cpp).

There is no shared medium: the API client *is* the air. Each frame the node puts on air is
handed to the client as a SIMULATOR_APP packet (`SimRadio::startSend`): the on-air MeshPacket
fields (from, to, id, hop_limit, hop_start, want_ack, relay_node, next_hop, channel index),
its portnum and payload wrapped in a `Compressed` message. A SIMULATOR_APP packet that the
client sends in is unwrapped and received as if heard over the air, with the rx_snr/rx_rssi the
client put on it (`SimRadio::unpackAndReceive`); everything after that - dedup, relaying, hop
limits, ACKs, NodeInfo, traceroute - is the node's ordinary router.

Like SimRadio without USERPREFS_SIMRADIO_EMULATE_COLLISIONS, reception is immediate and nothing
collides; a transmission still keeps the node busy for its airtime.

Deliberate difference: SimRadio zeroes the Data fields other than portnum/payload; this radio
keeps `request_id`, `want_response`, `reply_id`, `emoji`, `dest`, `source` and `bitfield` on the
SIMULATOR_APP envelope (they are on air on a real radio), so a bridge that copies them (as the
`meshtastic` test harness does for request_id/want_response) carries responses faithfully.
"""
from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError
from meshtastic.protobuf import mesh_pb2, portnums_pb2

from kit.sim import channels as chan
from kit.sim import lora
from kit.sim.medium import UTILISATION_WINDOW_S, Frame

if TYPE_CHECKING:
    from kit.sim.node import SimNode

log = logging.getLogger(__name__)

Port = portnums_pb2.PortNum
# SimRadio::startSend: the Compressed wrapper must fit in Data.payload (233 B): its framing
# (meshtastic_Compressed_size 239 - 233 data bytes) is reserved, a larger payload is sent empty.
LOOPBACK_CAPACITY = 233 - (239 - 233)
UNDECODABLE_KEY = b"\x00kit-sim:undecodable"  # matches no channel: relayed, never decoded
_DATA_FIELDS_KEPT = ("want_response", "dest", "source", "request_id", "reply_id", "emoji", "bitfield")


class SimulatorRadio:
    """A node's radio port in simulator mode (same interface as medium.RadioPort)."""

    simulated = True

    def __init__(self, node: SimNode):
        self.node = node
        self.tx_frames = 0
        self.rx_frames = 0
        self.rx_bad = 0
        self._airtime: deque[tuple[float, float]] = deque()  # (start, end) heard or sent

    # -- the RadioPort interface used by SimNode ------------------------------------------
    def busy(self) -> bool:
        return False  # reception is instantaneous: the channel is never seen active

    def channel_util_percent(self) -> float:
        now = self.node.scheduler.now()
        start = now - UTILISATION_WINDOW_S
        while self._airtime and self._airtime[0][1] < start:
            self._airtime.popleft()
        heard = sum(max(0.0, min(e, now) - max(s, start)) for s, e in self._airtime)
        return 100.0 * heard / UTILISATION_WINDOW_S

    def transmit(self, frame: Frame) -> None:
        now = self.node.scheduler.now()
        self._airtime.append((now, now + frame.airtime))
        self.tx_frames += 1
        envelope = self.wrap(frame)
        log.debug("tx %s", _describe(frame.packet))
        api = self.node.api
        api.queue_status(0, envelope.id)  # service->sendQueueStatusToPhone(..., 0, p->id)
        api.deliver(envelope)  # service->sendToPhone(p): "Sending back to simulator"

    # -- SIMULATOR_APP encoding -------------------------------------------------------------
    def _channel_index(self, frame: Frame) -> int | None:
        for ch in self.node.state.channels:
            if ch.role == ch.Role.DISABLED:
                continue
            if chan.identity(ch.settings, self.node.preset) == (frame.packet.channel, frame.key):
                return ch.index
        return None

    def wrap(self, frame: Frame) -> mesh_pb2.MeshPacket:
        """The SIMULATOR_APP packet for a frame going on air."""
        inner = frame.packet.decoded
        envelope = mesh_pb2.MeshPacket()
        envelope.CopyFrom(frame.packet)
        envelope.ClearField("decoded")
        compressed = mesh_pb2.Compressed()
        index = self._channel_index(frame)
        if index is None:
            # A frame we cannot decode (relaying someone else's channel): carried opaque, the
            # channel field keeps the on-air hash (fw: UNKNOWN_APP sentinel + ciphertext).
            compressed.portnum = Port.UNKNOWN_APP
            compressed.data = inner.SerializeToString()
        else:
            envelope.channel = index  # perhapsDecode() left the channel index on the packet
            compressed.portnum = inner.portnum
            if len(inner.payload) <= LOOPBACK_CAPACITY:
                compressed.data = inner.payload
            else:
                log.warning("Payload size larger than compressed message allows! Send empty payload")
        envelope.decoded.portnum = Port.SIMULATOR_APP
        envelope.decoded.payload = compressed.SerializeToString()
        if index is not None:
            for name in _DATA_FIELDS_KEPT:
                setattr(envelope.decoded, name, getattr(inner, name))
        return envelope

    def unwrap(self, p: mesh_pb2.MeshPacket) -> Frame | None:
        """The frame 'heard' from a SIMULATOR_APP packet, or None when it does not decode."""
        compressed = mesh_pb2.Compressed()
        try:
            compressed.ParseFromString(p.decoded.payload)
        except DecodeError:
            log.error("Error decoding proto for simulator message!")
            return None
        packet = mesh_pb2.MeshPacket()
        packet.CopyFrom(p)
        packet.ClearField("rx_snr")
        packet.ClearField("rx_rssi")
        packet.ClearField("rx_time")
        node = self.node
        channels = node.state.channels
        if compressed.portnum == Port.UNKNOWN_APP:
            data = mesh_pb2.Data()
            try:
                data.ParseFromString(compressed.data)
            except DecodeError:
                data = mesh_pb2.Data()
            packet.decoded.CopyFrom(data)
            key = UNDECODABLE_KEY
        else:
            packet.decoded.portnum = compressed.portnum
            packet.decoded.payload = compressed.data
            index = p.channel
            if 0 <= index < len(channels) and channels[index].role != channels[index].Role.DISABLED:
                settings = channels[index].settings
                packet.channel = chan.channel_hash(settings, node.preset)
                key = chan.expanded_key(settings.psk)
            else:
                key = UNDECODABLE_KEY
        airtime = lora.frame_airtime_s(packet.decoded.ByteSize(), node.preset)
        return Frame(packet, key, node.preset, airtime)

    def unpack_and_receive(self, p: mesh_pb2.MeshPacket) -> None:
        """A SIMULATOR_APP packet from the client: received as if over LoRa."""
        frame = self.unwrap(p)
        log.debug("rx %s", _describe(frame.packet) if frame else "undecodable")
        if frame is None:
            self.rx_bad += 1
            return
        self.rx_frames += 1
        now = self.node.scheduler.now()
        self._airtime.append((now - frame.airtime, now))
        self.node.on_air_receive(frame, p.rx_snr, p.rx_rssi)


def _describe(p: mesh_pb2.MeshPacket) -> str:
    return (f"from=!{getattr(p, 'from'):08x} to=!{p.to:08x} id={p.id:#010x} port={p.decoded.portnum} "
            f"hop={p.hop_limit}/{p.hop_start} request_id={p.decoded.request_id:#x}")
