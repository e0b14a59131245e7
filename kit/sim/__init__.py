"""Simulated Meshtastic radios on a simulated LoRa medium, speaking the real stream API.

Public API: `Mesh` (a whole bench), `Topology`, and the parts for finer use: `SimNode`,
`NodeState`, `StreamServer`, `Medium`, `Scheduler`. `SimulatorRadio` replaces the medium in
simulator mode (one node per process, `kit-meshtasticd`, see kit.sim.meshtasticd).
"""
from kit.sim.clock import Scheduler
from kit.sim.medium import Link, Medium, Topology
from kit.sim.node import SimNode
from kit.sim.simradio import SimulatorRadio
from kit.sim.simulated_mesh import Mesh
from kit.sim.state import NodeState
from kit.sim.stream_server import StreamServer

__all__ = ["Link", "Medium", "Mesh", "NodeState", "Scheduler", "SimNode", "SimulatorRadio",
           "StreamServer", "Topology"]
