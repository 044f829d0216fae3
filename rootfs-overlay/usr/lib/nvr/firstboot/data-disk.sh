#!/bin/bash
# Finds the recording disk (the filesystem labelled nvr-data) or, when there is none, makes one on
# the one blank disk: a disk other than the boot medium whose first and last MiB are all zeroes and
# on which wipefs sees no partition table and no filesystem signature. A disk holding anything else
# is never formatted, whatever it holds; with no blank disk (or more than one) nothing is formatted,
# the recording disk stays unmounted and nvr.service starts without it (it records nothing and says
# why). On success nvr-data-disk.service mounts the disk (ExecStartPost=, /etc/fstab).
#
# Tests point it at loop devices: NVR_DATA_DISKS="/dev/loop3 …" replaces the scan of /sys/block,
# NVR_DATA_LABEL the label.
set -euo pipefail
label="${NVR_DATA_LABEL:-nvr-data}"
log() { echo "nvr-data-disk: $*" >&2; }

udevadm settle --timeout=30 2>/dev/null || true
if dev="$(blkid -c /dev/null -L "$label" 2>/dev/null)" && [ -n "$dev" ]; then
  log "recording disk: $dev (label $label)"
  exit 0
fi

# The disk that holds the root filesystem, which is never a candidate.
root_src="$(findmnt -no SOURCE / || true)"
boot_disk="$(lsblk -no PKNAME "$root_src" 2>/dev/null | head -n1 || true)"

candidates=()
if [ -n "${NVR_DATA_DISKS:-}" ]; then
  read -r -a candidates <<<"$NVR_DATA_DISKS"
else
  for sys in /sys/block/*; do
    name="${sys##*/}"
    case "$name" in loop* | ram* | zram* | sr* | dm-* | md* | mtd* | mmcblk*boot* | mmcblk*rpmb) continue ;; esac
    [ "$name" = "$boot_disk" ] && continue
    [ "$(cat "$sys/size")" -gt 0 ] || continue
    candidates+=("/dev/$name")
  done
fi

mib=1048576
zeroes() { # <device> <offset in bytes>: true when the MiB there is all zero bytes
  [ "$(dd if="$1" bs=$mib skip="$2" iflag=skip_bytes count=1 status=none | tr -d '\0' | head -c1 | wc -c)" = 0 ]
}
why_not_blank() { # <device>: prints why the disk is not blank, nothing when it is
  local dev="$1" size sigs
  size="$(blockdev --getsize64 "$dev")"
  if [ "$size" -lt $((64 * mib)) ]; then echo "smaller than 64 MiB"; return; fi
  sigs="$(wipefs --no-act --noheadings --output TYPE "$dev" 2>/dev/null | paste -sd, - || true)"
  if [ -n "$sigs" ]; then echo "holds $sigs"; return; fi
  if lsblk -nlo TYPE "$dev" | grep -q part; then echo "has partitions"; return; fi
  if ! zeroes "$dev" 0; then echo "first MiB is not all zeroes"; return; fi
  if ! zeroes "$dev" $((size - mib)); then echo "last MiB is not all zeroes"; return; fi
}

blank=()
for dev in "${candidates[@]}"; do
  reason="$(why_not_blank "$dev")"
  if [ -z "$reason" ]; then blank+=("$dev"); else log "$dev is not blank ($reason): not formatted"; fi
done
if [ "${#blank[@]}" -eq 0 ]; then
  log "no recording disk: no filesystem labelled $label and no blank disk (looked at: ${candidates[*]:-none})." \
    "Attach an empty SSD, or label an existing ext4 filesystem: e2label <partition> $label"
  exit 1
fi
if [ "${#blank[@]}" -gt 1 ]; then
  log "more than one blank disk (${blank[*]}): not choosing one. Detach all but the recording disk" \
    "and reboot, or format it yourself: mkfs.ext4 -L $label <partition>"
  exit 1
fi

disk="${blank[0]}"
log "formatting blank disk $disk as the recording disk (GPT, one ext4 partition labelled $label)"
echo 'label: gpt
type=linux, name="'"$label"'"' | sfdisk --quiet --wipe always "$disk"
partx --update "$disk" 2>/dev/null || true
udevadm settle --timeout=30 2>/dev/null || true
part="$(lsblk -nlpo NAME,TYPE "$disk" | awk '$2 == "part" { print $1; exit }')"
[ -n "$part" ] || { log "partitioned $disk but its partition did not appear; reboot to retry"; exit 1; }
mkfs.ext4 -q -F -L "$label" -m 1 -E lazy_itable_init=1,lazy_journal_init=1 "$part"
udevadm settle --timeout=30 2>/dev/null || true
log "recording disk: $part (label $label), formatted"
