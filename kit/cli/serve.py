"""`kit serve` and `kit demo`: one Kit, its two web listeners and its radio, in one process."""
from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import time
from pathlib import Path

from kit.cli import first_password, systemd
from kit.core import auth, runs
from kit.core import config as kit_config
from kit.core.kit import Kit
from kit.core.radio_port import RadioSpec
from kit.core.radio_port import parse as parse_radio
from kit.deploy import profile as kit_profile
from kit.exchange import vulnerable
from kit.radio import spec as radio_spec
from kit.web import wsgi_server
from kit.web.app import create_app


def url_of(host: str, port: int) -> str:
    shown = "kit.lan" if host in ("0.0.0.0", "::") else host
    return f"http://{shown}{'' if port == 80 else f':{port}'}/"


def open_kit(data, host: str, port: int, portal_url: str | None = None, **overrides) -> tuple[Kit, str]:
    """The Kit on its data folder, with the portal set up for the address it serves."""
    url = url_of(host, port)
    config = kit_config.build(data, PORTAL_URL=portal_url or url, **overrides)
    config["PORTAL_HOSTS"] = [*config["PORTAL_HOSTS"], url.split("/")[2].split(":")[0]]
    return Kit(config), url


def parse_listen(text: str) -> tuple[str, int] | None:
    if text == "none":
        return None
    try:
        return kit_config.parse_listen(text)
    except ValueError as exc:
        raise ValueError(f"--admin-listen takes HOST:PORT or none: {exc}") from None


class ListenError(Exception):
    """A listener cannot open its port: one line for the operator, naming the flag to change."""


def server(app, host: str, port: int, *, admin: bool = False, flag: str = "--port",
           per_address: int = kit_config.CONNECTIONS_PER_ADDRESS):
    """A bound, listening server; the residents' one caps connections per address (0: no cap)."""
    try:
        if admin:
            return wsgi_server.create(app, host, port, per_address=None,
                                      request_deadline=kit_config.ADMIN_REQUEST_DEADLINE_S,
                                      **kit_config.WAITRESS)
        return wsgi_server.create(app, host, port, per_address=per_address or None,
                                  request_deadline=kit_config.REQUEST_DEADLINE_S, **kit_config.WAITRESS)
    except OSError as exc:
        raise ListenError(listen_problem(exc, host, port, flag)) from None


def listen_problem(exc: OSError, host: str, port: int, flag: str) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (f"{where} is already in use (another kit, or another program, listens there): "
                f"stop it or give this kit another port with {flag}")
    if exc.errno == errno.EACCES:
        return f"{where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE); use {flag}"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{where}: {host} is not an address of this machine; use {flag} with one of its addresses"
    return f"{where} cannot be opened ({exc.strerror or exc}); use {flag}"


def service_config(args, **overrides):
    from kit.radio.service import (
        ServiceConfig,  # the meshtastic package costs ~11 MB: only with a radio
    )

    hops = getattr(args, "sync_hops", None)
    return ServiceConfig(sync_interval_s=args.sync_interval, sync_hops=hops or 0, **overrides)


def start_radio(kit: Kit, spec: RadioSpec, args, **overrides):
    from kit.radio import service as radio_service

    return radio_service.start(kit, spec, service_config(args, **overrides))


