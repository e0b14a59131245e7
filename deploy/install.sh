#!/usr/bin/env bash
# Kit tous risques: install the kit on a Raspberry Pi already running Raspberry Pi OS Lite
# (Bookworm or Trixie, arm64), without internet: everything comes from a wheelhouse.
#
#   sudo ./install.sh --wheelhouse DIR [--profile kit.toml] [--read-only] [--image]
#
#   --wheelhouse DIR  the kit's wheel and its dependencies (pip download / pip wheel on a
#                     PC with internet, for linux aarch64 and the Pi's Python)
#   --profile FILE    the kit's profile; copied to the boot partition (default: the one
#                     already there)
#   --read-only       make the root file system read-only (overlayroot), once /data is a
#                     separate partition (LABEL=kitdata)
#   --image           building an image (pi-gen, in a chroot): no profile yet, the per-kit
#                     files are rendered at first boot from the card's kit.toml (kit-config)
# Idempotent: running it again upgrades the app and re-applies the profile.
set -euo pipefail

WHEELHOUSE=""
PROFILE=""
READ_ONLY=0
IMAGE=0
PREFIX=/opt/kit
BOOT=/boot/firmware
[[ -d $BOOT ]] || BOOT=/boot

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

while (($#)); do
  case $1 in
    --wheelhouse) WHEELHOUSE=${2:?}; shift 2 ;;
    --profile) PROFILE=${2:?}; shift 2 ;;
    --read-only) READ_ONLY=1; shift ;;
    --image) IMAGE=1; shift ;;
    -h|--help) usage 0 ;;
    *) usage 2 ;;
  esac
done

[[ $(id -u) -eq 0 ]] || die "run it as root (sudo)"
[[ -n $WHEELHOUSE && -d $WHEELHOUSE ]] || die "--wheelhouse DIR is required"
[[ $(uname -m) == aarch64 ]] || echo "install.sh: warning: not arm64 ($(uname -m))" >&2
for tool in python3 nmcli nft; do
  command -v "$tool" >/dev/null || die "$tool is missing: apt-get install python3-venv network-manager nftables"
done

echo "1/6 The app, from the wheelhouse (no internet)"
[[ -x $PREFIX/venv/bin/python ]] || python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install --quiet --no-index --find-links "$WHEELHOUSE" --upgrade kit-tous-risques

echo "2/6 The data folder"
if ((IMAGE)); then
  # The card's data partition, once flashed (it may not exist yet: nofail).
  grep -q 'LABEL=kitdata' /etc/fstab || echo 'LABEL=kitdata /data ext4 defaults,noatime,commit=5,nofail 0 2' >>/etc/fstab
  mkdir -p /data
elif ! mountpoint -q /data; then
  if ! grep -q 'LABEL=kitdata' /etc/fstab && [[ -e /dev/disk/by-label/kitdata ]]; then
    echo 'LABEL=kitdata /data ext4 defaults,noatime,commit=5,nofail 0 2' >>/etc/fstab
  fi
  mkdir -p /data
  mount /data 2>/dev/null || echo "install.sh: /data is on the root file system (no kitdata partition)" >&2
fi
mkdir -p /data/kit

echo "3/6 The profile"
if [[ -n $PROFILE ]]; then
  "$PREFIX/venv/bin/kit" profile check --strict "$PROFILE"
  install -m 0600 "$PROFILE" "$BOOT/kit.toml"
  keyname=$(sed -n 's/^ *signing_key *= *"\([^"/]*\)".*/\1/p' "$PROFILE")
  if [[ -n $keyname && -f $(dirname "$PROFILE")/$keyname ]]; then
    install -m 0600 "$(dirname "$PROFILE")/$keyname" "$BOOT/$keyname"
  fi
fi
((IMAGE)) || [[ -f $BOOT/kit.toml || -f /data/kit/kit.toml ]] || die "no kit.toml: give --profile FILE"

echo "4/6 System files, user, firewall, units"
if ((IMAGE)); then
  # The files every kit has (units, scripts, firewall skeleton), from the example profile; the
  # per-kit ones (hotspot, DNS, radio, hostname) come from kit.toml at first boot.
  tmp=$(mktemp -d)
  "$PREFIX/venv/bin/kit" profile render "$(dirname "$0")/example-kit.toml" --out "$tmp" >/dev/null
  rm -rf "$tmp/etc/NetworkManager" "$tmp/etc/kit" "$tmp/etc/hostname" "$tmp/etc/hosts" "$tmp/etc/timezone"
  # Files only: `cp -a "$tmp/." /` would also give / the temporary folder's mode (0700), and
  # then no service but root's can reach anything (dbus hangs, the kit cannot start).
  tar -C "$tmp" -cf - . | tar -C / -xf - --no-overwrite-dir
  rm -rf "$tmp"
  systemd-sysusers /etc/sysusers.d/kit.conf
else
  KIT_BOOT=$BOOT/kit.toml
  if [[ -f $KIT_BOOT ]]; then
    "$PREFIX/venv/bin/kit" profile absorb --boot "$KIT_BOOT" --state /data/kit
  fi
  "$PREFIX/venv/bin/kit" profile render /data/kit/kit.toml --out / >/dev/null
  /usr/local/sbin/kit-config profile
fi
if [[ -f /lib/firmware/cypress/cyfmac43455-sdio-minimal.bin ]]; then
  # 19 Wi-Fi clients instead of 7-10 on the Pi 4/5's chip (no 802.11r/k/v, DFS, ACS).
  update-alternatives --set cyfmac43455-sdio.bin /lib/firmware/cypress/cyfmac43455-sdio-minimal.bin || true
fi
# No systemd running in an image build's chroot: enabling needs none.
if [[ -d /run/systemd/system ]]; then systemctl daemon-reload; fi
systemctl enable kit-config.service kit-radio.service kit-clock.service kit-clock-save.timer \
  nftables.service kit.service

echo "5/6 Read-only root"
if ((READ_ONLY)); then
  mountpoint -q /data || die "--read-only needs /data on its own partition (LABEL=kitdata)"
  command -v raspi-config >/dev/null || die "raspi-config is missing"
  raspi-config nonint do_overlayfs 0
  # Since Bookworm, plain overlayroot=tmpfs also overlays /data and /boot: keep them writable.
  for cmdline in "$BOOT/cmdline.txt" /boot/cmdline.txt; do
    if [[ -f $cmdline ]]; then
      sed -i 's/overlayroot=tmpfs\([^:]\|$\)/overlayroot=tmpfs:recurse=0\1/' "$cmdline"
    fi
  done
fi

echo "6/6 Done. Reboot to start the hotspot: sudo reboot"
