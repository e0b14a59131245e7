"""Kits on a simulated mesh, each talking to its own simulated radio through the real
`meshtastic` library over TCP: the bench for the radio tests."""
from __future__ import annotations

import time

from kit.core import config as kit_config
from kit.storage import db, queries as records
from kit.web.app import create_app
from kit.radio.service import MeshService, ServiceConfig
from kit.radio.spec import RadioSpec
from kit.sim import Mesh


class Kit:
    def __init__(self, path, mesh: Mesh, node: int, config: ServiceConfig):
        self.app = create_app(kit_config.build(path))
        self.db = db.connect(self.app.config["DATABASE"])
        epoch = time.time()
        self.service = MeshService(self.app.config["DATABASE"], RadioSpec("tcp", host="127.0.0.1", port=mesh.port(node)),
                                   self.origin, config, clock=lambda: epoch + mesh.now(), seed=node)
        self.app.extensions["radio"] = self.service

    @property
    def origin(self) -> int:  # the radio's node number once the kit adopted it
        return int(self.db.execute("SELECT value FROM settings WHERE key='kit_origin'").fetchone()[0])

    def post(self, text: str, kind=None, **fields):
        from kit.mesh import records as r

        record = records.publish(self.db, kind or r.Board, self.origin, exercise=False,
                                 **({"text": text} if text is not None else {}), **fields)
        self.service.published(record)
        return record

    def board(self) -> list[str]:
        return sorted(m["text"] for m in records.board_messages(self.db, limit=500))

    def close(self):
        self.service.stop()
        self.db.conn.close()


def fast_config(mesh_speed: float, preset: str) -> ServiceConfig:
    return ServiceConfig(sync_interval_s=120, heartbeat_s=5, answer_timeout_s=5, backoff_s=(0.2, 1.0),
                         preset=preset, speed=mesh_speed)


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
