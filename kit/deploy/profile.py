"""The kit profile: one TOML file per kit (`kit.toml`), loaded and validated.

Every problem found is reported at once, each as (field, problem, fix), so a municipality
can correct a profile in one pass. `deploy/example-kit.toml` documents every field.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from kit.core import config as kit_config
from kit.core import federation as fed
from kit.core import volunteers
from kit.core.auth import check_name
from kit.core.radio_port import parse as parse_radio
from kit.core.volunteers import parse_node
from kit.crypto.signing import parse_public_key
from kit.deploy import network as kit_network
from kit.storage import settings

REGIONS = ("EU_868", "EU_433")
PRESETS = ("LONG_FAST", "LONG_MODERATE", "LONG_SLOW", "MEDIUM_FAST", "MEDIUM_SLOW", "SHORT_FAST",
           "SHORT_SLOW")
# A kit's radio must hand the kit, and relay, the kits' PRIVATE_APP frames: every role below
# does with the rebroadcast_mode ALL the kit's YAML sets. Not ROUTER: when a radio's role
# becomes ROUTER the firmware installs CORE_PORTNUMS_ONLY after the config sent with it
# (fw src/modules/AdminModule.cpp handleSetConfig -> NodeDB::installRoleDefaults, since
# fw 2.5, PR #5178), so `meshtastic --configure` leaves a radio that drops every kit frame.
# ROUTER_LATE keeps ALL. A volunteer's handheld is CLIENT, or CLIENT_MUTE where kits already
# cover its area: a handheld in a crowd of handhelds that all relay multiplies every frame
# (firmware-config/README.md).
ROLES = ("CLIENT", "CLIENT_BASE", "CLIENT_MUTE", "ROUTER_LATE")
HANDHELD_ROLES = ("CLIENT", "CLIENT_MUTE")
# The hotspot's network (NetworkManager's shared mode, kit-hotspot.nmconnection).
WIFI_NETWORK = ipaddress.ip_network("10.42.0.0/24")
WIFI_CHANNELS = tuple(range(1, 14))  # 2.4 GHz; 1, 6 or 11 recommended
KIT_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
INSEE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
CHANNEL_URL = re.compile(r"^https://meshtastic\.org/e/#[A-Za-z0-9_-]+={0,2}$")
PLACEHOLDER_KEY = "REPLACE-WITH-THE-COMMUNE-CHANNEL-KEY"
# The public example's values (deploy/example-kit.toml): valid, so the example renders, but
# known to everyone. `kit profile check --strict` (used by the boot service) refuses them.
EXAMPLE_CHANNEL_KEY = "RVhBTVBMRS1LRVktTk9ULVNFQ1JFVC1ORVZFUi1VU0U="   # b"EXAMPLE-KEY-NOT-SECRET-NEVER-USE"
EXAMPLE_TRUST_KEY = "7Fx+ZrB2kBbmZsetJT4I0/NIX9KTTEDbvTGGBEUPsls="     # its private key is public
SECTIONS = ("kit", "commune", "wifi", "network", "admin", "keys", "radio", "volunteers", "federation")
SECRET_FIELDS = ("admin.password", "radio.channel_key", "radio.channel_url", "keys.kit_keys", "federation.password")


@dataclass(frozen=True)
class Problem:
    field: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem} — {self.fix}"


class ProfileError(ValueError):
    def __init__(self, path, problems: list[Problem]):
        self.path = str(path)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{self.path}: {len(problems)} problem(s) in the kit profile:\n{lines}")


@dataclass(frozen=True)
class Radio:
    device: str = "auto"            # kit serve --radio
    region: str = "EU_868"
    preset: str = kit_config.PRESET
    channel_name: str = ""
    channel_key: str = ""           # base64 of 32 bytes (AES-256)
    channel_url: str = ""           # or a whole Meshtastic channel URL (contains the key)
    role: str = "CLIENT"
    handheld_role: str = "CLIENT"   # volunteers' handhelds (kit radio-config --handheld)
    hop_limit: int = 3
    sync_hops: int = 0  # hop limit of the kits' sync frames (kit/mesh/sync.py SyncConfig.sync_hops)
    latitude: float | None = None   # fixed position of the kit (optional)
    longitude: float | None = None
    altitude: int = 0

    @property
    def key_bytes(self) -> bytes:
        return base64.b64decode(self.channel_key) if self.channel_key else b""


@dataclass(frozen=True)
class Federation:
    """[federation]: the territory's MQTT broker (deploy/README.md, "Federation")."""
    broker: str                      # mqtts://HOST[:PORT]
    prefix: str                      # the territory's topic prefix, e.g. "territoire/fr-38"
    account: str                     # this kit's broker account (default: its kit id)
    password: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    host_broker: bool = False        # this machine runs the territory's Mosquitto
    broker_port: int = 8883

    def spec(self) -> fed.BrokerSpec:
        host, port, tls = fed.parse_url(self.broker)
        return fed.BrokerSpec(host, port, tls, self.prefix, self.account, self.password,
                              self.ca_file, self.cert_file, self.key_file)


