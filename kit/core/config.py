"""Every default of the kit, once. `kit serve` options and the kit profile override them;
the CLI, the profile, the web app and the radio service all read them here.

The mesh protocol's own defaults (digest interval, airtime share) live with the protocol
in kit/mesh and are read from there.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import secrets
from pathlib import Path

from kit.mesh.airtime import DEFAULT_PRESET
from kit.mesh.sync import SyncConfig

DEFAULT_DATA_DIR = "kit-data"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
# The crisis cell's listener: never the residents' Wi-Fi (the Pi's own screen, an SSH
# tunnel or the Ethernet port). `none` turns it off.
DEFAULT_ADMIN_LISTEN = "127.0.0.1:8081"
DEFAULT_RADIO = "auto"           # the USB radio if one is plugged in, else none
DEFAULT_TCP_PORT = 4403          # meshtasticd's API port (firmware src/mesh/api/ServerAPI)
PRESET = DEFAULT_PRESET          # every kit of a commune uses the same preset
SYNC_INTERVAL_S = SyncConfig.digest_max_s  # the longest quiet gap between two sync digests
DEMO_DATA_DIR = "kit-demo"

# Waitress settings for a crowd of phones on one Pi: few threads (one SQLite writer, little
# RAM), many connections, slow clients buffered by waitress (docs: waitress "Arguments").
WAITRESS = {
    "threads": 6,
    "connection_limit": 300,
    "channel_timeout": 30,       # an idle connection (keep-alive, or one that sent nothing) closes
    "cleanup_interval": 2,       # how often idle connections and late requests are looked for
    "asyncore_use_poll": True,   # no 1024-descriptor select() limit
    "max_request_body_size": 2 * 1024 * 1024,
    "ident": "",
}

# One phone must not starve the others (kit/web/wsgi_server.py). A browser opens up to 6
# connections per host (Chromium's and Firefox's default), a phone's OS probes add a few:
# 20 per address leaves room for every honest phone, and 300 / 20 = 15 addresses are needed to
# fill the connection limit. The hotspot's nftables rules cap new connections per address
# at the same figure before they reach the app (kit/deploy/templates/kit.nft).
CONNECTIONS_PER_ADDRESS = 20
# A request (headers and body) must arrive in full within this many seconds of its first
# byte, however slowly the bytes come: a slow sender no longer holds a connection forever.
# 2 MB (max_request_body_size) in 15 s is 140 kB/s, far below a phone on the kit's Wi-Fi.
REQUEST_DEADLINE_S = 15
# The crisis cell's listener (loopback / Ethernet, never the Wi-Fi): no cap per address (an
# SSH tunnel brings every operator from 127.0.0.1), a longer deadline for uploaded files.
ADMIN_REQUEST_DEADLINE_S = 120


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT, HOST an IP address ("[::1]:8081" or "::1:8081" for IPv6) → (host, port).

    A host name is refused: it is resolved when the kit starts (/etc/hosts, DNS), so a name
    could put the crisis cell on the residents' Wi-Fi address without the profile check seeing it.
    """
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT (an IP address and a port, e.g. {DEFAULT_ADMIN_LISTEN})")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        raise ValueError(f"{host!r} in {text!r} is not an IP address: give the address itself "
                         f"(e.g. {DEFAULT_ADMIN_LISTEN}), not a host name") from None
    return bare, int(port)


# (max events, window in seconds) per client address; the *_name buckets per person's name
# (normalised), from every address together (kit/web/common.py rate_limited says why).
RATE_LIMITS = {
    "post": [(5, 60), (30, 3600)],
    "lookup": [(20, 60), (100, 3600)],
    "post_name": [(3, 600), (12, 86400)],     # check-ins under one name
    "lookup_name": [(10, 600), (40, 3600)],   # searches for one name (relatives search too)
}


def data_dir(value: str | None = None) -> Path:
    return Path(value or os.environ.get("KIT_DATA") or DEFAULT_DATA_DIR)


def private_folder(folder: Path) -> None:
    """The data folder is 0700 whatever the umask: mkdir(2) masks the mode it is given, and a
    kit run by hand (no systemd UMask=) would leave it 0755. Tightened on every start, so
    a kit made before is fixed too; a folder someone else owns is left alone."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = folder.stat()
    if status.st_uid == os.geteuid() and status.st_mode & 0o077:
        os.chmod(folder, 0o700)


def secret_key(folder: Path) -> bytes:
    """The kit's own session-signing key, made once and kept in the data folder (0600)."""
    path = folder / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path.read_bytes()


def build(data: str | Path | None = None, **overrides) -> dict:
    """The settings of a kit whose data lives in `data` (the web app adds its own)."""
    folder = data_dir(str(data) if data else None)
    private_folder(folder)
    config = {
        "DATA_DIR": str(folder),
        "DATABASE": str(folder / "kit.db"),
        "SECRET_KEY": secret_key(folder),
        "PORTAL_URL": "http://kit.lan/",
        "PORTAL_HOSTS": ["kit.lan", "10.42.0.1", "localhost", "127.0.0.1", "[::1]"],
        "PORTAL_IDLE_SECONDS": 3600,
        "RATE_LIMITS": RATE_LIMITS,
        "SIGNING_KEY": None,
        "TRUST_KEYS": [],
        # The kit key ring ("ID:BASE64" texts, the current key first): every kit of the
        # territory holds it, handhelds never do. None: the kit's own key (data folder).
        "KIT_KEYS": None,
    }
    config.update(overrides)
    return config


def kit_keys_from_text(texts: list[str]) -> tuple[dict[int, bytes], int]:
    """("ID:BASE64", ...) → ({id: key}, current id), the first being current; ValueError."""
    keys, current = {}, None
    for text in texts:
        key_id, _, encoded = text.strip().partition(":")
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not key_id.isdigit() or not 0 <= int(key_id) <= 255 or len(key) != 32:
            raise ValueError("a kit key is ID:BASE64 with an id 0–255 and 32 bytes of key (kit keys new-kit-key)")
        keys.setdefault(int(key_id), key)
        current = int(key_id) if current is None else current
    if current is None:
        raise ValueError("no kit key given")
    return keys, current


def new_kit_key(key_id: int = 1) -> str:
    """A new kit key, as ID:BASE64."""
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def own_kit_key(folder: Path) -> str:
    """A kit with no key given makes its own (0600): it talks only to kits given the same."""
    path = folder / "kit_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_kit_key() + "\n")
    return path.read_text().strip()
