"""`kit-meshtasticd`: one simulated node, started the way `meshtasticd` is started in simulator mode.

    kit-meshtasticd -s -h 16 -p 4404 -d /tmp/node0 -e

Options (the subset of meshtasticd/portduino that the `meshtastic` test harness uses):

    -s, --sim          simulator mode: transmissions go to the API client as SIMULATOR_APP
                       packets, SIMULATOR_APP packets from the client are received over the air
    -h, --hwid HWID    hardware id: a number (MAC 80:00:<hwid>) or a 12-hex-digit MAC;
                       the node number is the MAC's last four bytes (fw NodeDB::pickNewNodeNum)
    -p, --port PORT    TCP API port (4403)
    -d, --fsdir DIR    persistent storage: config, channels, owner, node database (JSON)
    -e, --erase        erase the node's storage in DIR before starting
    --host ADDR        address to listen on (127.0.0.1; meshtasticd listens on all addresses)
    --help

Without -s the node has no radio to talk to (this simulator drives no LoRa hardware): its
transmissions are dropped. Admin `exit_simulator`, SIGTERM and SIGINT stop the process with its
state saved. A reboot (admin reboot, config commit, factory reset) closes the TCP listener and
opens it again, state kept in DIR, as the real daemon does when it restarts.

The node itself is kit.sim's SimNode - the same code that serves `kit serve --radio sim`,
`make demo` and the in-process test bench; only the radio differs (kit.sim.simradio).
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

from kit.sim.clock import Scheduler
from kit.sim.node import SimNode
from kit.sim.simradio import SimulatorRadio
from kit.sim.state import STATE_FILE, NodeState
from kit.sim.stream_server import StreamServer

log = logging.getLogger("kit.sim.meshtasticd")

DEFAULT_PORT = 4403  # SERVER_API_DEFAULT_PORT
DEFAULT_FSDIR = "~/.portduino/default"
NUM_RESERVED = 4  # fw NodeDB.h: node numbers 0..3 are reserved
LISTENER_DOWN_S = 0.3  # how long the TCP port refuses connections while "rebooting"
FIRST_NODEINFO_S = 30.0  # NodeInfoModule's first broadcast after boot (setStartDelay)


class _Radioless:
    """No LoRa hardware (meshtasticd without -s and without a config.yaml radio)."""

    simulated = False

    def busy(self) -> bool:
        return False

    def channel_util_percent(self) -> float:
        return 0.0

    def transmit(self, frame) -> None:
        pass


def node_num_from_hwid(hwid: str | None, port: int) -> int:
    """fw getMacAddr (portduino) + NodeDB::pickNewNodeNum."""
    if hwid:
        if len(hwid) >= 12:
            mac = bytes.fromhex(hwid.replace(":", "")[:12])
        else:
            value = int(hwid) & 0xFFFFFFFF
            mac = bytes((0x80, 0)) + value.to_bytes(4, "big")
        num = int.from_bytes(mac[2:6], "big")
    else:
        num = 0x4B500000 | (port & 0xFFFF)  # no MAC to read here: a stable number per port
    if num < NUM_RESERVED or num == 0xFFFFFFFF:
        num = random.Random(num).randrange(NUM_RESERVED, 0xFFFFFFFF)
    return num


def factory_state(node_num: int) -> NodeState:
    """meshtasticd's factory defaults: LONG_FAST, hop limit 3, CLIENT, region UNSET."""
    return NodeState.fresh(node_num, region="UNSET")


class Daemon:
    """One node, its simulator radio and its TCP API, in this process."""

    def __init__(self, node_num: int, port: int, state_dir: Path, *, simulator: bool = True,
                 host: str = "127.0.0.1", erase: bool = False, speed: float = 1.0):
        self.state_dir = state_dir
        if erase:
            erase_storage(state_dir)
        state = NodeState.load(state_dir)
        if state is None:
            state = factory_state(node_num)
        self.scheduler = Scheduler(speed, name=f"kit-meshtasticd-{port}")
        self.node = SimNode(self.scheduler, state, rng=random.Random(port),
                            first_nodeinfo_delay=FIRST_NODEINFO_S, state_dir=state_dir)
        self.node.default_state = factory_state
        self.node.attach_radio(SimulatorRadio(self.node) if simulator else _Radioless())
        self.node.on_exit_simulator = self.stop
        self.node.on_reboot = self._restart_listener
        self.server = StreamServer(self.node.api, self.scheduler, host, port)
        self.stopped = threading.Event()

    def start(self) -> None:
        self.scheduler.start()
        self.scheduler.run_sync(self.node.boot)
        self.scheduler.run_sync(self.node.save)
        self.server.start()

    def stop(self) -> None:
        self.stopped.set()

    def _restart_listener(self) -> None:
        """The process restarts on reboot: TCP clients are dropped, the port comes back."""
        def cycle() -> None:
            self.server.stop()
            time.sleep(LISTENER_DOWN_S)
            if not self.stopped.is_set():
                try:
                    self.server.start()
                except OSError:
                    log.exception("could not listen again on port %s", self.server.port)
                    self.stop()
        threading.Thread(target=cycle, name="kit-meshtasticd-reboot", daemon=True).start()

    def shutdown(self) -> None:
        self.server.stop()
        try:
            self.scheduler.run_sync(self.node.save)
            self.scheduler.run_sync(self.node.power_off)
        finally:
            self.scheduler.stop()


def erase_storage(state_dir: Path) -> None:
    """-e: forget everything the node stored (only the simulator's own files are removed)."""
    for name in (STATE_FILE, STATE_FILE + ".tmp"):
        try:
            (state_dir / name).unlink()
        except FileNotFoundError:
            pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kit-meshtasticd", add_help=False,
                                     description="One simulated Meshtastic node (meshtasticd -s).")
    parser.add_argument("--help", action="help", help="show this help and exit")
    parser.add_argument("-s", "--sim", action="store_true", help="simulated radio mode")
    parser.add_argument("-h", "--hwid", default=None, help="hardware id (number or MAC)")
    parser.add_argument("-p", "--port", type=int, default=DEFAULT_PORT, help="TCP API port")
    parser.add_argument("-d", "--fsdir", default=DEFAULT_FSDIR, help="persistent storage directory")
    parser.add_argument("-e", "--erase", action="store_true", help="erase storage at start")
    parser.add_argument("--host", default="127.0.0.1", help="listen address")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state_dir = Path(os.path.expanduser(args.fsdir))
    state_dir.mkdir(parents=True, exist_ok=True)
    node_num = node_num_from_hwid(args.hwid, args.port)
    daemon = Daemon(node_num, args.port, state_dir, simulator=args.sim, host=args.host,
                    erase=args.erase)
    signal.signal(signal.SIGTERM, lambda *_: daemon.stop())
    signal.signal(signal.SIGINT, lambda *_: daemon.stop())
    try:
        daemon.start()
    except OSError as exc:
        print(f"kit-meshtasticd: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        daemon.scheduler.stop()
        return 1
    mode = "Running in simulated mode." if args.sim else "No radio: transmissions are dropped."
    print(f"{mode} Node !{daemon.node.node_num:08x} on {args.host}:{daemon.server.port}, "
          f"storage {state_dir}", flush=True)
    try:
        while not daemon.stopped.wait(0.5):
            pass
    finally:
        daemon.shutdown()
        print("kit-meshtasticd: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
