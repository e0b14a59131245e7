"""The profile's [network]: where the residents' phones join (the captive portal runs there) and
the crisis cell's own link, so a shelter can grow past what the Pi's Wi-Fi takes.

- residents = "wlan0": the Pi's own Wi-Fi (about 19 phones with the minimal firmware);
  "wlan1": a USB Wi-Fi adapter whose chipset has a mainline AP driver; "eth0": Ethernet to an
  external access point in bridge mode (the phones' own MAC addresses reach the kit, so the
  per-station cap in nftables still holds). A name starting with "wl" is a Wi-Fi access point
  run by NetworkManager; any other is an Ethernet port in NetworkManager's shared mode.
- crisis_cell = "eth1" (another port, a USB Ethernet adapter) or "eth0.20" (VLAN 20 on eth0):
  the crisis cell's link, with the address of kit.admin_listen; the crisis cell's port is then
  dropped on every other interface. Empty: the crisis cell reaches the kit on admin_listen.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

# Linux interface names: at most 15 bytes (IFNAMSIZ 16 with the NUL), no "/" or spaces.
INTERFACE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,14}$")
VLAN = re.compile(r"^([A-Za-z][A-Za-z0-9_-]{0,9})\.(\d{1,4})$")
CELL_PREFIX = 24  # the crisis cell's link: the admin address's /24


@dataclass(frozen=True)
class Network:
    residents: str = "wlan0"
    crisis_cell: str = ""

    @property
    def residents_wifi(self) -> bool:
        return self.residents.startswith("wl")

    @property
    def cell_vlan(self) -> tuple[str, int] | None:
        """(parent interface, VLAN id) when the crisis cell's link is a VLAN."""
        match = VLAN.match(self.crisis_cell)
        return (match.group(1), int(match.group(2))) if match else None


def parse(r, admin_host: str | None) -> Network:
    """Read [network] with the profile's reader `r` (problems collected, never raised)."""
    residents = r.get("network.residents", str, "wlan0")
    cell = r.get("network.crisis_cell", str, "")
    if not INTERFACE.match(residents) or VLAN.match(residents):
        r.problem("network.residents", f"{residents!r} is not an interface name",
                  'use "wlan0" (the Pi\'s Wi-Fi), "wlan1" (a USB Wi-Fi adapter) or "eth0" (an external access point)')
    if cell:
        vlan = VLAN.match(cell)
        if not (INTERFACE.match(cell) or vlan) or (vlan and not 1 <= int(vlan.group(2)) <= 4094):
            r.problem("network.crisis_cell", f"{cell!r} is not an interface name nor a VLAN",
                      'use "eth1" (another Ethernet port) or "eth0.20" (VLAN 20 on eth0)')
        elif cell == residents:
            r.problem("network.crisis_cell", "is the residents' interface",
                      "give the crisis cell its own interface or VLAN, or leave crisis_cell out")
        if admin_host is not None:
            address = ipaddress.ip_address(admin_host)
            if address.is_loopback or address.version != 4:
                r.problem("kit.admin_listen", f"{admin_host} is not an address on the crisis cell's link ({cell})",
                          'give the kit\'s IPv4 address on that link, e.g. "192.168.50.1:8081"')
    return Network(residents=residents, crisis_cell=cell)