@dataclass(frozen=True)
class Profile:
    kit_id: str
    kit_name: str
    site: str
    timezone: str
    commune_name: str
    commune_insee: str
    wifi_ssid: str
    wifi_channel: int
    wifi_country: str
    admin_name: str
    admin_password: str             # one-time clear password (boot partition only), or ""
    admin_password_hash: str        # Werkzeug hash, or ""
    trust_keys: tuple[str, ...]
    signing_key: str                # path, crisis-cell kits only, or ""
    admin_listen: str
    radio: Radio
    internet_sharing: bool = False  # forward the phones' traffic to an Ethernet uplink
    source: str = ""
    extra: dict = field(default_factory=dict, compare=False)
    # The territory's kit keys ("ID:BASE64", current first): every kit holds them, handhelds
    # never (they are not in the handheld YAML). Empty: the kit makes its own (talks to no one).
    kit_keys: tuple[str, ...] = ()
    enrolled_nodes: tuple[int, ...] = ()   # volunteers' handhelds whose commands act at once
    federation: Federation | None = None   # the territory's MQTT broker, where IP survives
    network: kit_network.Network = kit_network.Network()  # residents' and crisis cell's interfaces

    @property
    def short_name(self) -> str:
        """The radio's short name: up to 4 characters from the kit id."""
        digits = re.sub(r"\D", "", self.kit_id)[-3:]
        return ("K" + digits) if digits else self.kit_id.replace("-", "")[:4].upper()

    @property
    def hostname(self) -> str:
        return self.kit_id if self.kit_id.startswith("kit") else f"kit-{self.kit_id}"

    def settings(self) -> dict[str, str]:
        """The kit's settings table values this profile sets (kit.settings keys)."""
        return {"kit_id": self.kit_id, "kit_name": self.kit_name, "commune_name": self.commune_name,
                "commune_insee": self.commune_insee, "wifi_ssid": self.wifi_ssid}


class _Reader:
    """Reads typed fields from the TOML tables, collecting problems instead of stopping."""

    def __init__(self, data: dict):
        self.data = data
        self.problems: list[Problem] = []
        self.used: set[str] = set()

    def problem(self, name: str, problem: str, fix: str) -> None:
        self.problems.append(Problem(name, problem, fix))

    def get(self, name: str, kind, default=None, *, required=False, fix=""):
        section, _, key = name.partition(".")
        self.used.add(name)
        table = self.data.get(section, {})
        if not isinstance(table, dict):
            self.problem(section, "is not a table", f"write it as a [{section}] section")
            return default
        if key not in table:
            if required:
                self.problem(name, "is missing", fix or f"add {key} = … under [{section}]")
            return default
        value = table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                self.problem(name, "must be a list of strings", f'write {key} = ["…", "…"]')
                return default
            return value
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problem(name, f"must be a {kind.__name__}, not {type(value).__name__} {value!r}",
                         fix or "see deploy/example-kit.toml")
            return default
        return value.strip() if isinstance(value, str) else value


