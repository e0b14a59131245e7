"""The real tools accept what `kit profile render` writes: shellcheck on every script,
`systemd-analyze verify` on every unit and a security exposure threshold for the app,
`dnsmasq --test` on the drop-in, `nft -c` on the rules. CI installs the tools (.ci/run);
elsewhere a missing tool skips its test with the package to install."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import environment_skip

from kit.deploy import profile as kit_profile
from kit.deploy import render

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "deploy" / "example-kit.toml"
# systemd-analyze security's --threshold is in tenths: 25 = an exposure of 2.5 ("OK" ≤ 4.9).
APP_EXPOSURE_MAX = 25
SCRIPTS = sorted([*(ROOT / "deploy").rglob("*.sh"), *(ROOT / "kit/deploy/templates").glob("*.sh"),
                  ROOT / "deploy/pi-gen/stage-kit/prerun.sh", ROOT / ".ci/run"])


def need(tool, package, root=False):
    """Skip without the tool (or root), fail under CI (helpers.environment_skip)."""
    if shutil.which(tool) is None:
        environment_skip(f"{tool} not installed (apt-get install {package}; .ci/run installs it)")
    if root and os.geteuid() != 0:
        environment_skip(f"{tool} needs root here (CI runs as root)")


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory):
    """The example kit rendered into a folder that also holds systemd's own units (so that
    `verify --root` resolves sysinit.target & co.) and a stand-in for the app's executable."""
    root = tmp_path_factory.mktemp("rootfs")
    render.render(kit_profile.load(EXAMPLE), root)
    if Path("/usr/lib/systemd/system").is_dir():
        shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    app = root / "opt/kit/venv/bin/kit"
    app.parent.mkdir(parents=True)
    app.write_text("#!/bin/sh\n")
    app.chmod(0o755)
    return root


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shellcheck(script):
    need("shellcheck", "shellcheck")
    run = subprocess.run(["shellcheck", "-S", "style", "-s", "bash", str(script)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout


def test_scripts_are_strict():
    for script in SCRIPTS:
        text = script.read_text()
        assert "set -euo pipefail" in text or "#!/bin/bash -e" in text, script


def test_systemd_units_verify(rootfs):
    need("systemd-analyze", "systemd")
    units = sorted(str(p) for p in (rootfs / "etc/systemd/system").iterdir())
    run = subprocess.run(["systemd-analyze", "verify", f"--root={rootfs}", *units], capture_output=True, text=True)
    assert run.returncode == 0 and not run.stderr.strip(), run.stderr


def test_app_unit_security_exposure(rootfs):
    need("systemd-analyze", "systemd")
    run = subprocess.run(["systemd-analyze", "security", "--offline=yes", f"--threshold={APP_EXPOSURE_MAX}",
                          str(rootfs / "etc/systemd/system/kit.service")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    assert "Overall exposure level for kit.service" in run.stdout


def test_dnsmasq_accepts_the_dropin(rootfs):
    need("dnsmasq", "dnsmasq-base")
    conf = rootfs / "etc/NetworkManager/dnsmasq-shared.d/10-kit.conf"
    run = subprocess.run(["dnsmasq", "--test", "--conf-file=/dev/null", f"--conf-dir={conf.parent}",
                          "--dhcp-range=10.42.0.10,10.42.0.254,60m", "--dhcp-lease-max=50"],
                         capture_output=True, text=True)
    assert run.returncode == 0 and "syntax check OK" in run.stderr, run.stderr


def test_nft_accepts_the_rules(rootfs):
    need("nft", "nftables", root=True)
    run = subprocess.run(["nft", "-c", "-f", str(rootfs / "etc/nftables.d/kit.nft")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
