"""`kit serve` and `kit demo`: one Kit, its two web listeners and its radio, in one process."""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from waitress import create_server

from kit.cli import first_password, systemd
from kit.core import config as kit_config
from kit.core.kit import Kit
from kit.core.radio_port import RadioSpec
from kit.core.radio_port import parse as parse_radio
from kit.deploy import profile as kit_profile
from kit.exchange import vulnerable
from kit.radio import spec as radio_spec
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
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--admin-listen takes HOST:PORT or none, not {text!r}")
    return host, int(port)


def server(app, host: str, port: int):
    return create_server(app, host=host, port=port, **kit_config.WAITRESS)


def service_config(args, **overrides):
    from kit.radio.service import ServiceConfig  # the meshtastic package costs ~11 MB: only with a radio

    return ServiceConfig(sync_interval_s=args.sync_interval, **overrides)


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
        spec = radio_spec.resolve(parse_radio(args.radio))
        admin_listen = parse_listen(args.admin_listen)
        kit, url = open_kit(args.data, args.host, args.port, args.portal_url,
                            SIGNING_KEY=args.signing_key, TRUST_KEYS=args.trust_key, KIT_KEYS=args.kit_keys)
    except ValueError as exc:  # a bad key or option: say which, do not start
        print(f"kit serve: {exc}", file=sys.stderr)
        return 2
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
    servers = [server(create_app(kit=kit), args.host, args.port)]
    if admin_listen:
        servers.append(server(create_app({"LISTENER": "admin"}, kit=kit), *admin_listen))
        threading.Thread(target=servers[1].run, name="kit-admin", daemon=True).start()
    said = "no radio found: running without" if args.radio == "auto" and spec.kind == "none" else spec.describe()
    print(f"Kit tous risques: {url}  (data: {kit.data_dir}, radio: {said}, "
          f"ready in {time.monotonic() - started:.2f} s)", flush=True)
    if admin_listen:
        print(f"Crisis cell: {url_of(*admin_listen)}admin/  (operators only; never on the residents' Wi-Fi)",
              flush=True)
    systemd.ready(f"serving {url}")
    watchdog = systemd.start_watchdog(args.host, args.port, kit.database)
    try:
        servers[0].run()
    except KeyboardInterrupt:
        pass
    finally:
        systemd.stopping()
        if watchdog:
            watchdog.stop()
        for each in servers:
            each.close()
        if radio:
            radio.stop()
        if mesh:
            mesh.stop()
    return 0


def demo(args) -> int:
    """Three kits on a simulated LoRa mesh (radios in a line), each with its own web page."""
    from kit.sim import Mesh
    from kit.storage import settings

    mesh = Mesh(nodes=3, topology="line", preset=args.preset, nodeinfo_delay=2, nodeinfo_stagger=2).start()
    servers, radios = [], []
    territory_key = kit_config.new_kit_key()  # the three kits share one kit key
    print(f"Three kits on a simulated {args.preset} mesh (radio 1 relays between 0 and 2):")
    for i in range(3):
        kit, url = open_kit(Path(args.data) / f"kit{i}", args.host, args.port + i, KIT_KEYS=[territory_key])
        settings.put(kit.db(), "kit_name", f"Kit {i + 1} (démo)")
        radios.append(start_radio(kit, RadioSpec("tcp", host="127.0.0.1", port=mesh.port(i)), args,
                                  preset=args.preset))
        servers.append(server(create_app(kit=kit), args.host, args.port + i))
        print(f"  kit {i + 1}: {url}   (radio !{mesh.node_num(i):08x}, data {kit.data_dir})")
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