def _check_tz(name: str) -> bool:
    if not re.fullmatch(r"[A-Za-z_]+(?:/[A-Za-z0-9_+-]+){0,2}", name):
        return False
    try:
        ZoneInfo(name)
    except Exception:  # no tz database here: trust the syntax
        return not Path("/usr/share/zoneinfo").is_dir()
    return True


def _check_public_key(text: str) -> bool:
    try:
        return bool(parse_public_key(text))
    except Exception:
        return False


def parse(data: dict, source: str = "kit.toml", *, base_dir: Path | None = None) -> Profile:
    r = _Reader(data)
    for section in data:
        if section not in SECTIONS:
            r.problem(section, "is not a section of a kit profile",
                      "use " + ", ".join(f"[{s}]" for s in SECTIONS) + " only")

    kit_id = r.get("kit.id", str, "", required=True, fix='add id = "mairie-01" under [kit]')
    if kit_id and not KIT_ID.match(kit_id):
        r.problem("kit.id", f"{kit_id!r} is not a valid kit id",
                  "use 1–32 lowercase letters, digits and dashes, e.g. \"mairie-01\"")
    kit_name = r.get("kit.name", str, "", required=True, fix='add name = "Kit 01 - Mairie" under [kit]')
    if kit_name and len(kit_name.encode()) > 39:
        r.problem("kit.name", "is longer than 39 bytes (the radio's long name limit)", "shorten it")
    site = r.get("kit.site", str, "")
    timezone = r.get("kit.timezone", str, "Europe/Paris")
    if not _check_tz(timezone):
        r.problem("kit.timezone", f"{timezone!r} is not a known time zone", 'use e.g. "Europe/Paris"')
    admin_listen = r.get("kit.admin_listen", str, kit_config.DEFAULT_ADMIN_LISTEN)
    host = None
    try:
        host, port = kit_config.parse_listen(admin_listen)
    except ValueError as exc:
        r.problem("kit.admin_listen", str(exc),
                  f'use "{kit_config.DEFAULT_ADMIN_LISTEN}" or the Ethernet address, never the Wi-Fi one')
    else:
        address = ipaddress.ip_address(host)
        address = getattr(address, "ipv4_mapped", None) or address  # ::ffff:10.42.0.1 is the Wi-Fi too
        if address.is_unspecified or address in WIFI_NETWORK:
            r.problem("kit.admin_listen", f"{host} is reachable from the residents' Wi-Fi",
                      f'bind the crisis cell to "{kit_config.DEFAULT_ADMIN_LISTEN}" or to the Ethernet address')
        elif port in (53, 67, 80, 443):
            r.problem("kit.admin_listen", f"port {port} is used by the residents' side", "use 8081")

    commune = r.get("commune.name", str, "", required=True, fix='add name = "…" under [commune]')
    insee = r.get("commune.insee", str, "", required=True,
                  fix='add insee = "45999" (the INSEE code, 5 characters) under [commune]')
    if insee and not INSEE.match(insee):
        r.problem("commune.insee", f"{insee!r} is not an INSEE code",
                  'write the 5-character code in quotes, e.g. "45234" or "2A004"')

    ssid = r.get("wifi.ssid", str, "", required=True, fix='add ssid = "Kit-Mairie" under [wifi]')
    if ssid and not (1 <= len(ssid.encode()) <= 32):
        r.problem("wifi.ssid", "is longer than 32 bytes", "shorten the Wi-Fi name")
    if ssid and any(ord(c) < 32 for c in ssid):
        r.problem("wifi.ssid", "contains control characters", "use plain letters, digits and dashes")
    channel = r.get("wifi.channel", int, 6)
    if channel not in WIFI_CHANNELS:
        r.problem("wifi.channel", f"{channel} is not a 2.4 GHz channel", "use 1, 6 or 11")
    country = r.get("wifi.country", str, "FR")
    if not COUNTRY.match(country):
        r.problem("wifi.country", f"{country!r} is not a two-letter country code", 'use "FR"')
    sharing = r.get("wifi.internet_sharing", bool, False)
    network = kit_network.parse(r, host)

    admin_name = r.get("admin.name", str, "admin")
    password = r.get("admin.password", str, "")
    password_hash = r.get("admin.password_hash", str, "")
    if password and password_hash:
        r.problem("admin.password", "is given together with password_hash",
                  "keep one: password_hash (from the batch tool) or a one-time password")
    if password and len(password) < 12:
        r.problem("admin.password", "is shorter than 12 characters",
                  "use a longer one, or leave it out: the kit then generates one")
    if password_hash and not re.match(r"^(scrypt|pbkdf2):[^$]*\$[^$]+\$[0-9a-f]+$", password_hash):
        r.problem("admin.password_hash", "is not a Werkzeug password hash",
                  "copy it from the batch tool's output (it starts with scrypt:)")
    try:
        admin_name = check_name(admin_name)
    except ValueError as exc:
        r.problem("admin.name", str(exc), 'use e.g. "admin"')

    trust = r.get("keys.trust", list, [])
    for i, key in enumerate(trust):
        if not _check_public_key(key):
            r.problem(f"keys.trust[{i}]", "is not a public key",
                      "paste the public key printed by `kit keys new`")
    kit_keys = r.get("keys.kit_keys", list, [])
    try:
        if kit_keys:
            kit_config.kit_keys_from_text([str(k) for k in kit_keys])
    except ValueError as exc:
        r.problem("keys.kit_keys", str(exc), "paste the lines printed by `kit keys new-kit-key`")
    enrolled = []
    for i, text in enumerate(r.get("volunteers.enrolled", list, [])):
        try:
            enrolled.append(parse_node(str(text)))
        except ValueError:
            r.problem(f"volunteers.enrolled[{i}]", f"{text!r} is not a radio's node number",
                      'write it as shown in the Meshtastic app, e.g. "!a1b2c3d4"')
    signing_key = r.get("keys.signing_key", str, "")
    if signing_key and base_dir is not None:
        path = Path(signing_key)
        if not path.is_absolute() and not (base_dir / path).exists():
            r.problem("keys.signing_key", f"{signing_key} is not found next to the profile",
                      "give an absolute path on the kit (e.g. /data/kit/keys/mairie.key)")

    radio = Radio(
        device=r.get("radio.device", str, "auto"),
        region=r.get("radio.region", str, "EU_868"),
        preset=r.get("radio.preset", str, kit_config.PRESET),
        channel_name=r.get("radio.channel_name", str, ""),
        channel_key=r.get("radio.channel_key", str, ""),
        channel_url=r.get("radio.channel_url", str, ""),
        role=r.get("radio.role", str, "CLIENT"),
        handheld_role=r.get("radio.handheld_role", str, "CLIENT"),
        hop_limit=r.get("radio.hop_limit", int, 3),
        sync_hops=r.get("radio.sync_hops", int, 0),
        latitude=r.get("radio.latitude", float, None),
        longitude=r.get("radio.longitude", float, None),
        altitude=r.get("radio.altitude", int, 0),
    )
    try:
        parse_radio(radio.device)
    except ValueError as exc:
        r.problem("radio.device", str(exc), 'use "auto" on a Pi (the udev name /dev/meshtastic)')
    if radio.region not in REGIONS:
        r.problem("radio.region", f"{radio.region!r} is not allowed here", 'use "EU_868" in France')
    if radio.preset not in PRESETS:
        r.problem("radio.preset", f"{radio.preset!r} is not a Meshtastic preset",
                  f"use one of {', '.join(PRESETS)} (all kits of a commune use the same)")
    if radio.role not in ROLES:
        why = (" (the firmware then drops the kits' frames: rebroadcast_mode CORE_PORTNUMS_ONLY)"
               if radio.role == "ROUTER" else "")
        r.problem("radio.role", f"{radio.role!r} is not a role for a kit{why}",
                  "use CLIENT (CLIENT_BASE on the best-sited kit, CLIENT_MUTE beside a better node, "
                  "ROUTER_LATE on a high point that must always relay)")
    if radio.handheld_role not in HANDHELD_ROLES:
        r.problem("radio.handheld_role", f"{radio.handheld_role!r} is not a role for a volunteer's handheld",
                  "use CLIENT (CLIENT_MUTE where kits already cover the volunteers' area)")
    if not 1 <= radio.hop_limit <= 7:
        r.problem("radio.hop_limit", f"{radio.hop_limit} is outside 1–7", "use 3")
    if not 0 <= radio.sync_hops <= radio.hop_limit:
        r.problem("radio.sync_hops", f"{radio.sync_hops} is outside 0–{radio.hop_limit} (the hop limit)",
                  "use 0, or the number of routers between two kits that hear each other only through them")
    if radio.channel_url and (radio.channel_key or radio.channel_name):
        r.problem("radio.channel_url", "is given together with channel_name/channel_key",
                  "give either the channel URL or the channel name and key")
    elif radio.channel_url:
        if not CHANNEL_URL.match(radio.channel_url):
            r.problem("radio.channel_url", "is not a Meshtastic channel URL",
                      "copy it from `meshtastic --info` (https://meshtastic.org/e/#…)")
    else:
        if not radio.channel_name:
            r.problem("radio.channel_name", "is missing", 'add channel_name = "…" (the same on all kits)')
        elif len(radio.channel_name.encode()) > 11:
            r.problem("radio.channel_name", "is longer than 11 bytes (Meshtastic's limit)", "shorten it")
        if not radio.channel_key:
            r.problem("radio.channel_key", "is missing",
                      "generate one with `kit radio-config --new-key` and use it on every kit")
        elif radio.channel_key == PLACEHOLDER_KEY:
            r.problem("radio.channel_key", "is still the example's placeholder",
                      "generate one with `kit radio-config --new-key` and use it on every kit")
        else:
            try:
                key = base64.b64decode(radio.channel_key, validate=True)
            except (binascii.Error, ValueError):
                key = b""
            if len(key) != 32:
                r.problem("radio.channel_key", "is not 32 bytes of base64 (an AES-256 key)",
                          "generate one with `kit radio-config --new-key`")
    if (radio.latitude is None) != (radio.longitude is None):
        r.problem("radio.latitude", "latitude and longitude go together", "give both, or neither")
    if radio.latitude is not None and not (-90 <= radio.latitude <= 90 and -180 <= radio.longitude <= 180):
        r.problem("radio.latitude", "is not a position on Earth", "use decimal degrees (WGS84)")

    federation = _federation(r, kit_id) if "federation" in data else None

    known = set(SECTIONS)
    for section, table in data.items():
        if section in known and isinstance(table, dict):
            for key in table:
                if f"{section}.{key}" not in r.used:
                    r.problem(f"{section}.{key}", "is not a field of a kit profile",
                              "check its spelling against deploy/example-kit.toml")
    if r.problems:
        raise ProfileError(source, r.problems)
    return Profile(
        kit_id=kit_id, kit_name=kit_name, site=site, timezone=timezone, commune_name=commune,
        commune_insee=insee, wifi_ssid=ssid, wifi_channel=channel, wifi_country=country,
        admin_name=admin_name, admin_password=password, admin_password_hash=password_hash,
        trust_keys=tuple(trust), signing_key=signing_key, admin_listen=admin_listen, radio=radio,
        internet_sharing=sharing, source=source, kit_keys=tuple(str(k) for k in kit_keys),
        enrolled_nodes=tuple(enrolled), federation=federation, network=network)


