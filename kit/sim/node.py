"""One simulated Meshtastic node: the firmware's router, reliability and modules.

Runs entirely on the scheduler thread. Behaviour follows fw src/mesh/Router.cpp (send,
size and duty-cycle gates), FloodingRouter.cpp (dedup, relay, relay cancellation),
ReliableRouter.cpp (retransmissions, ACK/NAK, implicit ACK), MeshService.cpp (packets from the
client, NodeInfo to unknown senders) and modules/NodeInfoModule.cpp.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from meshtastic.protobuf import config_pb2, mesh_pb2, portnums_pb2

from kit.sim import channels as chan
from kit.sim import lora, traceroute
from kit.sim.admin_module import AdminModule
from kit.sim.clock import Scheduler, Timer
from kit.sim.dutycycle import DutyCycle
from kit.sim.medium import Frame
from kit.sim.phone_api import PhoneAPI
from kit.sim.state import NodeState

BROADCAST = 0xFFFFFFFF
TX_QUEUE_LEN = 16  # MAX_TX_QUEUE, fw configuration.h
NUM_RELIABLE_RETX = 3  # transmissions of a want_ack packet, fw ReliableRouter.h
HOP_MAX = 7  # fw MeshTypes.h
FLOOD_EXPIRE_S = 10 * 60  # how long (from, id) stays in the dedup history, fw PacketHistory
NODEINFO_REPLY_THROTTLE_S = 5 * 60  # fw NodeInfoModule: one reply per requester per 5 min
# fw NodeInfoModule::allocReply: our NodeInfo goes out at most once per 10 minutes (this
# path); fw MeshService::handleFromRadio asks a new node for its NodeInfo only while the
# channel is under the polite utilisation (airtime.h polite_channel_util_percent) and the
# node is at most hop_limit + 2 hops away.
NEW_NODE_NODEINFO_THROTTLE_S = 10 * 60
POLITE_CHANNEL_UTIL_PERCENT = 25.0
MESHTASTIC_PKC_OVERHEAD = 12  # fw CryptoEngine.h: PKI auth tag + nonce
BITFIELD_OK_TO_MQTT = 1

# ErrorCodes returned in QueueStatus.res (fw mesh/MeshTypes.h + Routing.Error values).
ERRNO_OK = 0
ERRNO_UNKNOWN = 32

Port = portnums_pb2.PortNum
Err = mesh_pb2.Routing.Error
Priority = mesh_pb2.MeshPacket.Priority
Role = config_pb2.Config.DeviceConfig.Role
ModemPreset = config_pb2.Config.LoRaConfig.ModemPreset
RegionCode = config_pb2.Config.LoRaConfig.RegionCode

ROUTER_ROLES = {Role.ROUTER, Role.ROUTER_LATE}
Rebroadcast = config_pb2.Config.DeviceConfig.RebroadcastMode
# rebroadcast_mode CORE_PORTNUMS_ONLY (fw src/mesh/Router.cpp handleReceived): a decoded packet
# on any other port is neither handled nor relayed. The ROUTER role installs that mode whenever
# the role is set (NodeDB::installRoleDefaults), over the mode sent with it.
CORE_PORTNUMS = {
    Port.TEXT_MESSAGE_APP, Port.TEXT_MESSAGE_COMPRESSED_APP, Port.POSITION_APP,
    Port.NODEINFO_APP, Port.ROUTING_APP, Port.TELEMETRY_APP, Port.ADMIN_APP, Port.ALERT_APP,
    Port.WAYPOINT_APP, Port.STORE_FORWARD_APP, Port.TRACEROUTE_APP,
} | {getattr(Port, name) for name in ("KEY_VERIFICATION_APP", "STORE_FORWARD_PLUSPLUS_APP") if hasattr(Port, name)}


@dataclass
class Outgoing:
    """A frame waiting in the TX queue."""

    frame: Frame
    seq: int
    relay_snr: float | None  # set when relaying: the delay is weighted by the SNR heard

    @property
    def key(self) -> tuple[int, int]:
        return getattr(self.frame.packet, "from"), self.frame.packet.id


@dataclass
class Pending:
    """A want_ack packet of ours awaiting an ACK (ReliableRouter::PendingPacket)."""

    packet: mesh_pb2.MeshPacket
    retransmissions_left: int
    timer: Timer | None = None


class SimNode:
    def __init__(self, scheduler: Scheduler, state: NodeState, *, rng: random.Random | None = None,
                 first_nodeinfo_delay: float = 30.0, state_dir: str | Path | None = None,
                 epoch: float | None = None):
        self.scheduler = scheduler
        self.state = state
        self.rng = rng or random.Random(state.node_num)
        self.first_nodeinfo_delay = first_nodeinfo_delay
        self.state_dir = Path(state_dir) if state_dir else None
        self._epoch = time.time() if epoch is None else epoch  # wall time at sim time 0
        self.radio = None  # RadioPort, set by attach_radio()
        self.api = PhoneAPI(self)
        self.admin = AdminModule(self)
        self.duty = DutyCycle(scheduler, self.region)
        self.powered = False
        self.on_exit_simulator: Callable[[], None] = lambda: None
        # Called instead of telling the client `rebooted` when a reboot restarts the whole
        # process, as meshtasticd does (the TCP listener goes away and comes back).
        self.on_reboot: Callable[[], None] | None = None
        # Factory defaults for this node number (factory reset); meshtasticd leaves the region unset.
        self.default_state: Callable[[int], NodeState] = lambda num: NodeState.fresh(num)
        self._packet_counter = self.rng.randrange(0x400)
        self._reset_runtime()

    def _reset_runtime(self) -> None:
        self.tx_queue: list[Outgoing] = []
        self.transmitting = False
        self._tx_timer: Timer | None = None
        self._seq = 0
        self.seen: dict[tuple[int, int], float] = {}
        self.pending: dict[tuple[int, int], Pending] = {}
        self._nodeinfo_timer: Timer | None = None
        self._reboot_timer: Timer | None = None
        self._nodeinfo_replies: dict[int, float] = {}
        self._new_node_nodeinfo_at: float | None = None

    # -- identity and settings ---------------------------------------------------------
    @property
    def node_num(self) -> int:
        return self.state.node_num

    @property
    def preset(self) -> str:
        return ModemPreset.Name(self.state.config.lora.modem_preset)

    @property
    def region(self) -> str:
        return RegionCode.Name(self.state.config.lora.region)

    @property
    def role(self) -> int:
        return self.state.config.device.role

    @property
    def hop_limit(self) -> int:
        return min(self.state.config.lora.hop_limit or 3, HOP_MAX)

    def sim_epoch(self) -> int:
        """Unix time as the node's RTC would read it (fixed32 rx_time, last_heard)."""
        return int(self._epoch + self.scheduler.now())

    def new_packet_id(self) -> int:
        """fw Router.cpp generatePacketId: rolling 10-bit counter, random upper 22 bits."""
        self._packet_counter = (self._packet_counter + 1) & 0x3FF
        return self._packet_counter | (self.rng.getrandbits(22) << 10)

    # -- power ---------------------------------------------------------------------------
    def attach_radio(self, radio) -> None:
        self.radio = radio

    def boot(self) -> None:
        """Power on: the first NodeInfo goes out after a delay (NodeInfoModule start delay)."""
        self.powered = True
        self.duty.region = self.region
        self._schedule_nodeinfo(self.first_nodeinfo_delay)

    def power_off(self) -> None:
        self.powered = False
        for timer in (self._tx_timer, self._nodeinfo_timer, self._reboot_timer,
                      *(p.timer for p in self.pending.values())):
            if timer:
                timer.cancel()
        self._reset_runtime()

    @property
    def simulator(self) -> bool:
        """Simulator mode (meshtasticd -s): the radio is the API client (SIMULATOR_APP)."""
        return bool(getattr(self.radio, "simulated", False))

    def reboot(self) -> None:
        """A simulated reboot: RAM state is lost, flash state kept, the client is told."""
        if self.on_reboot is not None:
            self.api.on_reboot(tell_client=False)
            self.on_reboot()
        else:
            self.api.on_reboot()
        self.power_off()
        self.state.reboot_count += 1
        self.save()
        self.boot()

    def schedule_reboot(self, seconds: float) -> None:
        if self._reboot_timer:
            self._reboot_timer.cancel()
        self._reboot_timer = self.scheduler.call_later(seconds, self.reboot)

    def cancel_reboot(self) -> None:
        if self._reboot_timer:
            self._reboot_timer.cancel()
            self._reboot_timer = None

    def save(self) -> None:
        if self.state_dir:
            self.state.save(self.state_dir)

    def reset_to_defaults(self) -> None:
        fresh = self.default_state(self.node_num)
        fresh.reboot_count = self.state.reboot_count
        self.state = fresh

    # -- NodeInfo ------------------------------------------------------------------------
    def _schedule_nodeinfo(self, delay: float) -> None:
        self._nodeinfo_timer = self.scheduler.call_later(delay, self._periodic_nodeinfo)

    def _periodic_nodeinfo(self) -> None:
        self.send_nodeinfo(BROADCAST, want_response=True)
        interval = self.state.config.device.node_info_broadcast_secs or 10800
        self._schedule_nodeinfo(interval)

    def send_nodeinfo(self, dest: int = BROADCAST, want_response: bool = False,
                      channel: int = 0, request_id: int = 0) -> int:
        p = self._new_packet(dest, Port.NODEINFO_APP, self.state.owner.SerializeToString(),
                             channel=channel)
        p.decoded.want_response = want_response
        p.decoded.request_id = request_id
        p.priority = Priority.BACKGROUND
        return self.send(p)

    def _reply_nodeinfo(self, request: mesh_pb2.MeshPacket) -> bool:
        sender = getattr(request, "from")
        last = self._nodeinfo_replies.get(sender)
        if last is not None and self.scheduler.now() - last < NODEINFO_REPLY_THROTTLE_S:
            return False
        self._nodeinfo_replies[sender] = self.scheduler.now()
        self.send_nodeinfo(sender, channel=request.channel, request_id=request.id)
        return True

    # -- packets from the API client (MeshService::handleToRadio) ------------------------
    def send_from_client(self, p: mesh_pb2.MeshPacket) -> int:
        setattr(p, "from", self.node_num)  # phones may not choose the sender
        if p.id == 0:
            p.id = self.new_packet_id()
        p.rx_time = self.sim_epoch()
        if p.to == self.node_num:
            self._handle_local(p, from_client=True)
            return ERRNO_OK
        if p.want_ack and p.hop_limit == 0:
            p.hop_limit = self.hop_limit  # acks need at least one relay (Router::sendLocal)
        p.hop_limit = min(p.hop_limit, HOP_MAX)
        return self.send(p)

    def _new_packet(self, to: int, port: int, payload: bytes, channel: int = 0) -> mesh_pb2.MeshPacket:
        p = mesh_pb2.MeshPacket(to=to, id=self.new_packet_id(), channel=channel,
                                hop_limit=self.hop_limit, rx_time=self.sim_epoch())
        setattr(p, "from", self.node_num)
        p.decoded.portnum = port
        p.decoded.payload = payload
        return p

    # -- sending (Router::send, ReliableRouter::send) -------------------------------------
    def send(self, p: mesh_pb2.MeshPacket, *, retransmission: bool = False) -> int:
        """Encode, gate and queue a packet we originate. Returns the QueueStatus code."""
        data = mesh_pb2.Data()
        data.CopyFrom(p.decoded)
        data.bitfield = data.bitfield | (BITFIELD_OK_TO_MQTT if self._ok_to_mqtt() else 0)
        size = len(data.SerializeToString())
        if p.pki_encrypted:
            dest = self.state.node_db.get(p.to)
            if dest is None or not dest.user.public_key:
                return self._abort(Err.PKI_SEND_FAIL_PUBLIC_KEY, p)
            size += MESHTASTIC_PKC_OVERHEAD
        if size + 16 > lora.MAX_LORA_PAYLOAD_LEN:  # Router::perhapsEncode
            return self._abort(Err.TOO_LARGE, p)
        airtime = lora.frame_airtime_s(size, self.preset)
        if not self.duty.allows(airtime, self._queued_airtime()):
            minutes = self.duty.silent_minutes(airtime + self._queued_airtime())
            self.api.notify(f"Duty cycle limit exceeded. You can send again in {minutes} mins", p.id)
            return self._abort(Err.DUTY_CYCLE_LIMIT, p)
        if len(self.tx_queue) >= TX_QUEUE_LEN:
            return ERRNO_UNKNOWN  # RadioLibInterface::send: queue full, packet dropped

        if p.want_ack and not retransmission:
            self._start_retransmission(p, airtime)
        on_air = mesh_pb2.MeshPacket()
        on_air.CopyFrom(p)
        on_air.decoded.CopyFrom(data)
        on_air.channel = self._channel_hash(p.channel)
        on_air.hop_start = on_air.hop_limit
        on_air.relay_node = self.node_num & 0xFF
        on_air.rx_time = 0
        if on_air.to == BROADCAST:
            on_air.want_ack = False  # never on air for broadcasts (Router::send)
        if not on_air.priority:
            on_air.priority = self._default_priority(on_air)
        self.seen[(self.node_num, p.id)] = self.scheduler.now()
        self._queue(Frame(on_air, self._channel_key(p.channel), self.preset, airtime), None)
        return ERRNO_OK

    def _abort(self, err: int, p: mesh_pb2.MeshPacket) -> int:
        """Router::abortSendAndNak: only our own packets are NAKed (to our client)."""
        if getattr(p, "from") == self.node_num:
            self.nak_to_client(err, p)
        return err

    def _ok_to_mqtt(self) -> bool:
        return self.state.config.lora.config_ok_to_mqtt

    @staticmethod
    def _default_priority(p: mesh_pb2.MeshPacket, decoded: bool = True) -> int:
        """fw src/mesh/MeshPacketQueue.cpp fixPriority (called by Router::send for a packet
        whose priority is unset). `decoded` is False for a relay we could not decrypt: then
        only want_ack counts. Texts and admin go HIGH, ahead of NodeInfo responses."""
        if decoded:
            if p.decoded.portnum == Port.ROUTING_APP:
                return Priority.ACK
            if p.decoded.portnum in (Port.TEXT_MESSAGE_APP, Port.ADMIN_APP):
                return Priority.HIGH
            if p.decoded.request_id:
                return Priority.RESPONSE
            if p.decoded.want_response:
                return Priority.RELIABLE
        return Priority.RELIABLE if p.want_ack else Priority.DEFAULT

    def _queued_airtime(self) -> float:
        return sum(o.frame.airtime for o in self.tx_queue)

    def _queue(self, frame: Frame, relay_snr: float | None) -> None:
        self._seq += 1
        self.tx_queue.append(Outgoing(frame, self._seq, relay_snr))
        self._kick_tx()

    # -- the transmitter (RadioLibInterface / SimRadio: random delay, listen before talk) -----
    def _kick_tx(self, after_tx: bool = False) -> None:
        if self.transmitting or self._tx_timer or not self.tx_queue or not self.powered:
            return
        head = self._next_outgoing()
        util = self.radio.channel_util_percent() if self.radio else 0.0
        if head.relay_snr is None or (after_tx and self.simulator):
            # A relay gets the SNR-weighted rebroadcast delay (getTxDelayMsecWeighted) only when
            # it is queued on an idle transmitter. In simulator mode, once a transmission ends the
            # next queued frame - relay or not - waits only the channel-utilisation window:
            # fw src/platform/portduino/SimRadio.cpp onNotify(ISR_TX) calls startTransmitTimer(),
            # i.e. getTxDelayMsec(), not setTransmitDelay(). Re-drawing the weighted delay (up to
            # 2*CW_MAX + 2^CW_MAX slots, ~6.5 s on LONG_FAST) before every queued relay made a
            # node drain its queue several times slower than meshtasticd and held a one-relay DM
            # back for 15-30 s behind the NodeInfo exchange.
            delay = lora.tx_delay_s(self.rng, self.preset, util)
        else:
            # Only a ROUTER relays early (RadioInterface::shouldRebroadcastEarlyLikeRouter); a
            # ROUTER_LATE's late window is not modelled: it waits as a CLIENT does.
            delay = lora.relay_delay_s(self.rng, self.preset, head.relay_snr, self.role == Role.ROUTER)
        self._tx_timer = self.scheduler.call_later(delay, self._on_tx_timer)

    def _next_outgoing(self) -> Outgoing:
        return max(self.tx_queue, key=lambda o: (o.frame.packet.priority, -o.seq))

    def _on_tx_timer(self) -> None:
        self._tx_timer = None
        if not self.powered or not self.tx_queue or self.radio is None:
            return
        if self.radio.busy():  # channel active: pick a new random delay (setTransmitDelay)
            self._kick_tx()
            return
        out = self._next_outgoing()
        self.tx_queue.remove(out)
        self.transmitting = True
        self.duty.log_tx(out.frame.airtime)
        self.radio.transmit(out.frame)
        self.scheduler.call_later(out.frame.airtime, self._on_tx_done)

    def _on_tx_done(self) -> None:
        self.transmitting = False
        if not self.powered:
            return
        self.api.on_queue_space()
        self._kick_tx(after_tx=True)

    def cancel_relay(self, key: tuple[int, int]) -> bool:
        for out in self.tx_queue:
            if out.key == key and out.relay_snr is not None:
                self.tx_queue.remove(out)
                self.api.on_queue_space()
                return True
        return False

    # -- reliability (ReliableRouter) -----------------------------------------------------
    def _start_retransmission(self, p: mesh_pb2.MeshPacket, airtime: float) -> None:
        copy = mesh_pb2.MeshPacket()
        copy.CopyFrom(p)
        key = (self.node_num, p.id)
        pending = Pending(copy, NUM_RELIABLE_RETX - 1)
        self.pending[key] = pending
        self._schedule_retransmission(key, pending, airtime)

    def _schedule_retransmission(self, key, pending: Pending, airtime: float) -> None:
        util = self.radio.channel_util_percent() if self.radio else 0.0
        delay = lora.retransmission_s(airtime, self.preset, util)
        pending.timer = self.scheduler.call_later(delay, self._retransmit, key)

    def _retransmit(self, key: tuple[int, int]) -> None:
        pending = self.pending.get(key)
        if pending is None:
            return
        airtime = lora.frame_airtime_s(pending.packet.decoded.ByteSize() + 2, self.preset)
        if any(o.key == key for o in self.tx_queue):  # first copy not on air yet
            self._schedule_retransmission(key, pending, airtime)
            return
        if pending.retransmissions_left == 0:
            del self.pending[key]
            self.nak_to_client(Err.MAX_RETRANSMIT, pending.packet)
            return
        pending.retransmissions_left -= 1
        copy = mesh_pb2.MeshPacket()
        copy.CopyFrom(pending.packet)
        if self.send(copy, retransmission=True) != ERRNO_OK:
            self.pending.pop(key, None)
            return
        self._schedule_retransmission(key, pending, airtime)

    def stop_retransmission(self, key: tuple[int, int]) -> Pending | None:
        pending = self.pending.pop(key, None)
        if pending and pending.timer:
            pending.timer.cancel()
        return pending

    def nak_to_client(self, err: int, p: mesh_pb2.MeshPacket) -> None:
        """A Routing error (or NONE = ACK) from us about packet p, for our own client."""
        reply = self._routing_packet(err, self.node_num, p)
        setattr(reply, "from", self.node_num)
        self.api.deliver(reply)

    def _routing_packet(self, err: int, to: int, about: mesh_pb2.MeshPacket) -> mesh_pb2.MeshPacket:
        routing = mesh_pb2.Routing(error_reason=err)
        p = self._new_packet(to, Port.ROUTING_APP, routing.SerializeToString(), channel=about.channel)
        p.decoded.request_id = about.id
        p.priority = Priority.ACK
        return p

    def _send_ack(self, err: int, request: mesh_pb2.MeshPacket) -> None:
        """RoutingModule::sendAckNak towards the sender, hop limit from getHopLimitForResponse."""
        ack = self._routing_packet(err, getattr(request, "from"), request)
        ack.hop_limit = self._hop_limit_for_response(request)
        self.send(ack)

    def _hop_limit_for_response(self, request: mesh_pb2.MeshPacket) -> int:
        if request.hop_start:
            used = request.hop_start - request.hop_limit if request.hop_start >= request.hop_limit \
                else self.hop_limit
            if used > self.hop_limit:
                return used
            if used + 2 < self.hop_limit:
                return used + 2
        return self.hop_limit

    # -- channels -------------------------------------------------------------------------
    def _channel_settings(self, index: int):
        channels = self.state.channels
        return channels[index].settings if 0 <= index < len(channels) else channels[0].settings

    def _channel_hash(self, index: int) -> int:
        return chan.channel_hash(self._channel_settings(index), self.preset)

    def _channel_key(self, index: int) -> bytes:
        return chan.expanded_key(self._channel_settings(index).psk)

    def _channel_for(self, frame: Frame) -> int | None:
        """Index of our channel that decodes this frame, or None."""
        for ch in self.state.channels:
            if ch.role == ch.Role.DISABLED:
                continue
            if chan.identity(ch.settings, self.preset) == (frame.packet.channel, frame.key):
                return ch.index
        return None

    # -- reception (Router::handleReceived, FloodingRouter, ReliableRouter) ------------------
    def on_air_receive(self, frame: Frame, snr: float, rssi: int) -> None:
        if not self.powered or frame.preset != self.preset:
            return
        p = frame.packet
        sender = getattr(p, "from")
        key = (sender, p.id)
        now = self.scheduler.now()
        self._expire_history(now)
        if sender == self.node_num:
            # Our own packet relayed by a neighbour: for a broadcast that is the implicit ACK.
            pending = self.pending.get(key)
            if pending and pending.packet.to == BROADCAST:
                self.stop_retransmission(key)
                self.nak_to_client(Err.NONE, pending.packet)
            return
        channel = self._channel_for(frame)
        if key in self.seen:
            # FloodingRouter::shouldFilterReceived: the original sender repeating a reliable
            # packet (hop_start == hop_limit) is not someone else's relay - we relay it again
            # unless our copy is still queued; a genuine relay by another node makes a CLIENT
            # drop its own pending one.
            repeated = p.hop_start > 0 and p.hop_start == p.hop_limit
            if repeated:
                if p.to != self.node_num and not any(o.key == key for o in self.tx_queue):
                    if channel is not None and p.decoded.portnum == Port.TRACEROUTE_APP:
                        traceroute.alter_received(p, self.node_num, snr)  # processUpgradedPacket
                    self._perhaps_rebroadcast(frame, snr, channel)
            elif self.role not in ROUTER_ROLES:
                self.cancel_relay(key)
            # The sender evidently missed our ACK: send it again.
            if channel is not None and p.to == self.node_num and p.want_ack:
                decoded = self._as_received(p, channel, snr, rssi)
                self._send_ack(Err.NONE, decoded)
            return
        self.seen[key] = now
        if channel is not None:
            if p.decoded.portnum == Port.TRACEROUTE_APP:
                # Promiscuous module: the route is updated before delivery and relay.
                traceroute.alter_received(p, self.node_num, snr)
            received = self._as_received(p, channel, snr, rssi)
            self._update_node_db(received)
            if self._ignores_port(p):
                return
            if p.to in (BROADCAST, self.node_num):
                self._handle_local(received, from_client=False)
        self._perhaps_rebroadcast(frame, snr, channel)

    def _ignores_port(self, p: mesh_pb2.MeshPacket) -> bool:
        return (self.state.config.device.rebroadcast_mode == Rebroadcast.CORE_PORTNUMS_ONLY
                and p.decoded.portnum not in CORE_PORTNUMS)

    def _as_received(self, p: mesh_pb2.MeshPacket, channel: int, snr: float, rssi: int):
        received = mesh_pb2.MeshPacket()
        received.CopyFrom(p)
        received.channel = channel
        received.rx_snr = snr
        received.rx_rssi = rssi
        received.rx_time = self.sim_epoch()
        return received

    def _expire_history(self, now: float) -> None:
        if len(self.seen) > 512:
            self.seen = {k: t for k, t in self.seen.items() if now - t < FLOOD_EXPIRE_S}

    def _perhaps_rebroadcast(self, frame: Frame, snr: float, channel: int | None) -> None:
        p = frame.packet
        if p.to == self.node_num or p.hop_limit == 0 or self.role == Role.CLIENT_MUTE:
            return
        if self.state.config.device.rebroadcast_mode == Rebroadcast.NONE:
            return  # FloodingRouter::isRebroadcaster
        if channel is not None and self._ignores_port(p):
            return
        relay = mesh_pb2.MeshPacket()
        relay.CopyFrom(p)
        relay.hop_limit = p.hop_limit - 1
        relay.relay_node = self.node_num & 0xFF
        relay.ClearField("rx_snr")
        relay.ClearField("rx_rssi")
        relay.ClearField("rx_time")
        # Priority is not on air (whatever the sender queued it with): Router::send fixes it
        # for the relay (fw src/mesh/MeshPacketQueue.cpp fixPriority), so that a relayed text
        # or response overtakes queued NodeInfo relays.
        relay.priority = self._default_priority(relay, decoded=channel is not None)
        airtime = frame.airtime
        if relay.HasField("decoded") and relay.decoded.ByteSize() != p.decoded.ByteSize():
            airtime = lora.frame_airtime_s(relay.decoded.ByteSize(), frame.preset)  # traceroute grew
        # Relays are dropped silently when over the duty cycle or when the queue is full.
        if not self.duty.allows(airtime, self._queued_airtime()):
            return
        if len(self.tx_queue) >= TX_QUEUE_LEN:
            return
        self._queue(Frame(relay, frame.key, frame.preset, airtime), snr)

    def _update_node_db(self, p: mesh_pb2.MeshPacket) -> None:
        """NodeDB::updateFrom: every decoded packet refreshes what we know of its sender."""
        sender = getattr(p, "from")
        info = self.state.node_db.setdefault(sender, mesh_pb2.NodeInfo(num=sender))
        info.last_heard = p.rx_time
        info.snr = p.rx_snr
        info.channel = p.channel
        if p.hop_start:
            info.hops_away = max(0, p.hop_start - p.hop_limit)

    def _handle_local(self, p: mesh_pb2.MeshPacket, *, from_client: bool) -> None:
        """Modules for a packet addressed to us (or broadcast), then delivery to the client."""
        port = p.decoded.portnum
        sender = getattr(p, "from")
        replied = False
        if p.decoded.request_id and p.to == self.node_num and not from_client:
            # ReliableRouter::sniffReceived: an ACK, a NAK or any response ends our retransmissions.
            self.stop_retransmission((self.node_num, p.decoded.request_id))
        if port == Port.ROUTING_APP:
            pass
        elif port == Port.TRACEROUTE_APP and not from_client:
            if p.to == self.node_num and p.decoded.want_response:
                self._reply_traceroute(p)
                replied = True
        elif port == Port.NODEINFO_APP and not from_client:
            user = mesh_pb2.User()
            try:
                user.ParseFromString(p.decoded.payload)
            except Exception:
                user = None
            if user is not None and user.id:
                self.state.node_db.setdefault(sender, mesh_pb2.NodeInfo(num=sender)).user.CopyFrom(user)
            if p.decoded.want_response:
                replied = self._reply_nodeinfo(p)
        elif port == Port.ADMIN_APP and p.to == self.node_num:
            if from_client:
                replied = self.admin.handle(p)
            else:
                self._send_ack(Err.NOT_AUTHORIZED, p)  # remote admin needs PKI keys we lack
                replied = True
        if from_client:
            if p.want_ack and not replied:
                self.nak_to_client(Err.NONE, p)
            return
        self.api.deliver(p)
        if not self.state.node_db[sender].user.id and port != Port.NODEINFO_APP:
            self._introduce(p)
        if p.to == self.node_num and p.want_ack and not replied:
            self._send_ack(Err.NONE, p)

    def _introduce(self, p: mesh_pb2.MeshPacket) -> None:
        """MeshService::handleFromRadio: introduce ourselves to a node we do not know and ask
        for its NodeInfo - politely (see NEW_NODE_NODEINFO_THROTTLE_S)."""
        now = self.scheduler.now()
        if self.radio is not None and self.radio.channel_util_percent() >= POLITE_CHANNEL_UTIL_PERCENT:
            return
        hops_used = p.hop_start - p.hop_limit if p.hop_start >= p.hop_limit else self.hop_limit
        if hops_used > self.hop_limit + 2:
            return
        last = self._new_node_nodeinfo_at
        if last is not None and now - last < NEW_NODE_NODEINFO_THROTTLE_S:
            return
        self._new_node_nodeinfo_at = now
        self.send_nodeinfo(getattr(p, "from"), want_response=True, channel=p.channel)

    def _reply_traceroute(self, request: mesh_pb2.MeshPacket) -> None:
        """TraceRouteModule::allocReply sent through MeshModule::setReplyTo."""
        answer = self._new_packet(getattr(request, "from"), Port.TRACEROUTE_APP,
                                  traceroute.reply_payload(request), channel=request.channel)
        answer.decoded.request_id = request.id
        answer.hop_limit = self._hop_limit_for_response(request)
        answer.want_ack = request.want_ack
        answer.priority = Priority.RELIABLE
        self.send(answer)

    def reply(self, request: mesh_pb2.MeshPacket, port: int, payload: bytes) -> None:
        """A module's answer to a packet from our own client (setReplyTo)."""
        answer = self._new_packet(self.node_num, port, payload, channel=request.channel)
        answer.decoded.request_id = request.id
        self.api.deliver(answer)

    # -- reporting ------------------------------------------------------------------------
    def own_node_info(self) -> mesh_pb2.NodeInfo:
        info = mesh_pb2.NodeInfo(num=self.node_num, last_heard=self.sim_epoch(), is_favorite=True)
        info.user.CopyFrom(self.state.owner)
        if self.state.position.ListFields():
            info.position.CopyFrom(self.state.position)
        info.device_metrics.channel_utilization = self.radio.channel_util_percent() if self.radio else 0.0
        info.device_metrics.air_util_tx = self.duty.utilization_tx_percent()
        return info

    def known_nodes(self) -> list[mesh_pb2.NodeInfo]:
        return [n for num, n in self.state.node_db.items() if num != self.node_num]
