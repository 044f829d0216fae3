#!/bin/bash
# Installs a signed update bundle from a disk (a USB stick) with the filesystem label NVR-UPDATE:
# the one *.raucb at its top level. RAUC verifies the bundle's signature against
# /etc/rauc/keyring.pem before anything is written and installs it into the other slot; then the
# box reboots into it (GRUB tries it once; nvr-mark-good.service confirms it after /healthz).
# Refused: an unsigned or wrongly signed bundle (RAUC), a bundle for another board (RAUC's
# compatible), a version older than the running one (no downgrade from a stick), a bundle this box
# already installed (its sha256 is kept on the state partition, so a stick left in does not loop).
set -euo pipefail
label="${NVR_UPDATE_LABEL:-NVR-UPDATE}"
state="${NVR_STATE_DIR:-/var/lib/nvr-state}"
log() { echo "nvr-update-disk: $*" >&2; }

dev="$(blkid -c /dev/null -L "$label" 2>/dev/null || true)"
[ -n "$dev" ] || exit 0
mnt=/run/nvr-update
mkdir -p "$mnt"
mount -o ro,nosuid,nodev,noexec "$dev" "$mnt"
trap 'umount "$mnt" 2>/dev/null || true' EXIT

shopt -s nullglob
bundles=("$mnt"/*.raucb)
if [ "${#bundles[@]}" -ne 1 ]; then
  log "$dev ($label) holds ${#bundles[@]} *.raucb files at its top level; put exactly one there"
  exit 1
fi
bundle="${bundles[0]}"
sum="$(sha256sum "$bundle" | cut -d' ' -f1)"
if grep -qx "$sum" "$state/installed-bundles" 2>/dev/null; then
  log "${bundle##*/} ($sum) was installed before; nothing to do (remove the stick)"
  exit 0
fi
# Verifies the signature and prints the manifest as shell assignments (parsed, never executed).
info="$(rauc info --output-format=shell "$bundle")"
new="$(sed -n "s/^RAUC_MF_VERSION='\(.*\)'$/\1/p" <<<"$info")"
running="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' /usr/lib/nvr/build-info.json)"
# Newer only: the same version again would install into the other slot and boot it for nothing.
if [ -z "$new" ] || [ "$new" = "$running" ] ||
  [ "$(printf '%s\n%s\n' "$running" "$new" | sort -V | head -n1)" != "$running" ]; then
  log "refusing ${bundle##*/}: version '$new' is not newer than the running $running (no downgrade or repeat from a stick)"
  exit 1
fi
log "installing ${bundle##*/} (version $new, sha256 $sum) into the other slot"
rauc install "$bundle"
echo "$sum" >>"$state/installed-bundles"
sync
log "installed; rebooting into the new slot"
systemctl --no-block reboot