def _federation(r: "_Reader", kit_id: str) -> Federation | None:
    broker = r.get("federation.broker", str, "", required=True, fix='add broker = "mqtts://broker.example:8883"')
    prefix = r.get("federation.prefix", str, "", required=True, fix='add prefix = "territoire/fr-38"')
    account = r.get("federation.account", str, kit_id)
    found = Federation(
        broker=broker, prefix=prefix, account=account, password=r.get("federation.password", str, ""),
        ca_file=r.get("federation.ca_file", str, ""), cert_file=r.get("federation.cert_file", str, ""),
        key_file=r.get("federation.key_file", str, ""), host_broker=r.get("federation.host_broker", bool, False),
        broker_port=r.get("federation.broker_port", int, 8883))
    try:
        host, port, tls = fed.parse_url(broker) if broker else ("", 0, True)
    except ValueError as exc:
        r.problem("federation.broker", str(exc), "use mqtts://HOST[:PORT] (TLS: the territory's CA)")
        tls = True
    if not tls:
        r.problem("federation.broker", "is not TLS (mqtt://)", "use mqtts://: the kits' passwords cross it")
    if prefix and not fed.PREFIX.match(prefix):
        r.problem("federation.prefix", f"{prefix!r} is not a topic prefix",
                  'use lowercase words joined by "/", e.g. "territoire/fr-38" (the same on every kit)')
    if account and not fed.ACCOUNT.match(account):
        r.problem("federation.account", f"{account!r} is not a broker account name", "use the kit id")
    if not (found.password or found.cert_file):
        r.problem("federation.password", "is missing (and no cert_file)",
                  "give the password made with mosquitto_passwd for this kit, or a client certificate")
    if not 1 <= found.broker_port <= 65535:
        r.problem("federation.broker_port", f"{found.broker_port} is not a port", "use 8883")
    return found


