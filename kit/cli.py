"""`kit` command line. The CLI and the library are one API: each command calls the same
functions the web app uses."""
from __future__ import annotations

import argparse
import sys
import time

from . import config as kit_config


def serve(args) -> int:
    from waitress import create_server

    from .app import create_app

    started = time.monotonic()
    port_part = "" if args.port == 80 else f":{args.port}"
    shown_host = "kit.lan" if args.host in ("0.0.0.0", "::") else args.host
    url = f"http://{shown_host}{port_part}/"
    overrides = {"RADIO": args.radio, "PORTAL_URL": args.portal_url or url}
    config = kit_config.build(args.data, **overrides)
    config["PORTAL_HOSTS"] = [*config["PORTAL_HOSTS"], shown_host]
    app = create_app(config)
    server = create_server(app, host=args.host, port=args.port, **kit_config.WAITRESS)
    print(f"Kit tous risques: {url}  (data: {app.config['DATA_DIR']}, radio: {args.radio}, "
          f"ready in {time.monotonic() - started:.2f} s)", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kit", description="Kit tous risques — offline crisis kit.")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="run the kit's web app (and radio)")
    p.add_argument("--data", help=f"data folder (default ${'{KIT_DATA}'} or ./{kit_config.DEFAULT_DATA_DIR})")
    p.add_argument("--host", default=kit_config.DEFAULT_HOST)
    p.add_argument("--port", type=int, default=kit_config.DEFAULT_PORT)
    p.add_argument("--radio", default="none", help="none (more choices come with the mesh)")
    p.add_argument("--portal-url", help="the kit's address for redirected phones (default: the URL served)")
    p.set_defaults(handler=serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
