"""Admin module for the node's own client (fw src/modules/AdminModule.cpp), enough for the
`meshtastic` CLI: owner, channels, config and module config (with edit transactions),
metadata, reboot, factory reset and node-DB housekeeping.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError
from meshtastic.protobuf import admin_pb2, config_pb2, mesh_pb2, module_config_pb2, portnums_pb2

from kit.sim.state import install_role_defaults

if TYPE_CHECKING:
    from kit.sim.node import SimNode

log = logging.getLogger(__name__)

DEFAULT_REBOOT_SECONDS = 5  # fw AdminModule.cpp
SECRET_RESERVED = "sekrit"  # fw AdminModule.cpp: "keep the current secret" on a set
# Module config sections applied without a reboot (handleSetModuleConfig shouldReboot).
NO_REBOOT_MODULES = {"statusmessage"}
# Fields whose change needs a reboot in sections that otherwise apply live
# (AdminModule::handleSetConfig requiresReboot); absent sections always reboot, except LoRa,
# which every firmware applies live under SimRadio (and 2.8 on every radio).
_REBOOT_FIELDS = {
    "device": ("button_gpio", "buzzer_gpio", "role", "rebroadcast_mode"),
    "power": ("device_battery_ina_address", "is_power_saving", "ls_secs", "min_wake_secs",
              "on_battery_shutdown_after_secs", "sds_secs", "wait_bluetooth_secs"),
    "display": ("screen_on_secs", "flip_screen", "oled", "displaymode"),
    "security": ("debug_log_api_enabled", "serial_enabled"),
    "lora": (),
}

_CONFIG_FIELDS = config_pb2.Config.DESCRIPTOR.oneofs_by_name["payload_variant"].fields
_MODULE_FIELDS = module_config_pb2.ModuleConfig.DESCRIPTOR.oneofs_by_name["payload_variant"].fields


class AdminModule:
    def __init__(self, node: "SimNode"):
        self.node = node
        self.session_passkey = node.rng.randbytes(8)
        self.open_transaction = False

    def handle(self, request: mesh_pb2.MeshPacket) -> bool:
        """Handle an AdminMessage from our client; True when a response was sent."""
        msg = admin_pb2.AdminMessage()
        try:
            msg.ParseFromString(request.decoded.payload)
        except DecodeError:
            self.node.nak_to_client(mesh_pb2.Routing.Error.BAD_REQUEST, request)
            return True
        which = msg.WhichOneof("payload_variant")
        log.debug("admin %s", which)
        handler = getattr(self, f"_{which}", None)
        if handler is None:
            log.debug("admin %s not simulated", which)
            return False
        response = handler(getattr(msg, which))
        if response is None:
            return False
        response.session_passkey = self.session_passkey
        self.node.reply(request, portnums_pb2.PortNum.ADMIN_APP, response.SerializeToString())
        return True

    # -- saving (AdminModule::saveChanges) ---------------------------------------------------
    def _changed(self, needs_reboot: bool) -> None:
        if self.open_transaction:
            return
        self.node.save()
        if needs_reboot:
            self.node.schedule_reboot(DEFAULT_REBOOT_SECONDS)

    @staticmethod
    def _config_needs_reboot(name: str, old, new) -> bool:
        if name not in _REBOOT_FIELDS:
            return True
        return any(getattr(old, f) != getattr(new, f) for f in _REBOOT_FIELDS[name])

    # -- getters ----------------------------------------------------------------------------
    def _get_owner_request(self, _):
        return admin_pb2.AdminMessage(get_owner_response=self.node.state.owner)

    def _get_channel_request(self, index_plus_one: int):
        channels = self.node.state.channels
        index = index_plus_one - 1
        if not 0 <= index < len(channels):
            return None
        return admin_pb2.AdminMessage(get_channel_response=channels[index])

    def _get_config_request(self, config_type: int):
        response = admin_pb2.AdminMessage()
        name = _CONFIG_FIELDS[config_type].name if config_type < len(_CONFIG_FIELDS) else None
        if name is None:
            return None
        section = getattr(response.get_config_response, name)
        if name in self.node.state.config.DESCRIPTOR.fields_by_name:
            section.CopyFrom(getattr(self.node.state.config, name))
        section.SetInParent()
        return response

    def _get_module_config_request(self, module_type: int):
        if module_type >= len(_MODULE_FIELDS):
            return None
        name = _MODULE_FIELDS[module_type].name
        response = admin_pb2.AdminMessage()
        section = getattr(response.get_module_config_response, name)
        section.CopyFrom(getattr(self.node.state.module_config, name))
        section.SetInParent()
        return response

    def _get_device_metadata_request(self, _):
        return admin_pb2.AdminMessage(get_device_metadata_response=self.node.api.metadata())

    def _get_canned_message_module_messages_request(self, _):
        return admin_pb2.AdminMessage(
            get_canned_message_module_messages_response=self.node.state.canned_messages)

    def _get_ringtone_request(self, _):
        return admin_pb2.AdminMessage(get_ringtone_response=self.node.state.ringtone)

    # -- setters ----------------------------------------------------------------------------
    def _set_owner(self, user: mesh_pb2.User):
        owner = self.node.state.owner
        before = owner.SerializeToString()
        if user.long_name:
            owner.long_name = user.long_name
        if user.short_name:
            owner.short_name = user.short_name
        owner.is_licensed = user.is_licensed
        if user.HasField("is_unmessagable"):
            owner.is_unmessagable = user.is_unmessagable
        if owner.SerializeToString() == before:
            return  # "If nothing really changed, don't broadcast on the network or write to flash"
        if not self.open_transaction:
            self.node.send_nodeinfo()  # MeshService::reloadOwner tells the mesh
        self._changed(needs_reboot=True)  # saveChanges(..., shouldReboot = true)

    def _set_ham_mode(self, ham: mesh_pb2.HamParameters):
        owner = self.node.state.owner
        owner.long_name = ham.call_sign
        owner.short_name = ham.short_name or ham.call_sign[:4]
        owner.is_licensed = True
        self.node.state.config.lora.override_duty_cycle = False
        self._changed(needs_reboot=True)

    def _set_channel(self, channel):
        channels = self.node.state.channels
        if 0 <= channel.index < len(channels):
            channels[channel.index].CopyFrom(channel)
            self._changed(needs_reboot=False)

    def _set_config(self, config: config_pb2.Config):
        name = config.WhichOneof("payload_variant")
        if name not in self.node.state.config.DESCRIPTOR.fields_by_name:
            self._changed(needs_reboot=True)  # device_ui, sessionkey: nothing stored, still saved
            return
        current = getattr(self.node.state.config, name)
        new = type(current)()
        new.CopyFrom(getattr(config, name))
        if name == "network" and new.wifi_psk == SECRET_RESERVED:
            new.wifi_psk = current.wifi_psk
        if name == "lora":
            Region = config_pb2.Config.LoRaConfig.RegionCode
            if current.region == Region.UNSET and new.region != Region.UNSET:
                new.tx_enabled = True  # a first valid region enables TX
            elif current.region != Region.UNSET and new.region == Region.UNSET:
                new.tx_enabled = False
        if name == "device":
            DeviceConfig = config_pb2.Config.DeviceConfig
            if new.rebroadcast_mode == DeviceConfig.NONE and new.role in (DeviceConfig.ROUTER,
                                                                           DeviceConfig.ROUTER_LATE):
                new.rebroadcast_mode = DeviceConfig.ALL
            if new.role != current.role:
                # fw AdminModule::handleSetConfig: a role change installs the role's defaults
                # after the sent config, so a ROUTER cannot also get ALL in the same message.
                install_role_defaults(new)
        needs_reboot = self._config_needs_reboot(name, current, new)
        current.CopyFrom(new)
        if name == "lora":
            self.node.duty.region = self.node.region  # applied live (RadioInterface::reconfigure)
        self._changed(needs_reboot=needs_reboot)

    def _set_module_config(self, module_config):
        name = module_config.WhichOneof("payload_variant")
        if name:
            getattr(self.node.state.module_config, name).CopyFrom(getattr(module_config, name))
            self._changed(needs_reboot=name not in NO_REBOOT_MODULES)

    def _set_canned_message_module_messages(self, messages: str):
        self.node.state.canned_messages = messages
        self._changed(needs_reboot=False)

    def _set_ringtone_message(self, ringtone: str):
        self.node.state.ringtone = ringtone
        self._changed(needs_reboot=False)

    def _set_fixed_position(self, position: mesh_pb2.Position):
        own = mesh_pb2.Position(latitude_i=position.latitude_i, longitude_i=position.longitude_i,
                                altitude=position.altitude, time=position.time or self.node.sim_epoch(),
                                location_source=mesh_pb2.Position.LocSource.LOC_MANUAL)
        self.node.state.position.CopyFrom(own)  # NodeDB::setLocalPosition
        self.node.state.config.position.fixed_position = True
        self._changed(needs_reboot=False)

    def _remove_fixed_position(self, _):
        self.node.state.position.Clear()  # NodeDB::clearLocalPosition
        self.node.state.config.position.fixed_position = False
        self._changed(needs_reboot=False)

    def _begin_edit_settings(self, _):
        self.open_transaction = True

    def _commit_edit_settings(self, _):
        self.open_transaction = False
        self._changed(needs_reboot=True)

    # -- node DB ----------------------------------------------------------------------------
    def _node(self, num: int) -> mesh_pb2.NodeInfo | None:
        return self.node.state.node_db.get(num)

    def _remove_by_nodenum(self, num: int):
        self.node.state.node_db.pop(num, None)

    def _nodedb_reset(self, _):
        self.node.state.node_db.clear()
        self.node.save()
        self.node.schedule_reboot(DEFAULT_REBOOT_SECONDS)

    def _set_favorite_node(self, num: int):
        if (info := self._node(num)) is not None:
            info.is_favorite = True

    def _remove_favorite_node(self, num: int):
        if (info := self._node(num)) is not None:
            info.is_favorite = False

    def _set_ignored_node(self, num: int):
        if (info := self._node(num)) is not None:
            info.is_ignored = True

    def _remove_ignored_node(self, num: int):
        if (info := self._node(num)) is not None:
            info.is_ignored = False

    # -- power ------------------------------------------------------------------------------
    def _reboot_seconds(self, seconds: int):
        if seconds < 0:  # rebootAtMsec = 0: a pending reboot is cancelled
            self.node.cancel_reboot()
            return
        self.node.schedule_reboot(seconds)

    def _factory_reset_config(self, _):
        self.node.reset_to_defaults()
        self.node.save()
        self.node.schedule_reboot(DEFAULT_REBOOT_SECONDS)

    _factory_reset_device = _factory_reset_config

    def _exit_simulator(self, _):
        self.node.on_exit_simulator()
