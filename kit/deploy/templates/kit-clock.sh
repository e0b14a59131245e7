#!/usr/bin/env bash
# Kit tous risques: keep a sane clock without network or RTC.
#   kit-clock restore   at boot: if the clock is behind the last saved time, step it forward
#   kit-clock save      every 10 minutes and at shutdown: save the time on /data
# The clock only ever steps forward; an RTC (Pi 5, or a DS3231 on a Pi 4/Zero) or the
# radio's GPS is trusted before this file.
set -euo pipefail

FILE=${KIT_CLOCK_FILE:-/data/kit/clock}

case ${1:-} in
  restore)
    if [[ -f $FILE ]]; then
      saved=$(cat "$FILE")
      now=$(date +%s)
      if [[ $saved =~ ^[0-9]+$ ]] && ((saved > now)); then
        date -s "@$saved" >/dev/null
        echo "kit-clock: clock stepped forward to the saved time $(date -u +%FT%TZ)"
      fi
    fi
    ;;
  save)
    mkdir -p "$(dirname "$FILE")"
    date +%s >"$FILE.tmp"
    mv "$FILE.tmp" "$FILE"
    ;;
  *)
    echo "usage: kit-clock restore|save" >&2
    exit 2
    ;;
esac
