"""Meshtastic `--configure` YAML for the kit's radio and volunteers' handhelds, from the profile.

The YAML is the format of `meshtastic --configure` / `--export-config` (meshtastic/python
`meshtastic/__main__.py`, export_config):
owner, owner_short, channel_url (the channel set with its AES-256 key and the LoRa settings),
location, config.<section>, module_config.<module>; snake_case, enums by name.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
from pathlib import Path
from string import Template

from kit.deploy.profile import Profile

TEMPLATES = Path(__file__).parent / "templates"


def new_channel_key() -> str:
    """A fresh AES-256 channel key, base64 (the same for every kit of a commune)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def channel_url(profile: Profile) -> str:
    """The channel URL: the profile's own, or one made of its channel name, key and LoRa settings."""
    if profile.radio.channel_url:
        return profile.radio.channel_url
    from meshtastic.protobuf import apponly_pb2, channel_pb2, config_pb2

    lora = config_pb2.Config.LoRaConfig
    channel_set = apponly_pb2.ChannelSet(
        settings=[channel_pb2.ChannelSettings(name=profile.radio.channel_name, psk=profile.radio.key_bytes,
                                              uplink_enabled=False, downlink_enabled=False)],
        lora_config=lora(region=lora.RegionCode.Value(profile.radio.region),
                         modem_preset=lora.ModemPreset.Value(profile.radio.preset), use_preset=True,
                         hop_limit=profile.radio.hop_limit, tx_enabled=True),
    )
    encoded = base64.urlsafe_b64encode(channel_set.SerializeToString()).decode().rstrip("=")
    return f"https://meshtastic.org/e/#{encoded}"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def render(profile: Profile, *, handheld: bool = False) -> str:
    radio = profile.radio
    fixed = radio.latitude is not None
    location = (f"location: {{lat: {radio.latitude}, lon: {radio.longitude}, alt: {radio.altitude}}}"
                if fixed else "# location: none given in kit.toml")
    values = {
        "kit_name": profile.kit_name, "owner": _quote(profile.kit_name), "owner_short": _quote(profile.short_name),
        "channel_url": _quote(channel_url(profile)), "location": location,
        "role": radio.handheld_role if handheld else radio.role,
        "region": radio.region, "preset": radio.preset, "hop_limit": radio.hop_limit,
        "fixed_position": "true" if fixed else "false",
    }
    name = "radio-handheld.yaml" if handheld else "radio-kit.yaml"
    return Template((TEMPLATES / name).read_text()).substitute(values)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