def serve(args) -> int:
    started = time.monotonic()
    profile = None
    if args.profile:  # the kit profile (kit.toml) fills the options left open
        try:
            profile = kit_profile.load(args.profile)
        except kit_profile.ProfileError as exc:
            print(f"kit serve: {exc}", file=sys.stderr)
            return 2
        kit_profile.apply_to_args(profile, args)
    try:
        if args.connections_per_address < 0:
            raise ValueError("--connections-per-address takes a number of connections, or 0 for no cap")
        spec = radio_spec.resolve(parse_radio(args.radio))
        admin_listen = parse_listen(args.admin_listen)
        kit, url = open_kit(args.data, args.host, args.port, args.portal_url,
                            SIGNING_KEY=args.signing_key, TRUST_KEYS=args.trust_key, KIT_KEYS=args.kit_keys)
    except ValueError as exc:  # a bad key or option: say which, do not start
        print(f"kit serve: {exc}", file=sys.stderr)
        return 2
    # The ports first: a port in use stops the kit here, before its radio starts, with one line.
    residents = create_app(kit=kit)
    servers = []
    try:
        servers.append(server(residents, args.host, args.port, flag="--port",
                              per_address=args.connections_per_address))
        if admin_listen:
            servers.append(server(create_app({"LISTENER": "admin"}, kit=kit), *admin_listen, admin=True,
                                  flag="--admin-listen"))
    except ListenError as exc:
        for each in servers:
            each.close()
        kit.close()
        print(f"kit serve: {exc}", file=sys.stderr)
        return 1
    if args.register_key:  # read where the register is opened (kit/exchange/vulnerable.py)
        os.environ[vulnerable.KEY_ENV] = str(Path(args.register_key).resolve())
    if vulnerable.key_in_data_folder(kit.data_dir):
        print(f"kit serve: the register's key is still in the data folder ({kit.data_dir}): move it with "
              "`kit register-key move --to FILE` (see deploy/README.md)", file=sys.stderr, flush=True)
    if profile is not None:
        generated = kit_profile.apply_to_kit(profile, kit)
        if generated:  # never in the journal; only its hash is kept in the database
            first_password.announce(profile.admin_name, generated, kit.data_dir)
    mesh = None
    if spec.kind == "sim":  # one simulated radio of our own, on a free local port
        from kit.sim import Mesh

        mesh = Mesh(nodes=1).start()
        spec = RadioSpec("tcp", host="127.0.0.1", port=mesh.port(0))
    radio = start_radio(kit, spec, args) if spec.kind != "none" else None
    broker = None
    if profile is not None and profile.federation is not None:  # the territory's MQTT broker
        from kit.radio import broker as broker_link

        broker = broker_link.start(kit, profile.federation.spec())
    if admin_listen:
        threading.Thread(target=servers[1].run, name="kit-admin", daemon=True).start()
    runs.started(kit, int(time.time()))
    # systemctl stop, reboot: SIGTERM ends the run through the `finally` below (servers closed,
    # radio stopped, the run marked clean), not by the default action that skips it.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    said = "no radio found: running without" if args.radio == "auto" and spec.kind == "none" else spec.describe()
    if broker:
        said += f", territory broker: {broker.spec.describe()}"
    print(f"Kit tous risques: {url}  (data: {kit.data_dir}, radio: {said}, "
          f"ready in {time.monotonic() - started:.2f} s)", flush=True)
    if admin_listen:
        print(f"Crisis cell: {url_of(*admin_listen)}admin/  (operators only; never on the residents' Wi-Fi)",
              flush=True)
    systemd.ready(f"serving {url}")
    watchdog = systemd.start_watchdog(residents, servers, kit.database)
    try:
        servers[0].run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        systemd.stopping()
        if watchdog:
            watchdog.stop()
        for each in servers:
            each.close()
        if radio:
            radio.stop()
        if broker:
            broker.stop()
        if mesh:
            mesh.stop()
        runs.stopped(kit)
    return 0


DEMO_ACCOUNT = "demo"
DEMO_CELL_OFFSET = 10  # kit i's crisis cell listens on --port + 10 + i (its residents on --port + i)


def demo_operator(kit: Kit, password: str) -> None:
    """The demo's operator account on one kit (made again with this run's password)."""
    if all(account["name"] != DEMO_ACCOUNT for account in auth.users(kit.db())):
        kit.add_user(DEMO_ACCOUNT, "operator", "kit demo", "cli", password=password)
    else:
        kit.set_password(DEMO_ACCOUNT, "kit demo", "cli", password)


def _exit_on_sigterm(signum, frame):
    raise SystemExit(0)


def demo(args) -> int:
    """Three kits on a simulated LoRa mesh (radios in a line), each with its residents' page
    and its crisis cell. A resident's post waits for an operator's approval before the radio
    (issue 14): the demo makes an operator account and prints where to approve."""
    from kit.sim import Mesh
    from kit.storage import settings

    mesh = Mesh(nodes=3, topology="line", preset=args.preset, nodeinfo_delay=2, nodeinfo_stagger=2).start()
    servers, radios = [], []
    territory_key = kit_config.new_kit_key()  # the three kits share one kit key
    password = auth.new_password()  # one for the three kits, shown on the terminal only
    print(f"Three kits on a simulated {args.preset} mesh (radio 1 relays between 0 and 2):")
    try:
        for i in range(3):
            kit, url = open_kit(Path(args.data) / f"kit{i}", args.host, args.port + i, KIT_KEYS=[territory_key])
            settings.put(kit.db(), "kit_name", f"Kit {i + 1} (démo)")
            demo_operator(kit, password)
            servers.append(server(create_app(kit=kit), args.host, args.port + i, flag="--port"))
            cell_port = args.port + DEMO_CELL_OFFSET + i
            servers.append(server(create_app({"LISTENER": "admin"}, kit=kit), args.host, cell_port, admin=True,
                                  flag="--port"))
            radios.append(start_radio(kit, RadioSpec("tcp", host="127.0.0.1", port=mesh.port(i)), args,
                                      preset=args.preset))
            print(f"  kit {i + 1}: {url}   crisis cell: {url_of(args.host, cell_port)}admin/"
                  f"   (radio !{mesh.node_num(i):08x}, data {kit.data_dir})")
    except ListenError as exc:  # the demo uses --port, --port + 1 and --port + 2
        for each in servers:
            each.close()
        for radio in radios:
            radio.stop()
        mesh.stop()
        print(f"kit demo: {exc}", file=sys.stderr)
        return 1
    print(f"Crisis-cell login on every kit: {DEMO_ACCOUNT} / {password}\n"
          "1. Post a message on one kit's « Messages » page: it waits for an operator's approval.\n"
          "2. Approve it on that kit's crisis cell (Modération, with the login above).\n"
          "3. Watch it arrive on the other kits' « Messages » pages (about a minute over the radio).\n"
          "A check-in on « Je suis en sécurité » needs no approval: it goes out at once. Ctrl-C stops.",
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
