#!/bin/bash -e
# pi-gen stage-kit: the kit installed from a wheelhouse, so no internet is needed at first
# boot, by the same deploy/install.sh a technician runs on a Pi (--image: no profile yet; the
# per-kit files are rendered at first boot from the card's kit.toml). Put the wheelhouse (the
# kit's wheel and its dependencies for linux aarch64) in files/wheelhouse and install.sh,
# example-kit.toml and README.md in files/ before building: see deploy/README.md.
# `make system-test` runs the same command in a Debian bookworm root and boots it.
# shellcheck disable=SC2154  # ROOTFS_DIR and on_chroot come from pi-gen

WHEELS=files/wheelhouse
if ! compgen -G "${WHEELS}/kit_tous_risques-*.whl" >/dev/null; then
  echo "stage-kit: no kit wheel in ${WHEELS}" >&2
  exit 1
fi
install -d "${ROOTFS_DIR}/opt/kit/wheelhouse"
cp "${WHEELS}"/*.whl "${ROOTFS_DIR}/opt/kit/wheelhouse/"
install -m 755 files/install.sh "${ROOTFS_DIR}/opt/kit/install.sh"
install -m 644 files/example-kit.toml "${ROOTFS_DIR}/opt/kit/example-kit.toml"
install -m 644 files/README.md "${ROOTFS_DIR}/opt/kit/README.md"

on_chroot <<'CHROOT'
set -e
/opt/kit/install.sh --wheelhouse /opt/kit/wheelhouse --image
# Imager's Wi-Fi client profile must not take wlan0 from the hotspot.
rm -f /etc/NetworkManager/system-connections/preconfigured.nmconnection
CHROOT
