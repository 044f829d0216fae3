#!/bin/bash
# Boot partition of a board with bootloader.type "grub-efi" (UEFI: GRUB as the removable-media
# loader, A/B by grubenv as RAUC's grub backend keeps it; firmware/grub/grub.cfg.in), made from a
# root filesystem that holds the board's bootloader packages. Everything comes from the board file:
#
#   firmware/lib/boot_grub-efi.sh <board.json> <rootfs dir> <out dir> <PARTLABEL of A> <of B>
#
# with PARTUUID_A and PARTUUID_B set to the root slots' partition UUIDs (grub.cfg boots
# root=PARTUUID=…). Writes <out>/efi.vfat: EFI/BOOT/<efiFile>, grub.cfg and grubenv (slot A good).
# GRUB runs inside the root filesystem (qemu-user on a foreign host); what it writes there (in
# /tmp) is moved out, so call this after the root filesystem's image is made.
set -euo pipefail
board_file="$1"
root="$2"
out="$3"
: "${PARTUUID_A:?boot (grub-efi): set PARTUUID_A and PARTUUID_B}" "${PARTUUID_B:?}"
b() { jq -er "$1" "$board_file"; }
[ "$(b .bootloader.type)" = grub-efi ] || {
  echo "boot (grub-efi): $board_file is not a grub-efi board" >&2
  exit 1
}
efi_mib="$(b '(.layout.partitions // [] | map(select(.name == "efi"))[0].mib) // .layout.efiMiB')"
grub_target="$(b .bootloader.grubTarget)"
efi_file="$(b .bootloader.efiFile)"
# GRUB from the board's own packages, run inside the rootfs; kept out of the rootfs afterwards.
chroot "$root" grub-mkimage -O "$grub_target" -o /tmp/grub.efi -p /EFI/BOOT \
  part_gpt fat ext2 normal linux configfile loadenv test regexp echo search minicmd reboot halt \
  sleep gzio
chroot "$root" grub-editenv /tmp/grubenv create
chroot "$root" grub-editenv /tmp/grubenv set ORDER="A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0
mv "$root/tmp/grub.efi" "$root/tmp/grubenv" "$out/"
here="$(cd "$(dirname "$0")/.." && pwd)"
sed -e "s|@PARTUUID_A@|$PARTUUID_A|" -e "s|@PARTUUID_B@|$PARTUUID_B|" -e "s|@CONSOLE@|$(b .console)|" \
  "$here/grub/grub.cfg.in" >"$out/grub.cfg"
rm -f "$out/efi.vfat"
mkfs.vfat -C -n EFI "$out/efi.vfat" $((efi_mib * 1024)) >/dev/null
mmd -i "$out/efi.vfat" ::/EFI ::/EFI/BOOT
mcopy -i "$out/efi.vfat" "$out/grub.efi" "::/EFI/BOOT/$efi_file"
mcopy -i "$out/efi.vfat" "$out/grub.cfg" "$out/grubenv" ::/EFI/BOOT/
