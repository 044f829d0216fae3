#!/bin/bash
# Boot partitions of a board with bootloader.type "raspi-tryboot" (Raspberry Pi EEPROM bootloader,
# A/B by tryboot and autoboot.txt; firmware/boards/README.md "rpi4"), made from a root filesystem
# that holds the board's kernel and firmware packages. Everything comes from the board file:
#
#   firmware/lib/boot_raspi-tryboot.sh <board.json> <rootfs dir> <out dir> <PARTLABEL of A> <of B>
#
# writes <out>/efi.vfat (autoboot.txt), <out>/boot-A.vfat and <out>/boot-B.vfat (firmware, device
# trees, kernel as vmlinuz, initrd as initrd.img, config.txt, and cmdline.txt naming that slot's
# root partition and rauc.slot). The firmware files come from FIRMWARE_ROOT when set (build_image.sh:
# bootloader.firmwarePackages unpacked by firmware_packages.sh, never installed in the root
# filesystem), else from the root filesystem.
# raspi-firmware's own config.txt and cmdline.txt in /boot/firmware are not used: its cmdline says
# rw, takes root= from the build host and adds cma=64M off a Pi 4.
set -euo pipefail
board_file="$1"
root="$2"
out="$3"
label_a="$4"
label_b="$5"
b() { jq -er "$1" "$board_file"; }
fail() {
  echo "boot (raspi-tryboot): $*" >&2
  exit 1
}

[ "$(b .bootloader.type)" = raspi-tryboot ] || fail "$board_file is not a raspi-tryboot board"
kernel="$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' ! -name '*.dpkg-*' | sort -V | tail -n1)"
[ -n "$kernel" ] || fail "no kernel in $root/boot (vmlinuz-*): check kernelPackages in $board_file"
version="${kernel##*/vmlinuz-}"
initrd="$root/boot/initrd.img-$version"
[ -s "$initrd" ] || fail "no $initrd: the base root filesystem's update-initramfs did not run"
firmware_dir="${FIRMWARE_ROOT:-$root}/usr/lib/raspi-firmware"
dtb_dir="$root/usr/lib/linux-image-$version/$(b .bootloader.dtbDir)"
mib() { jq -er --arg n "$1" '.layout.partitions[] | select(.name == $n) | .mib' "$board_file"; }

mkdir -p "$out/files"
files="$out/files"
rm -rf "${files:?}"/*
while read -r f; do
  [ -s "$firmware_dir/$f" ] || fail "no $firmware_dir/$f: check bootloader.firmwarePackages and .firmwareFiles in $board_file"
  cp "$firmware_dir/$f" "$files/"
done < <(b '.bootloader.firmwareFiles[]')
while read -r f; do
  [ -s "$dtb_dir/$f" ] || fail "no device tree $dtb_dir/$f for kernel $version (bootloader.dtbs in $board_file)"
  cp "$dtb_dir/$f" "$files/"
done < <(b '.bootloader.dtbs[]')
cp "$kernel" "$files/vmlinuz"
cp "$initrd" "$files/initrd.img"
b '.bootloader.configTxt[]' >"$files/config.txt"

vfat() { # <image> <label> <MiB> <files…>
  local image="$1" label="$2" size="$3"
  shift 3
  rm -f "$image"
  mkfs.vfat -C -n "$label" "$image" $((size * 1024)) >/dev/null
  mcopy -i "$image" "$@" ::/
}
for slot in A B; do
  if [ "$slot" = A ]; then label="$label_a"; name=boot-a; else label="$label_b"; name=boot-b; fi
  b .bootloader.cmdline | sed -e "s|@CONSOLE@|$(b .console)|" -e "s|@ROOTFS@|$label|" \
    -e "s|@SLOT@|$slot|" >"$files/cmdline.txt"
  vfat "$out/boot-$slot.vfat" "BOOT-$slot" "$(mib "$name")" "$files"/*
done
b '.bootloader.autobootTxt[]' >"$out/autoboot.txt"
[ "$(stat -c %s "$out/autoboot.txt")" -le 512 ] || fail "autoboot.txt is over the firmware's 512 bytes"
vfat "$out/efi.vfat" EFI "$(mib efi)" "$out/autoboot.txt"
echo "boot (raspi-tryboot): kernel $version; boot-A.vfat, boot-B.vfat, efi.vfat in $out" >&2
