"""`kit profile render`: every system file of one kit, from its profile, under a folder that
mirrors the root file system (render into / on the kit itself, into a temporary folder to
inspect or test). The templates in `templates/` are the files themselves, with $fields.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from string import Template

from kit.core import config as kit_config
from kit.deploy import broker_config, radio_config
from kit.deploy import network as kit_network
from kit.deploy.profile import Profile

TEMPLATES = Path(__file__).parent / "templates"
KIT_IP = "10.42.0.1"
LEASE_MAX = 250
MEMORY_MAX = "300M"


HOTSPOT = "etc/NetworkManager/system-connections/kit-hotspot.nmconnection"
CRISIS_CELL = "etc/NetworkManager/system-connections/kit-crisis-cell.nmconnection"


@dataclass(frozen=True)
class Output:
    path: str        # relative to the root
    template: str    # file in templates/
    mode: int = 0o644
    substitute: bool = True


OUTPUTS = [
    # The residents' network: a Wi-Fi access point, or Ethernet to an external one (profile [network]).
    Output(HOTSPOT, "kit-hotspot.nmconnection", 0o600),
    Output("etc/NetworkManager/dnsmasq-shared.d/10-kit.conf", "10-kit.conf"),
    Output("etc/nftables.conf", "nftables.conf", 0o755),
    Output("etc/nftables.d/kit.nft", "kit.nft"),
    Output("etc/systemd/system/kit.service", "kit.service"),
    Output("etc/systemd/system/kit-config.service", "kit-config.service"),
    Output("etc/systemd/system/kit-radio.service", "kit-radio.service"),
    Output("etc/systemd/system/kit-clock.service", "kit-clock.service"),
    Output("etc/systemd/system/kit-clock-save.service", "kit-clock-save.service"),
    Output("etc/systemd/system/kit-clock-save.timer", "kit-clock-save.timer"),
    Output("etc/systemd/system.conf.d/kit-watchdog.conf", "kit-watchdog.conf"),
    Output("etc/systemd/journald.conf.d/kit.conf", "journald-kit.conf"),
    Output("etc/udev/rules.d/99-meshtastic.rules", "99-meshtastic.rules"),
    Output("etc/modprobe.d/kit-wifi-country.conf", "kit-wifi-country.conf"),
    Output("etc/sysusers.d/kit.conf", "sysusers-kit.conf"),
    Output("etc/tmpfiles.d/kit.conf", "tmpfiles-kit.conf"),
    Output("usr/local/sbin/kit-config", "kit-config.sh", 0o755, substitute=False),
    Output("usr/local/sbin/kit-clock", "kit-clock.sh", 0o755, substitute=False),
]
# Units the image and the install script enable.
UNITS = ["kit.service", "kit-config.service", "kit-radio.service", "kit-clock.service",
         "kit-clock-save.timer", "nftables.service"]


def values(profile: Profile) -> dict[str, str]:
    net = profile.network
    residents = net.residents
    admin_host, _, admin_port = profile.admin_listen.rpartition(":")
    forward = ("# internet_sharing = true in kit.toml: phones may reach an Ethernet uplink"
               if profile.internet_sharing else f'iifname "{residents}" drop')
    if net.crisis_cell:  # only its own link (and the kit itself) reach the crisis cell's port
        cell_rule = f'iifname != {{ "lo", "{net.crisis_cell}" }} tcp dport {admin_port} drop'
    else:
        cell_rule = f"# No crisis_cell link in kit.toml: the crisis cell reaches {profile.admin_listen}."
    vlan = net.cell_vlan
    return {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{profile.kit_id}.kit-hotspot.kit.lan")),
        "ssid": profile.wifi_ssid, "channel": str(profile.wifi_channel), "country": profile.wifi_country,
        "lease_max": str(LEASE_MAX), "hostname": profile.hostname, "residents_if": residents, "kit_ip": KIT_IP,
        "admin_listen": profile.admin_listen, "admin_host": admin_host, "admin_port": admin_port,
        "forward_rule": forward, "memory_max": MEMORY_MAX,
        "per_address": str(kit_config.CONNECTIONS_PER_ADDRESS), "cell_rule": cell_rule,
        "cell_if": net.crisis_cell, "cell_type": "vlan" if vlan else "ethernet",
        "cell_uuid": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{profile.kit_id}.kit-crisis-cell.kit.lan")),
        "cell_vlan": f"\n[vlan]\nparent={vlan[0]}\nid={vlan[1]}\n" if vlan else "\n[ethernet]\n",
        "cell_address": f"{admin_host}/{kit_network.CELL_PREFIX}",
    }


def files(profile: Profile) -> dict[str, tuple[bytes, int]]:
    """Every rendered file: relative path → (content, mode)."""
    fields = values(profile)
    out: dict[str, tuple[bytes, int]] = {}
    ethernet = Output(HOTSPOT, "kit-residents-ethernet.nmconnection", 0o600)
    outputs = [ethernet if item.path == HOTSPOT and not profile.network.residents_wifi else item
               for item in OUTPUTS]
    if profile.network.crisis_cell:
        outputs.append(Output(CRISIS_CELL, "kit-crisis-cell.nmconnection", 0o600))
    for item in outputs:
        text = (TEMPLATES / item.template).read_text()
        if item.substitute:
            text = Template(text).substitute(fields)
        out[item.path] = (text.encode(), item.mode)
    out["etc/hostname"] = (f"{profile.hostname}\n".encode(), 0o644)
    out["etc/hosts"] = (f"127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n"
                        f"127.0.1.1\t{profile.hostname}\n".encode(), 0o644)
    out["etc/timezone"] = (f"{profile.timezone}\n".encode(), 0o644)
    # The radio's settings: contain the channel key, so readable by root only.
    out["etc/kit/radio.yaml"] = (radio_config.render(profile).encode(), 0o600)
    if profile.federation is not None and profile.federation.host_broker:
        # This machine hosts the territory's Mosquitto (deploy/README.md, "Federation").
        out |= broker_config.render(broker_config.BrokerFiles(profile.federation.prefix,
                                                              port=profile.federation.broker_port))
    return out


def write(root: str | Path, rendered: dict[str, tuple[bytes, int]]) -> list[Path]:
    """Write the files under root, atomically, leaving unchanged files untouched.
    Returns the paths that changed."""
    root = Path(root)
    changed = []
    for rel, (content, mode) in sorted(rendered.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            same = path.read_bytes() == content and (path.stat().st_mode & 0o777) == mode
        except OSError:
            same = False
        if same:
            continue
        tmp = path.with_name(f".{path.name}.kit-tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, mode)
        except PermissionError:  # FAT boot partition: no modes
            pass
        os.replace(tmp, path)
        changed.append(path)
    return changed


def render(profile: Profile, root: str | Path) -> list[Path]:
    return write(root, files(profile))
