"""The client side of a node: handshake, packets from/to the client, rate limits, buffering.

Follows fw src/mesh/PhoneAPI.cpp (state machine order, nonces, rate limits, recent ids,
heartbeat) and MeshService.cpp (QueueStatus per packet, the to-phone queue while detached).
The transport (TCP) only hands whole ToRadio frames in and takes FromRadio bytes out.
"""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Protocol

from google.protobuf.message import DecodeError
from meshtastic.protobuf import config_pb2, mesh_pb2, module_config_pb2, portnums_pb2

if TYPE_CHECKING:
    from kit.sim.node import SimNode


SPECIAL_NONCE_ONLY_CONFIG = 69420  # everything but the other nodes
SPECIAL_NONCE_ONLY_NODES = 69421  # own node, other nodes, complete
MAX_RX_TOPHONE = 32  # v2.7.26 to-phone queue while no client is reading
RECENT_IDS = 20  # PhoneAPI::wasSeenRecently keeps the last 20 ids
FIRMWARE_VERSION = "2.7.26.kitsim"
MIN_APP_VERSION = 30200
DEVICE_STATE_VERSION = 24

Port = portnums_pb2.PortNum
Err = mesh_pb2.Routing.Error

# PhoneAPI::handleToRadioPacket per-port limits, seconds between two packets from the client.
TEN_SECOND_PORTS = {Port.POSITION_APP, Port.WAYPOINT_APP, Port.ALERT_APP, Port.TELEMETRY_APP}
TEXT_INTERVAL_S = 2.0
TEN_SECONDS = 10.0
TRACEROUTE_INTERVAL_S = 30.0


class Client(Protocol):
    def send(self, payload: bytes) -> None: ...
    def close(self) -> None: ...


