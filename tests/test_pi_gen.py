"""The image build (deploy/pi-gen) stays in step with what `make system-test` installs and boots:
the stage runs deploy/install.sh itself, and every package it adds to Raspberry Pi OS Lite is in
the system test's Debian root (tests/system/packages.txt), but for Raspberry Pi OS's own."""
from pathlib import Path

ROOT = Path(__file__).parent.parent
STAGE = ROOT / "deploy" / "pi-gen" / "stage-kit"
# Raspberry Pi OS only (the system test stands in for it: nspawn --volatile=overlay).
PI_ONLY = {"overlayroot"}


def packages(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}


def test_the_image_installs_what_the_system_test_boots():
    image = packages(STAGE / "00-packages" / "00-packages")
    tested = packages(ROOT / "tests" / "system" / "packages.txt")
    assert image - PI_ONLY <= tested, sorted(image - PI_ONLY - tested)


def test_the_image_is_built_by_install_sh():
    stage = (STAGE / "01-kit" / "00-run.sh").read_text()
    assert "/opt/kit/install.sh --wheelhouse /opt/kit/wheelhouse --image" in stage
    assert "kit profile render" not in stage  # no second way of installing the system files
