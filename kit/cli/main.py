"""`kit` command line. The CLI and the library are one API: each command calls the same
functions the web app uses."""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from kit.core import config as kit_config
from kit.cli import deploy as deploy_commands
from kit.cli import exchange as exchange_commands


def _url(host: str, port: int) -> str:
    shown = "kit.lan" if host in ("0.0.0.0", "::") else host
    return f"http://{shown}{'' if port == 80 else f':{port}'}/"


def build_kit(data, host: str, port: int, portal_url: str | None = None, **overrides):
    """A kit app on its data folder, with the portal set up for the address it serves."""
    from kit.web.app import create_app

    url = _url(host, port)
    config = kit_config.build(data, PORTAL_URL=portal_url or url, **overrides)
    config["PORTAL_HOSTS"] = [*config["PORTAL_HOSTS"], url.split("/")[2].split(":")[0]]
    return create_app(config), url


def parse_listen(text: str) -> tuple[str, int] | None:
    if text == "none":
        return None
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--admin-listen takes HOST:PORT or none, not {text!r}")
    return host, int(port)


def serve_app(app, host: str, port: int):
    from waitress import create_server

    return create_server(app, host=host, port=port, **kit_config.WAITRESS)


def radio_config(args, **overrides):
    from kit.radio.service import ServiceConfig

    return ServiceConfig(sync_interval_s=args.sync_interval, **overrides)


def serve(args) -> int:
    from kit.radio import spec as radio_spec

    started = time.monotonic()
    profile = None
    if args.profile:  # the kit profile (kit.toml) fills the options left open
        from kit.deploy import profile as kit_profile

        try:
            profile = kit_profile.load(args.profile)
        except kit_profile.ProfileError as exc:
            print(f"kit serve: {exc}", file=sys.stderr)
            return 2
        kit_profile.apply_to_args(profile, args)
    try:
        spec = radio_spec.resolve(radio_spec.parse(args.radio))
    except ValueError as exc:
        print(f"kit serve: {exc}", file=sys.stderr)
        return 2
    try:
        admin_listen = parse_listen(args.admin_listen)
        app, url = build_kit(args.data, args.host, args.port, args.portal_url,
                             SIGNING_KEY=args.signing_key, TRUST_KEYS=args.trust_key)
    except ValueError as exc:  # a bad key or option: say which, do not start
        print(f"kit serve: {exc}", file=sys.stderr)
        return 2
    if profile is not None:
        generated = kit_profile.apply_to_database(profile, app.config["DATABASE"])
        if generated:  # shown once, in the journal; only its hash is kept
            print(f"First crisis-cell account {profile.admin_name!r} (admin) created. Its password, "
                  f"shown only now: {generated}", flush=True)
    admin_app = None
    if admin_listen:
        from kit.web.app import create_app

        admin_app = create_app({**app.config, "LISTENER": "admin"})
    mesh = None
    if spec.kind == "sim":  # one simulated radio of our own, on a free local port
        from kit.sim import Mesh

        mesh = Mesh(nodes=1).start()
        spec = radio_spec.RadioSpec("tcp", host="127.0.0.1", port=mesh.port(0))
    radio = None
    if spec.kind != "none":  # the meshtastic package costs ~11 MB: only with a radio
        from kit.radio import service as radio_service

        radio = radio_service.start(app, spec, radio_config(args))
    server = serve_app(app, args.host, args.port)
    admin_server = None
    if admin_app is not None:
        admin_app.extensions["radio"] = app.extensions["radio"]
        admin_server = serve_app(admin_app, *admin_listen)
        threading.Thread(target=admin_server.run, name="kit-admin", daemon=True).start()
    said = "no radio found: running without" if args.radio == "auto" and spec.kind == "none" else spec.describe()
    print(f"Kit tous risques: {url}  (data: {app.config['DATA_DIR']}, radio: {said}, "
          f"ready in {time.monotonic() - started:.2f} s)", flush=True)
    if admin_server is not None:
        print(f"Crisis cell: {_url(*admin_listen)}admin/  (operators only; never on the residents' Wi-Fi)",
              flush=True)
    from kit.cli import systemd

    systemd.ready(f"serving {url}")
    watchdog = systemd.start_watchdog(args.host, args.port, app.config["DATABASE"])
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        systemd.stopping()
        if watchdog:
            watchdog.stop()
        server.close()
        if admin_server is not None:
            admin_server.close()
        if radio:
            radio.stop()
        if mesh:
            mesh.stop()
    return 0


def demo(args) -> int:
    """Three kits on a simulated LoRa mesh (radios in a line), each with its own web page."""
    from kit.radio import service as radio_service
    from kit.radio.spec import RadioSpec
    from kit.sim import Mesh

    mesh = Mesh(nodes=3, topology="line", preset=args.preset, nodeinfo_delay=2, nodeinfo_stagger=2).start()
    servers, radios = [], []
    print(f"Three kits on a simulated {args.preset} mesh (radio 1 relays between 0 and 2):")
    for i in range(3):
        app, url = build_kit(Path(args.data) / f"kit{i}", args.host, args.port + i)
        with app.app_context():
            from kit.storage import settings
            from kit.storage.db import get_db

            settings.put(get_db(), "kit_name", f"Kit {i + 1} (démo)")
        radios.append(radio_service.start(app, RadioSpec("tcp", host="127.0.0.1", port=mesh.port(i)),
                                          radio_config(args, preset=args.preset)))
        servers.append(serve_app(app, args.host, args.port + i))
        print(f"  kit {i + 1}: {url}   (radio !{mesh.node_num(i):08x}, data {app.config['DATA_DIR']})")
    print("Post a message on one kit's « Messages » page and watch it arrive on the others. Ctrl-C stops.",
          flush=True)
    threads = [threading.Thread(target=s.run, daemon=True) for s in servers]
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for s in servers:
            s.close()
        for radio in radios:
            radio.stop()
        mesh.stop()
    return 0


