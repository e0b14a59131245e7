"""`kit territory --profile kit.toml [--data DIR] [--listen HOST:PORT]`: the territory page
(kit/web/territory_app.py) on its own listener, fed by the profile's broker. It is a kit of
the territory (its own data folder, broker account and the territory's kit keys): it reads
every kit's frames, checks them like any kit, and stores them; it makes no record itself."""
from __future__ import annotations

import sys

from kit.core import config as kit_config
from kit.core.kit import Kit
from kit.deploy import profile as kit_profile


def territory(args) -> int:
    from kit.cli.serve import ListenError, server
    from kit.radio import broker as broker_link
    from kit.web.territory_app import create_territory_app

    try:
        profile = kit_profile.load(args.profile)
    except kit_profile.ProfileError as exc:
        print(exc, file=sys.stderr)
        return 2
    if profile.federation is None:
        print(f"kit territory: {args.profile} has no [federation] section (see deploy/README.md)", file=sys.stderr)
        return 2
    host, port = kit_config.parse_listen(args.listen)
    kit = Kit(kit_config.build(args.data, KIT_KEYS=list(profile.kit_keys) or None, TRUST_KEYS=list(profile.trust_keys)))
    try:
        listener = server(create_territory_app(kit), host, port, admin=True, flag="--listen")
    except ListenError as exc:
        print(f"kit territory: {exc}", file=sys.stderr)
        return 1
    link = broker_link.start(kit, profile.federation.spec())
    print(f"Territory: http://{host}:{port}/  (broker {profile.federation.spec().describe()})", flush=True)
    try:
        listener.run()
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
        link.stop()
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("territory", help="every kit of the territory, from its MQTT broker (read-only page)")
    p.add_argument("--profile", required=True, metavar="PROFILE", help="a kit.toml with a [federation] section")
    p.add_argument("--data", default=None, metavar="DIR", help="this viewer's data folder (default: $KIT_DATA)")
    p.add_argument("--listen", default="127.0.0.1:8090", metavar="HOST:PORT")
    p.set_defaults(handler=territory)
