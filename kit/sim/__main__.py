"""Run a simulated mesh until Ctrl-C:

    python -m kit.sim --nodes 3 --topology line --base-port 4403 --preset LONG_FAST --loss 0.0 --speed 1.0
"""
from __future__ import annotations

import argparse
import signal
import threading

from kit.sim.simulated_mesh import Mesh


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kit.sim", description=__doc__)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--topology", choices=["line", "full", "star"], default="line")
    parser.add_argument("--base-port", type=int, default=4403)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--preset", default="LONG_FAST")
    parser.add_argument("--loss", type=float, default=0.0, help="loss probability on every link")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--channel-name", default="")
    parser.add_argument("--state-dir", default=None, help="keep node state here across runs")
    args = parser.parse_args(argv)

    mesh = Mesh(args.nodes, args.topology, preset=args.preset, loss=args.loss, speed=args.speed,
                base_port=args.base_port, host=args.host, seed=args.seed,
                channel_name=args.channel_name, state_dir=args.state_dir)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    mesh.start()
    try:
        for i in range(args.nodes):
            print(f"node {i} !{mesh.node_num(i):08x} on {args.host}:{mesh.port(i)}", flush=True)
        print(f"{args.topology} mesh, {args.preset}, speed x{args.speed}; Ctrl-C to stop", flush=True)
        stop.wait()
    finally:
        mesh.stop()


if __name__ == "__main__":
    main()
