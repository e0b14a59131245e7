"""Airtime on the simulated medium: honest LONG_FAST timing and the EU868 duty cycle."""
import threading

from kit.mesh.airtime import MESH_HEADER_BYTES, airtime_ms
from kit.sim import Mesh
from kit.sim.testing import connect, wait_until

PRIVATE_APP = 256


def test_long_fast_dm_and_ack_take_their_real_airtime():
    # Real time (speed 1): the frame of a 50-byte PRIVATE_APP DM and its ACK on LONG_FAST.
    with Mesh(2, "full", preset="LONG_FAST", speed=1.0, nodeinfo_delay=600) as mesh:
        iface = connect(mesh, 0)
        try:
            answers = []
            start = mesh.now()
            iface.sendData(b"z" * 50, destinationId=mesh.node_num(1), portNum=PRIVATE_APP,
                           wantAck=True, onResponse=answers.append, onResponseAckPermitted=True)
            assert wait_until(lambda: answers, 10)
            elapsed = mesh.now() - start
        finally:
            iface.close()
        dm_s = mesh.stats(0).tx_airtime
        ack_s = mesh.stats(1).tx_airtime
        # encoded Data = 3 (portnum 256) + 2 (payload tag, len) + 50 + 2 (bitfield)
        assert dm_s * 1000 == airtime_ms(MESH_HEADER_BYTES + 3 + 2 + 50 + 2, "LONG_FAST")
        assert 0.4 < ack_s < 0.6  # a ~29-byte ROUTING_APP frame: 477 ms class
        assert elapsed >= dm_s + ack_s
        assert answers[0]["decoded"]["routing"].get("errorReason", "NONE") == "NONE"


def _max_minute_window(tx_log, limit_window_min=60):
    per_minute = {}
    for start, airtime in tx_log:
        per_minute[int(start // 60)] = per_minute.get(int(start // 60), 0.0) + airtime
    if not per_minute:
        return 0.0
    first, last = min(per_minute), max(per_minute)
    return max(sum(per_minute.get(m, 0.0) for m in range(k, k + limit_window_min))
               for k in range(first - limit_window_min, last + 1))


def test_duty_cycle_limit_nak_and_rolling_hour_never_over_360_s():
    # LONG_SLOW 200-byte frames (~7 s each) at 400x: a simulated hour of budget in seconds.
    with Mesh(1, "line", preset="LONG_SLOW", speed=400, nodeinfo_delay=10_000) as mesh:
        iface = connect(mesh, 0)
        naks = []
        lock = threading.Lock()

        def on_answer(packet):
            with lock:
                naks.append(packet["decoded"]["routing"]["errorReason"])

        try:
            for i in range(80):  # paced like the kit's outbox: one frame on air at a time
                iface.sendData(bytes([i]) * 200, portNum=PRIVATE_APP, onResponse=on_answer)
                assert wait_until(lambda: naks or mesh.idle(), 5)
                if naks:
                    break
            assert wait_until(lambda: "DUTY_CYCLE_LIMIT" in naks, 5)
            used = mesh.call(mesh.node(0).duty.used_s)
            assert 300 < used <= 360
            assert set(naks) == {"DUTY_CYCLE_LIMIT"}

            # An hour later the budget is back.
            mesh.advance(3600)
            sent_before = mesh.stats(0).tx_frames
            iface.sendData(b"again" * 40, portNum=PRIVATE_APP, onResponse=on_answer)
            assert wait_until(lambda: mesh.stats(0).tx_frames == sent_before + 1, 10)
        finally:
            iface.close()
        assert _max_minute_window(mesh.stats(0).tx_log) <= 360.0
        assert mesh.scheduler.errors == 0
