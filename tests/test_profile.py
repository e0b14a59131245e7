"""The kit profile (kit.toml): validation with clear errors, `kit serve --profile` effects,
the boot service's absorb step (secrets leave the boot partition), the batch tool."""
import base64
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash, generate_password_hash

from kit.core import auth
from kit.core.kit import Kit
from kit.deploy import bootconfig
from kit.deploy import profile as kit_profile
from kit.storage import db, settings

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "deploy" / "example-kit.toml"
KEY = base64.b64encode(bytes(range(32))).decode()
MAIRIE = base64.b64encode(bytes(range(1, 33))).decode()  # stands for the mairie's public key
KIT_KEY = "1:" + base64.b64encode(bytes(range(2, 34))).decode()  # the territory's kit key
REAL = EXAMPLE.read_text().replace(kit_profile.EXAMPLE_CHANNEL_KEY, KEY) \
    .replace(kit_profile.EXAMPLE_TRUST_KEY, MAIRIE).replace("[keys]\n", f'[keys]\nkit_keys = ["{KIT_KEY}"]\n')


def problems(text):
    with pytest.raises(kit_profile.ProfileError) as info:
        kit_profile.loads(text)
    return {p.field: p for p in info.value.problems}


def test_the_example_is_valid_and_complete():
    p = kit_profile.load(EXAMPLE)
    assert (p.kit_id, p.kit_name, p.commune_insee, p.wifi_ssid, p.wifi_channel) == \
        ("mairie-01", "Kit 01 - Mairie", "45999", "Kit-Mairie-Exemple", 6)
    assert p.radio.region == "EU_868" and p.radio.role == "CLIENT" and len(p.radio.key_bytes) == 32
    assert p.short_name == "K01" and p.hostname == "kit-mairie-01"


def test_every_problem_is_reported_with_field_and_fix():
    text = REAL.replace('id = "mairie-01"', 'id = "Mairie 01"').replace("channel = 6", "channel = 14") \
        .replace('insee = "45999"', "insee = 45999").replace('region = "EU_868"', 'region = "US"') \
        .replace('admin_listen = "127.0.0.1:8081"', 'admin_listen = "10.42.0.1:8081"') + "\n[extra]\n"
    found = problems(text)
    assert set(found) >= {"kit.id", "wifi.channel", "commune.insee", "radio.region", "kit.admin_listen", "extra"}
    assert all(p.fix for p in found.values())
    assert "must be a str" in found["commune.insee"].problem


@pytest.mark.parametrize("listen, why", [
    ("kit.lan:8081", "not an IP address"),        # resolved at start: could be the Wi-Fi address
    ("localhost:8081", "not an IP address"),
    ("127.0.0.1", "is not HOST:PORT"),
    ("127.0.0.1:99999", "is not HOST:PORT"),
    ("0.0.0.0:8081", "reachable from the residents' Wi-Fi"),
    ("[::]:8081", "reachable from the residents' Wi-Fi"),
    ("10.42.0.77:8081", "reachable from the residents' Wi-Fi"),
    ("[::ffff:10.42.0.1]:8081", "reachable from the residents' Wi-Fi"),
    ("127.0.0.1:80", "used by the residents' side"),
])
def test_admin_listen_is_an_ip_address_off_the_wifi(listen, why):
    found = problems(REAL.replace('admin_listen = "127.0.0.1:8081"', f'admin_listen = "{listen}"'))
    assert why in found["kit.admin_listen"].problem and found["kit.admin_listen"].fix


@pytest.mark.parametrize("listen", ["127.0.0.1:8081", "192.168.1.20:8081", "[::1]:8081"])
def test_admin_listen_accepts_ip_addresses(listen):
    text = REAL.replace('admin_listen = "127.0.0.1:8081"', f'admin_listen = "{listen}"')
    assert kit_profile.loads(text).admin_listen == listen