class PhoneAPI:
    def __init__(self, node: "SimNode"):
        self.node = node
        self.client: Client | None = None
        self.sending_packets = False  # STATE_SEND_PACKETS: handshake done, packets flow
        self.to_phone: deque[mesh_pb2.MeshPacket] = deque()
        self.recent_ids: deque[int] = deque(maxlen=RECENT_IDS)
        self.last_port_time: dict[int, float] = {}
        self.malformed = 0  # ToRadio frames that did not decode
        self.dropped_to_phone = 0
        self._last_reported_free: int | None = None

    # -- connection ---------------------------------------------------------------------
    def attach(self, client: Client) -> None:
        """A new client replaces the old one (fw ServerAPI: one client at a time)."""
        if self.client is not None and self.client is not client:
            self.client.close()
        self.client = client
        self._close_state()

    def detach(self, client: Client) -> None:
        if self.client is client:
            self.client = None
            self._close_state()

    def _close_state(self) -> None:
        """PhoneAPI::close: back to STATE_SEND_NOTHING, per-client limits forgotten."""
        self.sending_packets = False
        self.last_port_time.clear()

    def _send(self, msg: mesh_pb2.FromRadio) -> None:
        if self.client is not None:
            self.client.send(msg.SerializeToString())

    # -- ToRadio --------------------------------------------------------------------------
    def handle_to_radio(self, client: Client, raw: bytes) -> None:
        if client is not self.client:
            return  # a frame that raced a force-close
        msg = mesh_pb2.ToRadio()
        try:
            msg.ParseFromString(raw)
        except DecodeError:
            self.malformed += 1  # "Error: ignore malformed toradio"
            return
        which = msg.WhichOneof("payload_variant")
        if which == "packet":
            self._handle_packet(msg.packet)
        elif which == "want_config_id":
            self._send_config(msg.want_config_id)
        elif which == "disconnect":
            self._close_state()
        elif which == "heartbeat":
            if msg.heartbeat.nonce == 1:  # "nodeinfo ping"
                self.node.send_nodeinfo(want_response=False)
            else:
                self.queue_status(0, 0, force=True)

    def _was_seen_recently(self, packet_id: int) -> bool:
        if packet_id in self.recent_ids:
            return True
        self.recent_ids.append(packet_id)
        return False

    def _rate_limited(self, p: mesh_pb2.MeshPacket) -> bool:
        port = p.decoded.portnum
        now = self.node.scheduler.now()
        last = self.last_port_time.get(port)
        within = lambda span: last is not None and now - last < span  # noqa: E731
        if port == Port.TRACEROUTE_APP and within(TRACEROUTE_INTERVAL_S):
            self.notify("TraceRoute can only be sent once every 30 seconds", p.id)
            self.queue_status(0, p.id)
            return True
        if port == Port.TRACEROUTE_APP and p.to == 0xFFFFFFFF and p.hop_limit > 0:
            self.notify("Multi-hop traceroute to broadcast address is not allowed", p.id)
            self.queue_status(0, p.id)
            return True
        if port in TEN_SECOND_PORTS and within(TEN_SECONDS):
            self.queue_status(0, p.id)  # dropped, yet looks like success to the client
            return True
        if port == Port.TEXT_MESSAGE_APP and within(TEXT_INTERVAL_S):
            self.queue_status(0, p.id)
            nak = mesh_pb2.MeshPacket()
            nak.CopyFrom(p)
            setattr(nak, "from", self.node.node_num)
            self.node.nak_to_client(Err.RATE_LIMIT_EXCEEDED, nak)
            return True
        return False

    def _handle_packet(self, p: mesh_pb2.MeshPacket) -> None:
        """PhoneAPI::handleToRadioPacket then MeshService::handleToRadio/sendToMesh."""
        simulator = self.node.simulator
        # "For use with the simulator, we should not ignore duplicate packets from the phone"
        if not simulator and p.id > 0 and self._was_seen_recently(p.id):
            return  # silently: no QueueStatus either
        if self._rate_limited(p):
            return
        if p.decoded.portnum == Port.TRACEROUTE_APP and p.to != 0xFFFFFFFF:
            p.want_ack = True
        self.last_port_time[p.decoded.portnum] = self.node.scheduler.now()
        if simulator and p.decoded.portnum == Port.SIMULATOR_APP:
            # MeshService::handleToRadio: heard over the air (SimRadio::unpackAndReceive),
            # no QueueStatus and no rewriting of from/id.
            self.node.radio.unpack_and_receive(p)
            return
        res = self.node.send_from_client(p)
        self.queue_status(res, p.id)

    # -- FromRadio ------------------------------------------------------------------------
    def queue_status(self, res: int, packet_id: int, force: bool = False) -> None:
        free = max(0, 16 - len(self.node.tx_queue))
        self._last_reported_free = free
        if self.sending_packets or force:
            status = mesh_pb2.QueueStatus(res=res, free=free, maxlen=16, mesh_packet_id=packet_id)
            self._send(mesh_pb2.FromRadio(queueStatus=status))

    def on_queue_space(self) -> None:
        """MeshService::loop: tell a client that saw a full queue when space frees up."""
        if self._last_reported_free == 0 and len(self.node.tx_queue) < 16:
            self.queue_status(0, 0)

    def notify(self, message: str, reply_id: int = 0) -> None:
        if self.sending_packets:
            note = mesh_pb2.ClientNotification(reply_id=reply_id, time=self.node.sim_epoch(),
                                               level=mesh_pb2.LogRecord.Level.WARNING,
                                               message=message)
            self._send(mesh_pb2.FromRadio(clientNotification=note))

    def deliver(self, p: mesh_pb2.MeshPacket) -> None:
        """A packet for the client; buffered while nobody is reading (MeshService::sendToPhone)."""
        if self.sending_packets and self.client is not None:
            self._send(mesh_pb2.FromRadio(packet=p))
            return
        if len(self.to_phone) >= MAX_RX_TOPHONE:
            if p.decoded.portnum in (Port.TEXT_MESSAGE_APP, Port.RANGE_TEST_APP):
                self.to_phone.popleft()  # discard the oldest to keep the newest text
            else:
                self.dropped_to_phone += 1
                return
        self.to_phone.append(p)

    def on_reboot(self, tell_client: bool = True) -> None:
        if tell_client and self.client is not None:
            self._send(mesh_pb2.FromRadio(rebooted=True))
        self._close_state()
        self.to_phone.clear()  # RAM is lost

    # -- the handshake ----------------------------------------------------------------------
    def _send_config(self, nonce: int) -> None:
        """Everything the state machine would emit, in its fixed order, then the buffer."""
        self.sending_packets = False
        node = self.node
        state = node.state
        if nonce != SPECIAL_NONCE_ONLY_NODES:
            my_info = mesh_pb2.MyNodeInfo(my_node_num=node.node_num,
                                          reboot_count=state.reboot_count,
                                          min_app_version=MIN_APP_VERSION, pio_env="native",
                                          nodedb_count=len(state.node_db) + 1)
            self._send(mesh_pb2.FromRadio(my_info=my_info))
            ui = mesh_pb2.FromRadio()
            ui.deviceuiConfig.SetInParent()
            self._send(ui)
        self._send(mesh_pb2.FromRadio(node_info=node.own_node_info()))
        if nonce != SPECIAL_NONCE_ONLY_NODES:
            self._send(mesh_pb2.FromRadio(metadata=self.metadata()))
            for channel in state.channels:
                self._send(mesh_pb2.FromRadio(channel=channel))
            for field in config_pb2.Config.DESCRIPTOR.oneofs_by_name["payload_variant"].fields:
                msg = mesh_pb2.FromRadio()
                section = getattr(msg.config, field.name)
                if field.name in state.config.DESCRIPTOR.fields_by_name:
                    section.CopyFrom(getattr(state.config, field.name))
                section.SetInParent()
                self._send(msg)
            for field in module_config_pb2.ModuleConfig.DESCRIPTOR.oneofs_by_name["payload_variant"].fields:
                msg = mesh_pb2.FromRadio()
                section = getattr(msg.moduleConfig, field.name)
                section.CopyFrom(getattr(state.module_config, field.name))
                section.SetInParent()
                self._send(msg)
        if nonce != SPECIAL_NONCE_ONLY_CONFIG:
            for info in node.known_nodes():
                self._send(mesh_pb2.FromRadio(node_info=info))
        self._send(mesh_pb2.FromRadio(config_complete_id=nonce))
        self.sending_packets = True
        while self.to_phone and self.client is not None:
            self._send(mesh_pb2.FromRadio(packet=self.to_phone.popleft()))

    def metadata(self) -> mesh_pb2.DeviceMetadata:
        state = self.node.state
        return mesh_pb2.DeviceMetadata(
            firmware_version=FIRMWARE_VERSION, device_state_version=DEVICE_STATE_VERSION,
            canShutdown=True, hasWifi=False, hasBluetooth=False, hasEthernet=False,
            role=state.config.device.role, position_flags=state.config.position.position_flags,
            hw_model=state.owner.hw_model, hasPKC=True,
        )
