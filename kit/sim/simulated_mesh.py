"""A mesh of simulated nodes on one medium, each with its TCP API: the test bench's entry point.

    with Mesh(nodes=3, topology="line", preset="MEDIUM_FAST", speed=20) as mesh:
        iface = TCPInterface("127.0.0.1", portNumber=mesh.port(0))
"""
from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Callable, Iterable

from kit.sim.clock import Scheduler
from kit.sim.medium import Medium, RadioStats, Topology
from kit.sim.node import SimNode
from kit.sim.state import NodeState
from kit.sim.stream_server import StreamServer

FIRST_NODE_NUM = 0x4B540001  # "KT" + index: readable ids !4b540001, !4b540002, ...


class Mesh:
    def __init__(self, nodes: int = 3, topology: str | Topology = "line", *,
                 preset: str = "LONG_FAST", loss: float = 0.0, snr: float = 10.0,
                 speed: float = 1.0, base_port: int = 0, host: str = "127.0.0.1",
                 seed: int = 0, channel_name: str = "", psk: bytes = b"\x01",
                 hop_limit: int = 3, role: str = "CLIENT", region: str = "EU_868",
                 nodeinfo_delay: float = 30.0, nodeinfo_stagger: float = 10.0,
                 state_dir: str | Path | None = None, first_node: int = FIRST_NODE_NUM):
        """`base_port=0` gives each node a free port (tests); the CLI uses 4403 + i.
        Node i sends its first NodeInfo at nodeinfo_delay + i * nodeinfo_stagger (sim s),
        so that boot announcements do not all collide. `first_node`: node i is first_node + i
        (several meshes of one territory need numbers of their own)."""
        if isinstance(topology, str):
            topology = Topology.named(topology, nodes, loss=loss, snr=snr)
        if topology.size != nodes:
            raise ValueError("topology size does not match the number of nodes")
        self.scheduler = Scheduler(speed)
        self.medium = Medium(self.scheduler, topology, seed=seed)
        self.nodes: list[SimNode] = []
        self.servers: list[StreamServer] = []
        epoch = time.time()
        for i in range(nodes):
            node_dir = Path(state_dir) / f"node{i}" if state_dir else None
            state = NodeState.load(node_dir) if node_dir else None
            if state is None:
                state = NodeState.fresh(first_node + i, long_name=f"Sim node {i}",
                                        short_name=f"N{i}", preset=preset, region=region,
                                        hop_limit=hop_limit, channel_name=channel_name,
                                        psk=psk, role=role)
            node = SimNode(self.scheduler, state, rng=random.Random(seed * 1000 + i),
                           first_nodeinfo_delay=nodeinfo_delay + i * nodeinfo_stagger,
                           state_dir=node_dir, epoch=epoch)
            node.attach_radio(self.medium.attach(i, node))
            self.nodes.append(node)
            port = base_port + i if base_port else 0
            self.servers.append(StreamServer(node.api, self.scheduler, host, port))

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> "Mesh":
        self.scheduler.start()
        for node in self.nodes:
            self.scheduler.run_sync(node.boot)
            node.save()
        for server in self.servers:
            server.start()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        for node in self.nodes:
            self.scheduler.run_sync(node.power_off)
        self.scheduler.stop()

    def __enter__(self) -> "Mesh":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- access -------------------------------------------------------------------------------
    def node(self, i: int) -> SimNode:
        return self.nodes[i]

    def port(self, i: int) -> int:
        return self.servers[i].port

    def node_num(self, i: int) -> int:
        return self.nodes[i].node_num

    def stats(self, i: int) -> RadioStats:
        return self.medium.stats[i]

    def now(self) -> float:
        """Simulated seconds since the mesh was created."""
        return self.scheduler.now()

    def call(self, fn: Callable, *args):
        """Run fn on the simulation thread (safe access to node state) and return its result."""
        return self.scheduler.run_sync(fn, *args)

    # -- faults -------------------------------------------------------------------------------
    def partition(self, side_a: Iterable[int], side_b: Iterable[int]) -> None:
        self.call(self.medium.partition, list(side_a), list(side_b))

    def heal(self) -> None:
        self.call(self.medium.heal)

    def set_loss(self, a: int, b: int, loss: float, both: bool = True) -> None:
        self.call(self.medium.set_loss, a, b, loss, both)

    def unplug(self, i: int) -> None:
        """Pull the USB cable: the API goes away and the radio loses power."""
        self.servers[i].stop()
        self.call(self.nodes[i].power_off)

    def replug(self, i: int) -> None:
        """Plug it back: the radio boots (reboot_count + 1), the API listens on the same port."""
        def boot():
            node = self.nodes[i]
            node.state.reboot_count += 1
            node.save()
            node.boot()
        self.call(boot)
        self.servers[i].start()

    def advance(self, sim_seconds: float) -> None:
        """Jump simulated time forward (timers due in between fire at once)."""
        self.scheduler.advance(sim_seconds)

    def idle(self) -> bool:
        """Nothing queued, nothing on air: a packet sent now meets no boot chatter."""
        def check() -> bool:
            quiet = all(not n.tx_queue and not n.transmitting for n in self.nodes)
            return quiet and not self.medium.on_air()
        return self.call(check)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        return self.wait_for(self.idle, timeout)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0,
                 interval: float = 0.02) -> bool:
        """Poll `predicate` for up to `timeout` real seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(interval)
        return predicate()