def test_sync_hops_go_from_the_profile_to_the_radio_service():
    assert "outside 0–3" in problems(REAL.replace("sync_hops = 0", "sync_hops = 4"))["radio.sync_hops"].problem
    profile = kit_profile.loads(REAL.replace("sync_hops = 0", "sync_hops = 2"))
    from kit.cli.main import build_parser
    from kit.cli.serve import service_config
    args = build_parser().parse_args(["serve"])
    kit_profile.apply_to_args(profile, args)
    assert service_config(args).sync_hops == 2
    args = build_parser().parse_args(["serve", "--sync-hops", "1"])
    kit_profile.apply_to_args(profile, args)  # the command line wins
    assert service_config(args).sync_hops == 1


def test_channel_key_and_url_rules():
    assert "radio.channel_key" in problems(REAL.replace(KEY, "c2hvcnQ="))
    assert "radio.channel_key" in problems(REAL.replace(KEY, kit_profile.PLACEHOLDER_KEY))
    with_url = REAL.replace(f'channel_key = "{KEY}"', 'channel_url = "https://meshtastic.org/e/#CgMSAQE"')
    assert "radio.channel_url" in problems(with_url)  # together with channel_name
    alone = with_url.replace('channel_name = "Exemple"', "")
    assert kit_profile.loads(alone).radio.channel_url.endswith("#CgMSAQE")


def test_toml_syntax_error_is_explained():
    found = problems('[kit]\nid = mairie\n')
    assert "(file)" in found and "TOML" in found["(file)"].problem


