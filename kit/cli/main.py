"""`kit` command line. The CLI and the library are one API: each command calls the same
functions the web app uses."""
from __future__ import annotations

import argparse
import sys

from kit.cli import deploy_commands, exchange_commands, territory_command
from kit.cli.serve import demo, serve
from kit.core import auth
from kit.core import config as kit_config
from kit.core.kit import Kit
from kit.crypto import signing


def user(args) -> int:
    kit = Kit.open(args.data, TRUST_KEYS=None)
    try:
        if args.action == "add":
            password = kit.add_user(args.name, args.role, "cli", "cli")
            print(f"Account {args.name} ({args.role}) created. Its password, shown only now:")
            print(password)
        elif args.action == "passwd":
            password = kit.set_password(args.name, "cli", "cli")
            print(f"New password for {args.name}, shown only now:")
            print(password)
        elif args.action in ("disable", "enable"):
            kit.set_disabled(args.name, args.action == "disable", "cli", "cli")
            print(f"Account {args.name} {args.action}d.")
        else:
            for account in auth.users(kit.db()):
                print(f"{account['name']}\t{account['role']}\t{'disabled' if account['disabled'] else 'active'}")
    except auth.AccountError as exc:
        print(f"kit user: {exc}", file=sys.stderr)
        return 2
    return 0


def keys(args) -> int:
    if args.action == "new-kit-key":
        print("# The territory's kit key: the same line in every kit's profile ([keys] kit_keys),")
        print("# never in a handheld. To rotate, put a new line (new id) first and keep the old one")
        print("# second until every kit has the new profile.")
        print(kit_config.new_kit_key(args.id))
        return 0
    if not args.out:
        print("kit keys new: --out FILE is required", file=sys.stderr)
        return 2
    try:
        public = signing.new_key(args.out)
    except FileExistsError:
        print(f"kit keys new: {args.out} exists; a key is never overwritten", file=sys.stderr)
        return 2
    print(f"Private key written to {args.out} (keep it on the crisis cell's kits only).")
    print("Public key, for every kit's --trust-key (and the kit profile):")
    print(public)
    return 0


def _kit_keys_file(path: str) -> list[str]:
    try:
        lines = [line.strip() for line in open(path, encoding="utf-8") if line.strip() and not line.startswith("#")]
        kit_config.kit_keys_from_text(lines)
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{path}: {exc}") from None
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kit", description="Kit tous risques — offline crisis kit.")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="run the kit's web app and radio")
    p.add_argument("--data", help=f"data folder (default $KIT_DATA or ./{kit_config.DEFAULT_DATA_DIR})")
    p.add_argument("--host", default=kit_config.DEFAULT_HOST)
    p.add_argument("--port", type=int, default=kit_config.DEFAULT_PORT)
    p.add_argument("--radio", default=kit_config.DEFAULT_RADIO,
                   help="auto (the USB radio if one is plugged in), none, sim, serial:PATH, tcp:HOST[:PORT]")
    p.add_argument("--sync-interval", type=float, default=kit_config.SYNC_INTERVAL_S, metavar="SECONDS",
                   help=f"longest gap between two sync digests on a quiet mesh (default {kit_config.SYNC_INTERVAL_S:g})")
    p.add_argument("--sync-hops", type=int, default=None, metavar="N",
                   help="hop limit of sync frames (default 0: the kits in range pass records on; "
                        "the routers between two kits where they only hear each other through routers)")
    p.add_argument("--portal-url", help="the kit's address for redirected phones (default: the URL served)")
    p.add_argument("--admin-listen", default=kit_config.DEFAULT_ADMIN_LISTEN, metavar="HOST:PORT",
                   help=f"the crisis cell's listener, never the Wi-Fi's address "
                        f"(default {kit_config.DEFAULT_ADMIN_LISTEN}; none)")
    p.add_argument("--connections-per-address", type=int, default=kit_config.CONNECTIONS_PER_ADDRESS, metavar="N",
                   help=f"most connections one address may hold on the residents' listener (default "
                        f"{kit_config.CONNECTIONS_PER_ADDRESS}; 0: no cap, behind a proxy or NAT or for a load "
                        f"test from one machine)")
    p.add_argument("--signing-key", metavar="FILE", help="sign official alerts with this key (kit keys new)")
    p.add_argument("--trust-key", action="append", default=[], metavar="PUBKEY",
                   help="a public key whose alerts this kit shows as official (repeatable)")
    p.add_argument("--kit-keys", metavar="FILE", type=_kit_keys_file,
                   help="the territory's kit keys, one ID:BASE64 line each, current first (kit keys new-kit-key)")
    p.add_argument("--profile", metavar="FILE", help="the kit profile (kit.toml): identity, keys, radio, first admin")
    p.add_argument("--register-key", metavar="FILE",
                   help="the register of vulnerable people's key, outside the data folder (also $KIT_REGISTER_KEY, "
                        "or the systemd credential register.key)")
    p.set_defaults(handler=serve)

    u = commands.add_parser("user", help="operator accounts (no account exists until you add one)")
    u.add_argument("action", choices=["add", "passwd", "disable", "enable", "list"])
    u.add_argument("name", nargs="?")
    u.add_argument("--role", choices=["admin", "operator", "volunteer"], default="operator")
    u.add_argument("--data", help=f"data folder (default $KIT_DATA or ./{kit_config.DEFAULT_DATA_DIR})")
    u.set_defaults(handler=user)

    k = commands.add_parser("keys", help="the mairie's signing keys")
    k.add_argument("action", choices=["new", "new-kit-key"],
                   help="new: the mairie's signing key pair; new-kit-key: the territory's kit key")
    k.add_argument("--out", metavar="FILE", help="new: where to write the private key")
    k.add_argument("--id", type=int, default=1, help="new-kit-key: its id, 0–255 (a new id for each rotation)")
    k.set_defaults(handler=keys)

    d = commands.add_parser("demo", help="three kits on a simulated mesh, each with its web page")
    d.add_argument("--data", default=kit_config.DEMO_DATA_DIR,
                   help=f"folder for the three kits' data (default ./{kit_config.DEMO_DATA_DIR})")
    d.add_argument("--host", default=kit_config.DEFAULT_HOST)
    d.add_argument("--port", type=int, default=kit_config.DEFAULT_PORT, help="first kit's port; the others follow")
    d.add_argument("--preset", default=kit_config.PRESET, help="LoRa preset of the simulated radios")
    d.add_argument("--sync-interval", type=float, default=kit_config.SYNC_INTERVAL_S, metavar="SECONDS")
    d.set_defaults(handler=demo)
    exchange_commands.register(commands)
    deploy_commands.register(commands)
    territory_command.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "user" and args.action != "list" and not args.name:
        parser.error(f"kit user {args.action} needs an account NAME")
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
