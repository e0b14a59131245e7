"""The link to the radio, supervised: opened with capped backoff by the caller, always
closed on loss, checked by a heartbeat the radio must answer, reopened when it goes silent.

Every call into the library goes through `call`, which turns any failure into a closed
link (and a reason in the status) instead of an exception in the radio loop.
"""
from __future__ import annotations

import logging
import threading
import time

from kit.core.radio_port import RadioSpec
from kit.radio.link import LinkError, close_quietly, guarded, open_interface

log = logging.getLogger(__name__)


class RadioLink:
    def __init__(self, spec: RadioSpec, heartbeat_s: float, answer_timeout_s: float, on_state):
        self.spec = spec
        self.heartbeat_s, self.answer_timeout_s = heartbeat_s, answer_timeout_s
        self.on_state = on_state       # on_state(**status values)
        self.iface = None
        self.heartbeat_at = 0.0        # time.monotonic() of the next heartbeat
        self.ever_connected = False

    @property
    def up(self) -> bool:
        return self.iface is not None

    def open(self) -> bool:
        self.on_state(state="reconnecting" if self.ever_connected else "connecting")
        try:
            self.iface = open_interface(self.spec)
        except LinkError as exc:
            log.warning("radio: %s", exc)
            self.on_state(state="absent", error=str(exc))
            return False
        self.ever_connected = True
        self.heartbeat_at = time.monotonic() + self.heartbeat_s
        problem = settings_problem(self.iface)
        self.on_state(state="connected", node=f"!{self.node:08x}", error=None, radio_problem=problem)
        log.info("radio connected: !%08x", self.node)
        if problem:
            log.error("radio settings: %s", problem)
        return True

    def close(self, why: str, stopping: bool = False) -> None:
        if self.iface is not None:
            log.warning("radio link closed: %s", why)
            iface, self.iface = self.iface, None
            close_quietly(iface)
            self.on_state(state="absent" if stopping else "reconnecting")

    def call(self, what: str, method: str, *args, **kwargs):
        """iface.method(...) — or None, with the link closed, when the library fails."""
        if self.iface is None:
            return None
        result, exc = guarded(getattr(self.iface, method), *args, **kwargs)
        if exc is not None:
            self.close(f"{what} failed: {exc}")
        return result

    def check(self) -> None:
        """Heartbeat every `heartbeat_s`; a radio that does not answer within
        `answer_timeout_s` after it is reopened."""
        if self.iface is None:
            return
        mono = time.monotonic()
        silent_for = mono - self.iface.kit_last_answer
        if silent_for > self.heartbeat_s + self.answer_timeout_s:
            self.close(f"radio silent for {silent_for:.0f} s")
        elif mono >= self.heartbeat_at:
            self.heartbeat_at = mono + self.heartbeat_s
            self.call("heartbeat", "sendHeartbeat")

    @property
    def node(self) -> int | None:
        info = getattr(self.iface, "myInfo", None)
        return info.my_node_num if info else None

    def node_name(self, node: int) -> str:
        user = ((getattr(self.iface, "nodesByNum", None) or {}).get(node) or {}).get("user") or {}
        return user.get("longName") or user.get("shortName") or f"!{node:08x}"


def settings_problem(iface) -> str | None:
    """What in the radio's own settings keeps the kits' frames from this kit, or None.

    rebroadcast_mode CORE_PORTNUMS_ONLY makes the firmware drop every decoded packet on another
    port, PRIVATE_APP included, before its client sees it (fw src/mesh/Router.cpp
    handleReceived); the firmware installs it whenever the role becomes ROUTER
    (NodeDB::installRoleDefaults), so a radio set by hand can end up there."""
    device = getattr(getattr(getattr(iface, "localNode", None), "localConfig", None), "device", None)
    if device is not None and device.rebroadcast_mode == device.RebroadcastMode.CORE_PORTNUMS_ONLY:
        return "rebroadcast_mode CORE_PORTNUMS_ONLY"
    return None


def run_supervised(loop, stop: threading.Event, backoff_s: tuple[float, float], on_failure, what: str) -> None:
    """Run `loop()` until it returns or `stop` is set. An exception is logged and handed to
    `on_failure(exc)` (count it, show it, close the link); the loop then resumes after a
    backoff that doubles from backoff_s[0] up to backoff_s[1]: one bug never ends a link."""
    delay = backoff_s[0]
    while not stop.is_set():
        try:
            loop()
            return
        except Exception as exc:  # noqa: BLE001
            log.exception("%s loop failed; restarting it", what)
            on_failure(exc)
            stop.wait(delay)
            delay = min(delay * 2, backoff_s[1])