def open_database(data):
    """The kit's database, created or upgraded, for the administration commands."""
    from kit.storage import db
    from kit.web.app import prepare_database

    config = kit_config.build(data)
    prepare_database(config["DATABASE"])
    return db.connect(config["DATABASE"])


def user(args) -> int:
    from kit.core import auth, journal

    database = open_database(args.data)
    try:
        if args.action == "add":
            password = auth.add_user(database, args.name, args.role)
            journal.log(database, "cli", "cli", "user.add", args.name, args.role, verification="verifiee")
            print(f"Account {args.name} ({args.role}) created. Its password, shown only now:")
            print(password)
        elif args.action == "passwd":
            password = auth.set_password(database, args.name)
            journal.log(database, "cli", "cli", "user.passwd", args.name, verification="verifiee")
            print(f"New password for {args.name}, shown only now:")
            print(password)
        elif args.action in ("disable", "enable"):
            auth.set_disabled(database, args.name, args.action == "disable")
            journal.log(database, "cli", "cli", f"user.{args.action}", args.name, verification="verifiee")
            print(f"Account {args.name} {args.action}d.")
        else:
            for account in auth.users(database):
                print(f"{account['name']}\t{account['role']}\t{'disabled' if account['disabled'] else 'active'}")
    except auth.AccountError as exc:
        print(f"kit user: {exc}", file=sys.stderr)
        return 2
    return 0


def keys(args) -> int:
    from kit.crypto import signing

    try:
        public = signing.new_key(args.out)
    except FileExistsError:
        print(f"kit keys new: {args.out} exists; a key is never overwritten", file=sys.stderr)
        return 2
    print(f"Private key written to {args.out} (keep it on the crisis cell's kits only).")
    print("Public key, for every kit's --trust-key (and the kit profile):")
    print(public)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kit", description="Kit tous risques — offline crisis kit.")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="run the kit's web app and radio")
    p.add_argument("--data", help=f"data folder (default $KIT_DATA or ./{kit_config.DEFAULT_DATA_DIR})")
    p.add_argument("--host", default=kit_config.DEFAULT_HOST)
    p.add_argument("--port", type=int, default=kit_config.DEFAULT_PORT)
    p.add_argument("--radio", default="auto",
                   help="auto (the USB radio if one is plugged in), none, sim, serial:PATH, tcp:HOST[:PORT]")
    p.add_argument("--sync-interval", type=float, default=600.0, metavar="SECONDS",
                   help="longest gap between two sync digests on a quiet mesh (default 600)")
    p.add_argument("--portal-url", help="the kit's address for redirected phones (default: the URL served)")
    p.add_argument("--admin-listen", default="127.0.0.1:8081", metavar="HOST:PORT",
                   help="the crisis cell's listener, never the Wi-Fi's address (default 127.0.0.1:8081; none)")
    p.add_argument("--signing-key", metavar="FILE", help="sign official alerts with this key (kit keys new)")
    p.add_argument("--trust-key", action="append", default=[], metavar="PUBKEY",
                   help="a public key whose alerts this kit shows as official (repeatable)")
    p.add_argument("--profile", metavar="FILE", help="the kit profile (kit.toml): identity, keys, radio, first admin")
    p.set_defaults(handler=serve)

    u = commands.add_parser("user", help="operator accounts (no account exists until you add one)")
    u.add_argument("action", choices=["add", "passwd", "disable", "enable", "list"])
    u.add_argument("name", nargs="?")
    u.add_argument("--role", choices=["admin", "operator", "volunteer"], default="operator")
    u.add_argument("--data", help="data folder (default $KIT_DATA or ./kit-data)")
    u.set_defaults(handler=user)

    k = commands.add_parser("keys", help="the mairie's signing keys")
    k.add_argument("action", choices=["new"])
    k.add_argument("--out", required=True, metavar="FILE", help="where to write the private key")
    k.set_defaults(handler=keys)

    d = commands.add_parser("demo", help="three kits on a simulated mesh, each with its web page")
    d.add_argument("--data", default="kit-demo", help="folder for the three kits' data (default ./kit-demo)")
    d.add_argument("--host", default=kit_config.DEFAULT_HOST)
    d.add_argument("--port", type=int, default=8080, help="first kit's port; the others follow")
    d.add_argument("--preset", default="LONG_FAST", help="LoRa preset of the simulated radios")
    d.add_argument("--sync-interval", type=float, default=600.0, metavar="SECONDS")
    d.set_defaults(handler=demo)
    exchange_commands.register(commands)
    deploy_commands.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "user" and args.action != "list" and not args.name:
        parser.error(f"kit user {args.action} needs an account NAME")
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
