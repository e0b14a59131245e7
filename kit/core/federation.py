"""What the kit's rules know of the territory's MQTT broker: where it is, who this kit is on
it, and the topics. The broker link itself is in kit/radio/broker.py; the profile's
`[federation]` section (kit/deploy/profile.py) makes a `BrokerSpec`.

Topics, under the territory's prefix P:
    P/kit/<account>/<node>   the kit-key-sealed frames of the kit whose broker account is
                             <account> (<node>: its node number, 8 hex digits, which the
                             frame's tag covers); the broker's ACL lets an account publish
                             under P/kit/<its own name>/ only
A broker is never trusted: what kits accept is decided by the frames' kit-key tags and the
alerts' signatures, as on LoRa.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

ACCOUNT = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")   # a kit id (profile.KIT_ID)
PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]*(?:/[a-z0-9][a-z0-9-]*)*$")
NODE = re.compile(r"^[0-9a-f]{8}$")


@dataclass(frozen=True)
class BrokerSpec:
    host: str
    port: int
    tls: bool
    prefix: str                 # the territory's topic prefix, e.g. "territoire/fr-38"
    account: str                # this kit's broker account (its kit id)
    password: str = ""
    ca_file: str = ""           # the territory's CA (else the system's)
    cert_file: str = ""         # a client certificate instead of (or with) the password
    key_file: str = ""

    def describe(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}/{self.prefix}"

    def topic(self, node: int) -> str:
        return f"{self.prefix}/kit/{self.account}/{node:08x}"

    @property
    def subscription(self) -> str:
        return f"{self.prefix}/kit/+/+"

    def parse_topic(self, topic: str) -> tuple[str, int] | None:
        """(account, node) of a frame topic of this territory, or None."""
        head = f"{self.prefix}/kit/"
        if not topic.startswith(head):
            return None
        account, _, node = topic[len(head):].partition("/")
        if not ACCOUNT.match(account) or not NODE.match(node) or int(node, 16) == 0:
            return None
        return account, int(node, 16)


def parse_url(url: str) -> tuple[str, int, bool]:
    """'mqtts://host[:8883]' or 'mqtt://host[:1883]' → (host, port, tls). Raises ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"broker URL {url!r}: use mqtts://HOST[:PORT]")
    tls = parts.scheme == "mqtts"
    return parts.hostname, parts.port or (8883 if tls else 1883), tls
