#!/bin/bash
# The board's boot firmware packages (bootloader.firmwarePackages, e.g. raspi-firmware), unpacked
# but not installed: their files go onto the boot partitions, never into the root filesystem (the
# Pi firmware's kernel hook would write its own config.txt and cmdline.txt; boards/README.md
# "rpi4"). Fetched from the board's archive components (e.g. non-free-firmware) with
# `mmdebstrap --variant=extract` (no maintainer scripts, nothing emulated) and cached in
# <cache>/ under a hash of suite, architecture, components, packages and this script.
#
#   firmware/lib/firmware_packages.sh <board.json> <cache dir>   prints the unpacked tree's path
set -euo pipefail
board_file="$1"
cache="$2"
suite="$(jq -er .suite "$board_file")"
arch="$(jq -er .arch "$board_file")"
components="$(jq -er '(.components // ["main"]) | join(" ")' "$board_file")"
packages="$(jq -er '.bootloader.firmwarePackages // [] | join(",")' "$board_file")"
[ -n "$packages" ] || {
  echo "firmware packages: $board_file has no bootloader.firmwarePackages" >&2
  exit 1
}
key="$({
  printf '%s\n' "$suite" "$arch" "$components" "$packages"
  cat "$0"
} | sha256sum | cut -c1-16)"
dir="$cache/firmware-$suite-$arch-$key"
if [ -d "$dir" ]; then
  echo "firmware packages: cached $dir" >&2
  echo "$dir"
  exit 0
fi
mkdir -p "$cache"
tmp="$cache/.firmware-$key.$$"
trap 'rm -rf "$tmp"' EXIT
echo "firmware packages: fetching $packages ($suite $arch, $components)" >&2
mmdebstrap --quiet --variant=extract --architectures="$arch" --include="$packages" \
  "$suite" "$tmp" "deb http://deb.debian.org/debian $suite $components" >&2
mv "$tmp" "$dir"
trap - EXIT
echo "$dir"
