#!/bin/bash -e
# pi-gen stage-kit: the kit installed from a wheelhouse, so no internet is needed at first
# boot. Put the wheelhouse (the kit's wheel and its dependencies for linux aarch64) in
# files/wheelhouse before building: see deploy/README.md.
# shellcheck disable=SC2154  # ROOTFS_DIR and on_chroot come from pi-gen

WHEELS=files/wheelhouse
if ! compgen -G "${WHEELS}/kit_tous_risques-*.whl" >/dev/null; then
  echo "stage-kit: no kit wheel in ${WHEELS}" >&2
  exit 1
fi
install -d "${ROOTFS_DIR}/opt/kit/wheelhouse"
cp "${WHEELS}"/*.whl "${ROOTFS_DIR}/opt/kit/wheelhouse/"
install -m 644 files/example-kit.toml "${ROOTFS_DIR}/opt/kit/example-kit.toml"
install -m 644 files/README.md "${ROOTFS_DIR}/opt/kit/README.md"

on_chroot <<'CHROOT'
set -e
python3 -m venv /opt/kit/venv
/opt/kit/venv/bin/pip install --no-index --find-links /opt/kit/wheelhouse kit-tous-risques
# The system files that do not depend on a kit's profile; the others (hotspot, DNS, radio,
# hostname) are rendered at each boot from kit.toml on the boot partition by kit-config.
tmp=$(mktemp -d)
/opt/kit/venv/bin/kit profile render /opt/kit/example-kit.toml --out "$tmp" >/dev/null
rm -rf "$tmp/etc/NetworkManager" "$tmp/etc/kit" "$tmp/etc/hostname" "$tmp/etc/hosts" "$tmp/etc/timezone"
cp -a "$tmp/." /
rm -rf "$tmp"
systemd-sysusers /etc/sysusers.d/kit.conf
mkdir -p /data
grep -q 'LABEL=kitdata' /etc/fstab || echo 'LABEL=kitdata /data ext4 defaults,noatime,commit=5,nofail 0 2' >>/etc/fstab
if [ -f /lib/firmware/cypress/cyfmac43455-sdio-minimal.bin ]; then
  update-alternatives --set cyfmac43455-sdio.bin /lib/firmware/cypress/cyfmac43455-sdio-minimal.bin || true
fi
systemctl enable kit-config.service kit-radio.service kit-clock.service kit-clock-save.timer nftables.service kit.service
# Imager's Wi-Fi client profile must not take wlan0 from the hotspot.
rm -f /etc/NetworkManager/system-connections/preconfigured.nmconnection
CHROOT
