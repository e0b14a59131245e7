#!/usr/bin/env bash
# Kit tous risques: apply kit.toml from the boot partition (kit-config.service, every boot).
#   kit-config          absorb the boot profile, render the system files, set the system up
#   kit-config radio    configure the USB radio, only when its settings changed
# Idempotent. A wrong profile changes nothing: the kit keeps its previous settings and the
# problems are in the journal (journalctl -u kit-config).
set -euo pipefail

KIT=${KIT:-/opt/kit/venv/bin/kit}
MESHTASTIC=${MESHTASTIC:-/opt/kit/venv/bin/meshtastic}
STATE=${KIT_STATE:-/data/kit}
ROOT=${KIT_ROOT:-/}
BOOT=${KIT_BOOT:-}
if [[ -z $BOOT ]]; then
  for candidate in /boot/firmware/kit.toml /boot/kit.toml; do
    if [[ -f $candidate ]]; then BOOT=$candidate; break; fi
  done
fi

log() { printf 'kit-config: %s\n' "$*"; }

apply_profile() {
  mkdir -p "$STATE"
  if [[ -n $BOOT && -f $BOOT ]]; then
    if "$KIT" profile absorb --boot "$BOOT" --state "$STATE"; then
      log "profile taken from $BOOT"
    else
      log "$BOOT is not valid (problems above); keeping the previous profile"
    fi
  fi
  if [[ ! -f $STATE/kit.toml ]]; then
    log "no kit.toml on the boot partition and none kept: the Wi-Fi stays off"
    return 0
  fi
  # Rendered only when the profile names a crisis cell link: a link removed from it goes too.
  rm -f "$ROOT/etc/NetworkManager/system-connections/kit-crisis-cell.nmconnection"
  "$KIT" profile render "$STATE/kit.toml" --out "$ROOT" >/dev/null
  [[ $ROOT == / ]] || return 0

  systemd-sysusers /etc/sysusers.d/kit.conf
  systemd-tmpfiles --create /etc/tmpfiles.d/kit.conf
  chown root:kit "$STATE/kit.toml"
  if [[ -d $STATE/keys ]]; then chown -R root:kit "$STATE/keys"; fi
  register_key
  hostname "$(cat /etc/hostname)" || true
  ln -sfn "/usr/share/zoneinfo/$(cat /etc/timezone)" /etc/localtime
  country=$(sed -n 's/.*ieee80211_regdom=\([A-Z][A-Z]\).*/\1/p' /etc/modprobe.d/kit-wifi-country.conf)
  if command -v iw >/dev/null; then iw reg set "$country" || true; fi
  if command -v rfkill >/dev/null; then rfkill unblock wifi || true; fi
  # Imager's Wi-Fi client profile would take wlan0 away from the hotspot.
  rm -f /etc/NetworkManager/system-connections/preconfigured.nmconnection
  udevadm control --reload || true
  log "system files rendered for $(cat /etc/hostname)"
}

# The register of vulnerable people's key, outside the data folder (kit.service loads it as
# the credential register.key). An older kit's key moves out of /data/kit once.
register_key() {
  local keys=${KIT_KEYS_DIR:-/data/kit-keys} old=$STATE/vulnerable.key
  install -d -m 0700 -o root -g root "$keys"
  if [[ ! -s $keys/register.key && -s $old ]]; then
    install -m 0600 -o root -g root "$old" "$keys/register.key" && cmp -s "$old" "$keys/register.key" && rm -f "$old"
    log "register key moved out of $STATE into $keys"
  elif [[ ! -s $keys/register.key ]]; then
    (umask 077; head -c 32 /dev/urandom >"$keys/register.key")
  fi
  if [[ -s $old ]]; then log "WARNING: $old left in place: $keys/register.key differs"; fi
}

apply_radio() {
  local yaml=/etc/kit/radio.yaml applied=$STATE/radio.applied digest
  if [[ ! -f $yaml ]]; then log "no radio settings rendered"; return 0; fi
  if [[ ! -e /dev/meshtastic ]]; then log "no radio plugged in (/dev/meshtastic)"; return 0; fi
  digest=$(sha256sum "$yaml" | cut -d' ' -f1)
  if [[ -f $applied && $(cat "$applied") == "$digest" ]]; then
    log "radio settings unchanged"
    return 0
  fi
  log "configuring the radio (it reboots afterwards)"
  if timeout 150 "$MESHTASTIC" --port /dev/meshtastic --configure "$yaml"; then
    printf '%s\n' "$digest" >"$applied.tmp" && mv "$applied.tmp" "$applied"
    log "radio configured"
  else
    log "radio configuration failed; will try again at next boot"
  fi
}

case ${1:-profile} in
  profile) apply_profile ;;
  radio) apply_radio ;;
  *) echo "usage: kit-config [profile|radio]" >&2; exit 2 ;;
esac