def warnings(profile: Profile) -> list[Problem]:
    """What is valid but unsafe for a real kit (the example's public keys)."""
    found = []
    if profile.radio.channel_key == EXAMPLE_CHANNEL_KEY:
        found.append(Problem("radio.channel_key", "is the public example key: anyone can read this channel",
                             "generate the commune's key with `kit radio-config --new-key`"))
    if not profile.kit_keys:
        found.append(Problem("keys.kit_keys", "is missing: this kit makes its own and will sync with no other kit",
                             "give every kit of the territory the same lines from `kit keys new-kit-key`"))
    if EXAMPLE_TRUST_KEY in profile.trust_keys:
        found.append(Problem("keys.trust", "contains the example's public key, whose private key is public",
                             "put the mairie's public key (from `kit keys new`) instead"))
    return found


def loads(text: str, source: str = "kit.toml", **kwargs) -> Profile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(source, [Problem("(file)", f"is not valid TOML: {exc}",
                                            "fix the line shown; strings go in double quotes")]) from exc
    return parse(data, source, **kwargs)


def load(path: str | Path) -> Profile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ProfileError(path, [Problem("(file)", "does not exist", "give the path of kit.toml")]) from exc
    except UnicodeDecodeError as exc:
        raise ProfileError(path, [Problem("(file)", "is not UTF-8 text",
                                          "save it as UTF-8 (any text editor can)")]) from exc
    return loads(text, str(path), base_dir=path.parent)


