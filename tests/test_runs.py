"""The kit's runs (kit/core/runs.py): a real `kit serve` stopped by SIGTERM (systemctl stop) ends
its run cleanly; one killed (a power cut, the watchdog's SIGABRT/SIGKILL) is counted at the next
start as an unplanned restart, which the crisis cell's dashboard shows."""
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from helpers import free_port, login, wait_for

from kit.core import config as kit_config
from kit.core import runs
from kit.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent


def serve(data: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "kit", "serve", "--data", str(data), "--radio", "none",
                             "--host", "127.0.0.1", "--port", str(free_port()), "--admin-listen", "none"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for(lambda: "Kit tous risques:" in proc.stdout.readline(), 60, "kit serve to start")
    return proc


def setting(data: Path, key: str) -> str | None:
    with sqlite3.connect(data / "kit.db") as conn:
        row = conn.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return row and row[0]


def test_sigterm_ends_the_run_cleanly_and_a_kill_counts_as_unplanned(tmp_path):
    data = tmp_path / "kit"
    proc = serve(data)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert setting(data, runs.CLEAN) == "1"

    proc = serve(data)  # after a clean stop: nothing unplanned
    assert setting(data, runs.UNPLANNED) is None
    proc.kill()  # no shutdown at all
    proc.wait(10)
    before = int(time.time())
    proc = serve(data)
    try:
        assert setting(data, runs.UNPLANNED) == "1"
        assert int(setting(data, runs.LAST_UNPLANNED)) >= before
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_the_dashboard_shows_unplanned_restarts(tmp_path):
    app = create_app(kit_config.build(tmp_path / "data", TESTING=True))
    kit = app.extensions["kit"]
    password = kit.add_user("chef", "admin", "test", "cli")
    runs.started(kit, int(time.time()) - 600)
    runs.started(kit, int(time.time()) - 60)  # the first run never stopped cleanly
    admin = create_app({"LISTENER": "admin"}, kit=kit).test_client()
    login(admin, "chef", password, lang="fr")
    page = admin.get("/admin/").get_data(as_text=True)
    assert "Ce kit est reparti 1 fois sans arrêt propre" in page
    assert re.search(r"la dernière il y a 6\d s", page), page
