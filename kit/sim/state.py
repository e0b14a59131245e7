"""A simulated node's persistent state (what the firmware keeps in flash), saved as JSON.

Kept apart from runtime state so that a `kit-meshtasticd -d DIR` process can reload it after a
restart, exactly as meshtasticd reloads its VFS.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import json_format
from meshtastic.protobuf import channel_pb2, config_pb2, localonly_pb2, mesh_pb2

STATE_FILE = "kit-sim-node.json"
MAX_NUM_CHANNELS = 8

_Role = config_pb2.Config.DeviceConfig.Role


def install_role_defaults(device: config_pb2.Config.DeviceConfig) -> None:
    """fw NodeDB::installRoleDefaults, the part that matters here: a ROUTER's rebroadcast_mode
    is CORE_PORTNUMS_ONLY (since fw 2.5, PR #5178), set whenever the role becomes ROUTER, over
    whatever mode came with it."""
    if device.role == _Role.ROUTER:
        device.rebroadcast_mode = device.RebroadcastMode.CORE_PORTNUMS_ONLY
_Lora = config_pb2.Config.LoRaConfig


def default_public_key(node_num: int) -> bytes:
    """A stable stand-in for the node's X25519 public key (nothing is encrypted)."""
    return hashlib.sha256(b"kit-sim-node-key" + node_num.to_bytes(4, "big")).digest()


@dataclass
class NodeState:
    node_num: int
    owner: mesh_pb2.User
    channels: list[channel_pb2.Channel]
    config: localonly_pb2.LocalConfig
    module_config: localonly_pb2.LocalModuleConfig
    reboot_count: int = 0
    canned_messages: str = ""  # CannedMessageModule, "|"-separated
    ringtone: str = ""  # ExternalNotificationModule RTTTL
    node_db: dict[int, mesh_pb2.NodeInfo] = field(default_factory=dict)
    position: mesh_pb2.Position = field(default_factory=mesh_pb2.Position)  # own fixed position

    @classmethod
    def fresh(cls, node_num: int, *, long_name: str | None = None, short_name: str | None = None,
              preset: str = "LONG_FAST", region: str = "EU_868", hop_limit: int = 3,
              channel_name: str = "", psk: bytes = b"\x01", role: str = "CLIENT",
              hw_model: int = mesh_pb2.HardwareModel.PORTDUINO,
              tx_enabled: bool = True) -> "NodeState":
        """Factory defaults of a node, as fw NodeDB::installDefault* would set them."""
        key = default_public_key(node_num)
        suffix = f"{node_num & 0xFFFF:04x}"
        owner = mesh_pb2.User(
            id=f"!{node_num:08x}",
            long_name=long_name or f"Meshtastic {suffix}",
            short_name=short_name or suffix,
            hw_model=hw_model,
            role=_Role.Value(role),
            public_key=key,
        )
        config = localonly_pb2.LocalConfig()
        config.device.role = _Role.Value(role)
        install_role_defaults(config.device)
        config.device.node_info_broadcast_secs = 10800
        config.position.position_broadcast_secs = 900
        config.lora.region = _Lora.RegionCode.Value(region)
        config.lora.use_preset = True
        config.lora.modem_preset = _Lora.ModemPreset.Value(preset)
        config.lora.hop_limit = hop_limit
        config.lora.tx_enabled = tx_enabled
        config.lora.tx_power = 27
        config.security.public_key = key
        config.security.serial_enabled = True
        config.version = 30
        module_config = localonly_pb2.LocalModuleConfig(version=30)
        channels = [channel_pb2.Channel(index=i) for i in range(MAX_NUM_CHANNELS)]
        channels[0].role = channel_pb2.Channel.Role.PRIMARY
        channels[0].settings.name = channel_name
        channels[0].settings.psk = psk
        return cls(node_num, owner, channels, config, module_config)

    # -- persistence ------------------------------------------------------------------
    def to_json(self) -> dict:
        as_dict = lambda m: json_format.MessageToDict(m, preserving_proto_field_name=True)  # noqa: E731
        return {
            "node_num": self.node_num,
            "reboot_count": self.reboot_count,
            "canned_messages": self.canned_messages,
            "ringtone": self.ringtone,
            "owner": as_dict(self.owner),
            "channels": [as_dict(c) for c in self.channels],
            "config": as_dict(self.config),
            "module_config": as_dict(self.module_config),
            "node_db": [as_dict(n) for n in self.node_db.values()],
            "position": as_dict(self.position),
        }

    @classmethod
    def from_json(cls, data: dict) -> "NodeState":
        parse = json_format.ParseDict
        channels = [parse(c, channel_pb2.Channel()) for c in data["channels"]]
        node_db = {n.num: n for n in (parse(d, mesh_pb2.NodeInfo()) for d in data["node_db"])}
        return cls(
            node_num=data["node_num"],
            owner=parse(data["owner"], mesh_pb2.User()),
            channels=channels,
            config=parse(data["config"], localonly_pb2.LocalConfig()),
            module_config=parse(data["module_config"], localonly_pb2.LocalModuleConfig()),
            reboot_count=data["reboot_count"],
            canned_messages=data.get("canned_messages", ""),
            ringtone=data.get("ringtone", ""),
            node_db=node_db,
            position=parse(data.get("position", {}), mesh_pb2.Position()),
        )

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1))
        tmp.replace(directory / STATE_FILE)

    @classmethod
    def load(cls, directory: str | Path) -> "NodeState | None":
        path = Path(directory) / STATE_FILE
        if not path.exists():
            return None
        return cls.from_json(json.loads(path.read_text()))