def apply_to_args(profile: Profile, args) -> None:
    """`kit serve --profile`: the profile fills what the command line left open (radio "auto",
    no --signing-key) and adds its trusted keys to --trust-key."""
    if args.radio == kit_config.DEFAULT_RADIO:
        args.radio = profile.radio.device
    if not args.signing_key and profile.signing_key:
        args.signing_key = profile.signing_key
    args.trust_key = [*args.trust_key, *(k for k in profile.trust_keys if k not in args.trust_key)]
    if profile.kit_keys and not args.kit_keys:
        args.kit_keys = list(profile.kit_keys)
    if getattr(args, "sync_hops", 0) is None:
        args.sync_hops = profile.radio.sync_hops


def apply_to_kit(profile: Profile, kit) -> str | None:
    """The profile's identity into the kit's settings, and its first admin account if the
    kit has no account yet. Returns the password only when it was generated here (to be
    shown once); a given password or hash is never returned nor stored in clear."""
    with kit.writing() as db:
        settings.put_many(db, profile.settings())
        for node in profile.enrolled_nodes:
            volunteers.enroll(db, node, "profile", "profile")
        if db.execute("SELECT 1 FROM users LIMIT 1").fetchone():
            return None
        if profile.admin_password_hash:
            given = {"password_hash": profile.admin_password_hash}
        elif profile.admin_password:
            given = {"password": profile.admin_password}
        else:
            given = {}
        generated = kit.add_user(profile.admin_name, "admin", "profile", "cli", **given)
        return None if given else generated