def test_cli_check_exit_codes(tmp_path):
    bad = tmp_path / "kit.toml"
    bad.write_text(REAL.replace("channel = 6", "channel = 0"))
    run = subprocess.run([sys.executable, "-m", "kit", "profile", "check", str(bad)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "wifi.channel: 0 is not a 2.4 GHz channel — use 1, 6 or 11" in run.stderr
    strict = subprocess.run([sys.executable, "-m", "kit", "profile", "check", "--strict", str(EXAMPLE)],
                            capture_output=True, text=True, cwd=ROOT)
    assert strict.returncode == 2 and "public example key" in strict.stderr


def _kit(tmp_path):
    return Kit.open(tmp_path)


def test_serve_profile_sets_identity_and_generates_the_first_admin_once(tmp_path):
    kit = _kit(tmp_path)
    path = kit.database
    p = kit_profile.loads(REAL)
    password = kit_profile.apply_to_kit(p, kit)
    assert password and len(password) >= 12
    conn = db.connect(path)
    assert settings.get(conn, "kit_name") == "Kit 01 - Mairie" and settings.get(conn, "commune_insee") == "45999"
    stored = conn.execute("SELECT password_hash FROM users WHERE name = 'admin'").fetchone()[0]
    assert password not in stored and check_password_hash(stored, password)
    assert auth.verify(conn, "admin", password)
    assert kit_profile.apply_to_kit(p, kit) is None  # accounts exist: nothing more


def test_serve_profile_uses_the_given_hash_and_never_returns_it(tmp_path):
    kit = _kit(tmp_path)
    path = kit.database
    text = REAL.replace("[admin]\n", f'[admin]\npassword_hash = "{generate_password_hash("correct horse battery")}"\n')
    assert kit_profile.apply_to_kit(kit_profile.loads(text), kit) is None
    assert auth.verify(db.connect(path), "admin", "correct horse battery")


def test_absorb_hashes_the_password_moves_secrets_and_is_idempotent(tmp_path):
    boot, state = tmp_path / "boot", tmp_path / "data"
    boot.mkdir()
    (boot / "mairie.key").write_text("secret key file\n")
    text = REAL.replace("[admin]\n", '[admin]\npassword = "a-one-time-password"\n') \
        .replace('# signing_key = "mairie.key"', 'signing_key = "mairie.key"')
    (boot / "kit.toml").write_text(text)
    bootconfig.absorb(boot / "kit.toml", state, strict=True, when="2025-01-01")

    kept = tomllib.loads((state / "kit.toml").read_text())
    assert "password" not in kept["admin"]
    assert check_password_hash(kept["admin"]["password_hash"], "a-one-time-password")
    assert kept["radio"]["channel_key"] == KEY
    assert kept["keys"]["signing_key"] == str(state / "keys" / "mairie.key")
    assert (state / "keys" / "mairie.key").read_text() == "secret key file\n"
    on_card = (boot / "kit.toml").read_text()
    assert "a-one-time-password" not in on_card and KEY not in on_card and not (boot / "mairie.key").exists()
    assert "# password: moved into the kit" in on_card and "Kit-Mairie-Exemple" in on_card  # comments kept

    first = (state / "kit.toml").read_text()
    again = bootconfig.absorb(boot / "kit.toml", state, strict=True)  # next boot: same profile
    assert (state / "kit.toml").read_text() == first and again.radio.channel_key == KEY

    (boot / "kit.toml").write_text(on_card.replace("channel = 6", "channel = 11"))  # an edit on a PC
    assert bootconfig.absorb(boot / "kit.toml", state).wifi_channel == 11


def test_absorb_refuses_a_bad_profile_and_keeps_the_previous_one(tmp_path):
    boot, state = tmp_path / "boot", tmp_path / "data"
    boot.mkdir()
    (boot / "kit.toml").write_text(REAL)
    bootconfig.absorb(boot / "kit.toml", state)
    kept = (state / "kit.toml").read_text()
    (boot / "kit.toml").write_text(REAL.replace("channel = 6", "channel = 99"))
    with pytest.raises(kit_profile.ProfileError):
        bootconfig.absorb(boot / "kit.toml", state)
    assert (state / "kit.toml").read_text() == kept
    (boot / "kit.toml").write_text(EXAMPLE.read_text())  # the public example keys: refused
    with pytest.raises(kit_profile.ProfileError):
        bootconfig.absorb(boot / "kit.toml", state, strict=True)


def test_batch_tool_writes_valid_profiles_and_a_sheet(tmp_path):
    out = tmp_path / "kits"
    run = subprocess.run([sys.executable, str(ROOT / "deploy" / "batch.py"), str(ROOT / "deploy/kits.example.csv"),
                          "--commune", "Exemple-sur-Loire", "--insee", "45999", "--channel-name", "Exemple",
                          "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode != 0 and "signing-key" in run.stderr  # mairie-01 signs: its key is needed
    csv_text = (ROOT / "deploy/kits.example.csv").read_text().replace(",yes\n", ",no\n")
    (tmp_path / "kits.csv").write_text(csv_text)
    run = subprocess.run([sys.executable, str(ROOT / "deploy" / "batch.py"), str(tmp_path / "kits.csv"),
                          "--commune", "Exemple-sur-Loire", "--insee", "45999", "--channel-name", "Exemple",
                          "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    profiles = [kit_profile.load(out / kid / "kit.toml") for kid in ("mairie-01", "ecole-02", "gymnase-03")]
    assert len({p.radio.channel_key for p in profiles}) == 1  # one channel for the commune
    assert not any(kit_profile.warnings(p) for p in profiles)
    sheet = (out / "sheet.html").read_text()
    assert sheet.count("<section>") == 3 and sheet.count("<svg") == 6 and "http://kit.lan" in sheet
    assert (out / "sheet.html").stat().st_mode & 0o777 == 0o600


def test_a_kits_radio_is_not_a_router():
    """Setting the ROUTER role installs rebroadcast_mode CORE_PORTNUMS_ONLY over the ALL sent
    with it (the simulated radio does it too: tests/test_sim_relay_timing.py), and that mode
    drops the kits' PRIVATE_APP frames before the kit sees them."""
    found = problems(REAL.replace('role = "CLIENT"', 'role = "ROUTER"', 1))["radio.role"]
    assert "CORE_PORTNUMS_ONLY" in found.problem and "ROUTER_LATE" in found.fix
    assert kit_profile.loads(REAL.replace('role = "CLIENT"', 'role = "ROUTER_LATE"', 1)).radio.role == "ROUTER_LATE"
