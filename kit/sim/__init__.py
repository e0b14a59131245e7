"""Simulated Meshtastic radios on a simulated LoRa medium, speaking the real stream API.

Public API: `Mesh` (a whole bench), `Topology`, and the parts for finer use: `SimNode`,
`NodeState`, `StreamServer`, `Medium`, `Scheduler`. `SimulatorRadio` replaces the medium in
simulator mode (one node per process, `kit-meshtasticd`, see kit.sim.meshtasticd).
"""
from .clock import Scheduler
from .medium import Link, Medium, Topology
from .mesh import Mesh
from .node import SimNode
from .simradio import SimulatorRadio
from .state import NodeState
from .stream_server import StreamServer

__all__ = ["Link", "Medium", "Mesh", "NodeState", "Scheduler", "SimNode", "SimulatorRadio",
           "StreamServer", "Topology"]
