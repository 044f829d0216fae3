#!/bin/bash
# The disk layout of a board, from its file (firmware/boards/<board>.json), for build_image.sh:
#
#   firmware/lib/partition_table.sh <board.json> <PARTUUID of rootfs-a> <of rootfs-b>
#       the sfdisk script of the image (GPT), on stdout
#   firmware/lib/partition_table.sh --mib <board.json>
#       the disk image's size in MiB (1 MiB before the first partition, 1 after the last for GPT's
#       backup table)
#   firmware/lib/partition_table.sh --names <board.json>
#       the partition names in order, one a line
#
# `layout.partitions` lists the partitions in order (name, fs, mib, and `type`: "efi" for the EFI
# system partition, "basic-data" for FAT the Raspberry Pi bootloader reads, default "linux");
# without it a board has the four of the GRUB boards: efi (layout.efiMiB), rootfs-a and rootfs-b
# (layout.rootfsMiB each), state (layout.stateMiB). The root slots are rootfs-a and rootfs-b on
# every board, with the given PARTUUIDs (GRUB's cmdline names them).
set -euo pipefail
mode=table
case "${1:-}" in --mib | --names) mode="${1#--}"; shift ;; esac
board_file="${1:?usage: partition_table.sh [--mib|--names] <board.json> [<uuid a> <uuid b>]}"

partitions='
  .layout as $l
  | if ($l.partitions // null) != null then $l.partitions
    else [
      {name: "efi", fs: "vfat", mib: $l.efiMiB, type: "efi"},
      {name: "rootfs-a", fs: "ext4", mib: $l.rootfsMiB},
      {name: "rootfs-b", fs: "ext4", mib: $l.rootfsMiB},
      {name: "state", fs: "ext4", mib: $l.stateMiB}
    ] end'
# Every partition named, sized in whole MiB, of a known type; rootfs-a and rootfs-b once each.
checked="$(jq -e "[$partitions] | .[0] as \$p
  | if ([\$p[] | select((.name | type) == \"string\" and (.mib | type) == \"number\" and .mib >= 1
        and .mib == (.mib | floor) and ((.type // \"linux\") | IN(\"efi\", \"basic-data\", \"linux\")))]
        | length) == (\$p | length)
      and ([\$p[] | select(.name == \"rootfs-a\")] | length) == 1
      and ([\$p[] | select(.name == \"rootfs-b\")] | length) == 1
      and ([\$p[].name] | unique | length) == (\$p | length)
    then \$p else error(\"bad\") end" "$board_file" 2>/dev/null)" || {
  echo "partition_table: $board_file: layout.partitions (or efiMiB, rootfsMiB, stateMiB) must give" \
    "each partition a unique name, a whole number of MiB (at least 1) and a type of efi," \
    "basic-data or linux, with rootfs-a and rootfs-b once each" >&2
  exit 1
}

case "$mode" in
  mib) jq -r '1 + ([.[].mib] | add) + 1' <<<"$checked" ;;
  names) jq -r '.[].name' <<<"$checked" ;;
  table)
    uuid_a="${2:?partition_table: give the PARTUUIDs of rootfs-a and rootfs-b}"
    uuid_b="${3:?partition_table: give the PARTUUIDs of rootfs-a and rootfs-b}"
    echo "label: gpt"
    # sfdisk's GPT shortcuts: U EFI system, L Linux filesystem; basic data has none.
    jq -r --arg a "$uuid_a" --arg b "$uuid_b" '
      to_entries[] | .key as $i | .value
      | (if $i == 0 then "start=2048, " else "" end)
        + "size=\(.mib)MiB, type="
        + ({efi: "U", "basic-data": "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", linux: "L"}[.type // "linux"])
        + ", name=\(.name)"
        + (if .name == "rootfs-a" then ", uuid=\($a)" elif .name == "rootfs-b" then ", uuid=\($b)" else "" end)
    ' <<<"$checked"
    ;;
esac
