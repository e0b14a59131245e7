#!/usr/bin/env bash
# The system test's Debian bookworm root, as a tarball cached under $CACHE keyed by the package
# list (packages.txt) and this script: debootstrap runs only when either changed.
#   build-root.sh CACHE_DIR   → prints the tarball's path
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: build-root.sh CACHE_DIR}
mkdir -p "$cache"
key=$(cat "$here/packages.txt" "$0" | sha256sum | cut -c1-16)
tarball=$cache/bookworm-$key.tar
if [[ -s $tarball ]]; then echo "$tarball"; exit 0; fi

mapfile -t packages < <(grep -v '^#' "$here/packages.txt")
# The mirror apt already uses on this machine.
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$SECONDS
# The base first; the rest is installed by apt inside the new root (in systemd-nspawn, with the
# host's network): some postinst scripts (polkitd) fail in debootstrap's bare chroot.
{
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$work/root" "$mirror" &&
    systemd-nspawn --register=no --keep-unit --quiet -D "$work/root" --pipe -E DEBIAN_FRONTEND=noninteractive \
      sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"' sh "${packages[@]}"
} >"$work/log" 2>&1 || { tail -30 "$work/log" >&2; exit 1; }
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
tar -C "$work/root" -cf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
echo "build-root.sh: debootstrap took $((SECONDS - started)) s" >&2
echo "$tarball"
