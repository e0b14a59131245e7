"""The profile's [federation] section and the Mosquitto files `kit profile render` writes."""
from pathlib import Path

import pytest

from kit.deploy import bootconfig, render
from kit.deploy import profile as kit_profile

EXAMPLE = (Path(__file__).resolve().parents[1] / "deploy" / "example-kit.toml").read_text()
FEDERATION = """
[federation]
broker = "mqtts://mqtt.territoire.example"
prefix = "territoire/fr-99"
password = "broker-pw-7f3a"
host_broker = true
"""


def test_a_kit_with_federation_gets_its_broker_spec_and_the_broker_host_its_mosquitto_files(tmp_path):
    profile = kit_profile.loads(EXAMPLE + FEDERATION)
    spec = profile.federation.spec()
    assert (spec.host, spec.port, spec.tls, spec.account) == ("mqtt.territoire.example", 8883, True, profile.kit_id)
    assert spec.topic(0x4B540001) == f"territoire/fr-99/kit/{profile.kit_id}/4b540001"
    assert spec.parse_topic(f"territoire/fr-99/kit/{profile.kit_id}/4b540001") == (profile.kit_id, 0x4B540001)
    assert spec.parse_topic("territoire/fr-99/kit/../4b540001") is None
    files = render.files(profile)
    conf = files["etc/mosquitto/conf.d/kit-territory.conf"][0].decode()
    acl = files["etc/mosquitto/kit-territory.acl"][0].decode()
    assert "allow_anonymous false" in conf and "listener 8883" in conf and "certfile " in conf
    assert "pattern write territoire/fr-99/kit/%u/#" in acl and "pattern read territoire/fr-99/kit/#" in acl
    assert "user root" not in conf


def test_a_kit_without_federation_renders_no_broker():
    files = render.files(kit_profile.loads(EXAMPLE))
    assert not any("mosquitto" in path for path in files)


@pytest.mark.parametrize("section, field", [
    ('broker = "mqtt://plain.example"\nprefix = "t/x"\npassword = "p"', "federation.broker"),
    ('broker = "mqtts://b.example"\nprefix = "T X"\npassword = "p"', "federation.prefix"),
    ('broker = "mqtts://b.example"\nprefix = "t/x"', "federation.password"),
])
def test_a_bad_federation_section_is_reported_with_its_field(section, field):
    with pytest.raises(kit_profile.ProfileError) as caught:
        kit_profile.loads(EXAMPLE + "\n[federation]\n" + section + "\n")
    assert field in [p.field for p in caught.value.problems]


def test_absorb_moves_the_broker_password_off_the_card_and_keeps_it(tmp_path):
    boot, state = tmp_path / "boot", tmp_path / "data"
    boot.mkdir()
    (boot / "kit.toml").write_text(EXAMPLE + FEDERATION)
    bootconfig.absorb(boot / "kit.toml", state, strict=False, when="2026-12-05")
    on_card = (boot / "kit.toml").read_text()
    assert "broker-pw-7f3a" not in on_card and "# password: moved into the kit" in on_card
    again = bootconfig.absorb(boot / "kit.toml", state, strict=False)  # the next boot
    assert again.federation.password == "broker-pw-7f3a"
