"""Kit health: built from the radio status, round-trips over the codec and the store, and
reaches every kit's dashboard over a simulated mesh."""
import dataclasses
import time

import pytest
from helpers import login, plant, wait_for

from kit.core import auth
from kit.core import kit_health as health
from kit.core.radio_port import NoRadio
from kit.mesh import records as r
from kit.mesh.codec import Decoder, encode
from kit.storage import settings
from kit.web.app import create_app


def test_fields_from_the_radio_status():
    status = {"state": "reconnecting", "queue": 3, "airtime_pct": 0.5, "last_sync": 1_790_000_000}
    fields = health.fields(status, "crise", uptime=120, battery=None)
    assert fields == {"uptime_s": 120, "radio": r.RadioState.DEGRADED, "queue_len": 3, "airtime_ms_hour": 18_000,
                      "last_sync": 1_790_000_000, "mode": r.KitMode.CRISE, "battery_pct": None}
    assert health.fields(NoRadio().status(), "veille", uptime=1, battery=None)["radio"] == r.RadioState.DOWN
    assert health.fields({"state": "connected"}, "apres", airtime_ms_hour=700, uptime=1, battery=80)["airtime_ms_hour"] == 700


def test_battery_and_uptime_from_the_system(tmp_path):
    assert health.battery_pct(tmp_path) is None
    (tmp_path / "AC").mkdir()
    (tmp_path / "AC" / "online").write_text("1\n")
    (tmp_path / "BAT0").mkdir()
    (tmp_path / "BAT0" / "capacity").write_text("57\n")
    assert health.battery_pct(tmp_path) == 57
    uptime = tmp_path / "uptime"
    uptime.write_text("3600.52 7000.1\n")
    assert health.uptime_s(uptime) == 3600
    assert health.uptime_s(tmp_path / "missing") >= 0


def test_a_health_record_round_trips_over_the_air_and_into_the_dashboard_table(app):
    from kit.storage.db import connect

    db = connect(app.config["DATABASE"])
    origin = int(settings.get(db, "kit_origin"))
    fields = health.fields({"state": "connected", "queue": 2, "last_sync": int(time.time()) - 60}, "crise",
                           uptime=86_400, battery=91, airtime_ms_hour=12_345)
    record = plant(db, r.Health, origin, exercise=True, **fields)
    frames = encode(record, sender=origin)
    assert len(frames) == 1 and len(frames[0]) <= 24  # ≈ 0.56 s on LONG_FAST
    assert Decoder().decode(frames[0], origin, now=0.0) == record
    [kit] = health.latest(db)
    assert kit | {"silent": False} == kit
    assert (kit["origin"], kit["radio"], kit["mode"], kit["battery_pct"], kit["queue_len"], kit["exercise"]) == \
        (origin, "OK", "CRISE", 91, 2, True)


def test_an_old_report_is_shown_as_silent(app):
    from kit.storage.db import connect

    db = connect(app.config["DATABASE"])
    plant(db, r.Health, 7, exercise=False, now=int(time.time()) - health.SILENT_AFTER_S - 10,
                    **health.fields({"state": "connected"}, "veille", uptime=1, battery=None))
    assert [k["silent"] for k in health.latest(db)] == [True]


@pytest.mark.slow
def test_every_kits_health_reaches_every_dashboard(tmp_path):
    from radio_bench import Kit, fast_config

    from kit.sim import Mesh, Topology

    speed, preset = 20.0, "SHORT_FAST"
    mesh = Mesh(nodes=3, topology=Topology(3).link(0, 1).link(1, 2), preset=preset, speed=speed,
                nodeinfo_delay=1, nodeinfo_stagger=1)
    mesh.start()
    config = dataclasses.replace(fast_config(speed, preset), health_interval_s=120)
    kits = [Kit(tmp_path / f"kit{i}", mesh, i, config) for i in range(3)]
    try:
        for kit in kits:
            kit.service.start()
        assert wait_for(lambda: all(k.service.status()["state"] == "connected" for k in kits), 20)

        def heard(kit):
            return {o for (o,) in kit.db.execute("SELECT origin FROM kit_health")}
        # (each kit adopts its radio's node number as origin once its engine starts)
        assert wait_for(lambda: all(heard(k) == {k.origin for k in kits} for k in kits), 60), \
            [heard(k) for k in kits]
        origins = {k.origin for k in kits}
        # A later report replaces the earlier one (one row per kit, newest wins).
        first = {o: s for o, s in kits[2].db.execute("SELECT origin, seq FROM kit_health")}
        assert wait_for(lambda: all(s > first[o] for o, s in kits[2].db.execute("SELECT origin, seq FROM kit_health")), 60)
        admin_app = create_app({"LISTENER": "admin"}, kit=kits[2].kit)
        client = admin_app.test_client()
        assert login(client, "cell", auth.add_user(kits[2].db, "cell", "operator")).status_code == 303
        page = client.get("/admin/").get_data(as_text=True)
        assert all(f"!{o:08x}" in page for o in origins)
    finally:
        for kit in kits:
            kit.close()
        mesh.stop()
