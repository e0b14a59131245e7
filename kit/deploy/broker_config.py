"""The territory's Mosquitto broker, rendered: one TLS listener, one account per kit, and an
ACL by which every kit reads the territory's frames and publishes only under its own topic.

Debian's `mosquitto` package reads /etc/mosquitto/conf.d/*.conf; `kit profile render` of a
profile with `[federation] host_broker = true` writes these files (deploy/README.md, "Federation").
Accounts: `mosquitto_passwd /etc/mosquitto/kit-territory.passwd KIT-ID` per kit (the kit's
`[federation] account`); revoking a kit is deleting its line (`mosquitto_passwd -D`) and
`systemctl reload mosquitto` (SIGHUP re-reads the password and ACL files).
"""
from __future__ import annotations

from dataclasses import dataclass

CONF = "etc/mosquitto/conf.d/kit-territory.conf"
ACL = "etc/mosquitto/kit-territory.acl"


@dataclass(frozen=True)
class BrokerFiles:
    prefix: str
    port: int = 8883
    bind: str = ""                      # "" : every address
    cafile: str = "/etc/mosquitto/certs/territory-ca.crt"
    certfile: str = "/etc/mosquitto/certs/broker.crt"
    keyfile: str = "/etc/mosquitto/certs/broker.key"
    password_file: str = "/etc/mosquitto/kit-territory.passwd"
    acl_file: str = "/" + ACL
    persistence_dir: str = ""           # "" : the Debian default (/var/lib/mosquitto/)
    run_as_root: bool = False           # tests only: the broker keeps reading their temporary files


def acl(files: BrokerFiles) -> str:
    # `pattern` lines apply to every account (a `topic` line before any `user` line would
    # apply to anonymous clients only; mosquitto.conf(5), acl_file); %u is the account's name.
    # Mosquitto warns that the read pattern has no %u: every account reads it, as meant.
    return (f"# Kit tous risques — territory {files.prefix}: rendered by `kit profile render`\n"
            f"# Every kit reads every kit's frames; a kit publishes only under its own account.\n"
            f"pattern read {files.prefix}/kit/#\n"
            f"pattern write {files.prefix}/kit/%u/#\n")


def conf(files: BrokerFiles) -> str:
    lines = [
        f"# Kit tous risques — territory {files.prefix}: rendered by `kit profile render`",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {files.password_file}",
        f"acl_file {files.acl_file}",
        # QoS 1 on persistent sessions: what arrives for a kit that is away waits for it,
        # on disk (autosaved), so that a broker restart loses nothing either.
        "persistence true",
        "autosave_interval 30",
        "max_queued_messages 100000",
        "max_inflight_messages 100",
        "max_packet_size 2048",          # a kit frame is at most 200 bytes + its tag, plus the topic
        "persistent_client_expiration 14d",
    ]
    if files.persistence_dir:
        lines.append(f"persistence_location {files.persistence_dir.rstrip('/')}/")
    if files.run_as_root:
        lines.append("user root")
    lines += [
        f"listener {files.port}{' ' + files.bind if files.bind else ''}",
        f"cafile {files.cafile}",
        f"certfile {files.certfile}",
        f"keyfile {files.keyfile}",
        "tls_version tlsv1.2",
        "",
    ]
    return "\n".join(lines)


def render(files: BrokerFiles) -> dict[str, tuple[bytes, int]]:
    return {CONF: (conf(files).encode(), 0o644), ACL: (acl(files).encode(), 0o644)}
