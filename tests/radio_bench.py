"""Kits on a simulated mesh, each talking to its own simulated radio through the real
`meshtastic` library over TCP: the bench for the radio tests."""
from __future__ import annotations

import time

from kit.core.config import new_kit_key
from kit.core.kit import Kit as CoreKit
from kit.core.radio_port import RadioSpec
from kit.mesh import records as r
from kit.radio.service import MeshService, ServiceConfig
from kit.sim import Mesh
from kit.storage import db
from kit.storage import queries as records
from kit.web.app import create_app

# Every kit of these tests' territory holds this kit key (the handhelds do not).
MESH_KEY = new_kit_key()


class Kit:
    """One kit (its Kit, web app and radio service) on radio `node` of a simulated mesh."""

    def __init__(self, path, mesh: Mesh, node: int, config: ServiceConfig, **settings):
        self.kit = CoreKit.open(path, **({"KIT_KEYS": [MESH_KEY]} | settings))
        self.app = create_app(kit=self.kit)
        self.db = db.connect(self.kit.database)
        epoch = time.time()
        self.spec = RadioSpec("tcp", host="127.0.0.1", port=mesh.port(node))
        self.clock = lambda: epoch + mesh.now()
        self.service = MeshService(self.kit, self.spec, config, clock=self.clock, seed=node)
        self.kit.attach_radio(self.service)

    def restart_service(self, seed: int):
        """A new radio service on the same kit (the kit process restarted); the old one
        must be stopped first."""
        self.service = MeshService(self.kit, self.spec, self.service.config, clock=self.clock, seed=seed)
        self.kit.attach_radio(self.service)
        return self.service.start()

    @property
    def origin(self) -> int:  # the radio's node number once the kit adopted it
        return int(self.db.execute("SELECT value FROM settings WHERE key='kit_origin'").fetchone()[0])

    def post(self, text: str, kind=None, **fields):
        return self.kit.publish(kind or r.Board, exercise=False, **({"text": text} if text is not None else {}),
                                **fields)

    def board(self) -> list[str]:
        return sorted(m["text"] for m in records.board_messages(self.db, limit=500))

    def close(self):
        self.service.stop()
        self.db.conn.close()


def fast_config(mesh_speed: float, preset: str) -> ServiceConfig:
    return ServiceConfig(sync_interval_s=120, heartbeat_s=5, answer_timeout_s=5, backoff_s=(0.2, 1.0),
                         preset=preset, speed=mesh_speed)

