#!/bin/bash
# Builds (or reuses) the base root filesystem tarball of a board: Debian <suite> for <arch> with the
# packages of firmware/base-packages.txt and of the board file, made by mmdebstrap. The tarball is
# cached in <cache>/ under a content hash of everything that goes into it (suite, architecture,
# mirrors, package list, the customize hook and this recipe), so a second build reuses it.
#
#   firmware/lib/base_rootfs.sh <board.json> <cache dir>     prints the tarball's path on stdout
set -euo pipefail
board_file="$1"
cache="$2"
here="$(cd "$(dirname "$0")" && pwd)"
fw="$(dirname "$here")"

suite="$(jq -er .suite "$board_file")"
arch="$(jq -er .arch "$board_file")"
mirrors=(
  "deb http://deb.debian.org/debian $suite main"
  "deb http://deb.debian.org/debian $suite-updates main"
  "deb http://deb.debian.org/debian-security $suite-security main"
)
packages="$({
  grep -v '^\s*#' "$fw/base-packages.txt" | grep -v '^\s*$'
  jq -r '(.kernelPackages + .bootloader.packages + .gstreamerPackages + .extraPackages)[]' "$board_file"
} | sort -u | paste -sd, -)"

# The initramfs holds only the modules the board needs to reach its root file system (board file:
# initramfsModules). With initramfs-tools' default MODULES=most, each of ~3000 modules is resolved
# by a separate emulated modprobe under qemu-user, which made one update-initramfs take ~17 min.
modules="$(jq -er '.initramfsModules | if length > 0 then join(" ") else error("empty") end' "$board_file")" || {
  echo "base rootfs: $board_file has no initramfsModules: list the storage and file-system modules" \
    "its root needs (e.g. virtio_blk ext4), see firmware/README.md" >&2
  exit 1
}

# What mmdebstrap is told besides the packages; a change here is a new cache key.
opts=(
  --mode=root --variant=apt --architectures="$arch"
  --aptopt='APT::Install-Recommends "false"'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-include=/usr/share/locale/locale.alias'
  # What GStreamer's GL, GTK and speech plugins pull in and a headless recorder never loads: Mesa's
  # drivers and the LLVM/Z3 they link (~150 MiB), flite's voices with its plugin. (Not the icon
  # themes: adwaita-icon-theme's postinst registers a file in them and fails without it.)
  --dpkgopt='path-exclude=/usr/lib/*/dri/*'
  --dpkgopt='path-exclude=/usr/lib/*/libLLVM*'
  --dpkgopt='path-exclude=/usr/lib/*/libz3.so*'
  --dpkgopt='path-exclude=/usr/lib/*/libflite*'
  --dpkgopt='path-exclude=/usr/lib/*/gstreamer-1.0/libgstflite.so'
  # dpkg's fsync per file is most of an emulated install's wait: eatmydata (Debian's hook) drops
  # them while the tree is built; the tarball is written once at the end.
  --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata
  --customize-hook="mkdir -p \"\$1/etc/initramfs-tools\" && printf '%s\\n' $modules >\"\$1/etc/initramfs-tools/modules\" && sed -i 's/^MODULES=.*/MODULES=list/' \"\$1/etc/initramfs-tools/initramfs.conf\""
  # The initramfs is made once, at the end (base_hook.sh): under qemu-user every run of
  # update-initramfs takes about 17 min here, and the kernel's postinst and initramfs-tools' trigger
  # would run it twice. Until then update-initramfs is diverted to a no-op.
  --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.nvr-build --add /usr/sbin/update-initramfs && printf "#!/bin/sh\nexit 0\n" >"$1/usr/sbin/update-initramfs" && chmod 0755 "$1/usr/sbin/update-initramfs"'
)
key="$({
  printf '%s\n' "$suite" "$arch" "$packages" "${mirrors[@]}" "${opts[@]}"
  cat "$here/base_hook.sh" "$0"
} | sha256sum | cut -c1-16)"
tarball="$cache/base-$suite-$arch-$key.tar.zst"

if [ -s "$tarball" ]; then
  echo "base rootfs: cached $tarball" >&2
  echo "$tarball"
  exit 0
fi

if [ "$arch" != "$(dpkg --print-architecture)" ] && ! arch-test "$arch" >/dev/null 2>&1; then
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable "qemu-$(jq -er '.qemuUser // empty' "$board_file" 2>/dev/null || echo aarch64)" || true
  arch-test "$arch" >/dev/null || {
    echo "base rootfs: this host cannot run $arch programs; install qemu-user-static and binfmt-support" \
      "and enable binfmt_misc (see firmware/README.md)" >&2
    exit 1
  }
fi

mkdir -p "$cache"
echo "base rootfs: building $tarball (mmdebstrap $suite $arch; cache miss)" >&2
start=$(date +%s)
tmp="$cache/.base-$key.$$.tar.zst"
trap 'rm -f "$tmp"' EXIT
nice -n 10 mmdebstrap "${opts[@]}" --include="$packages" \
  --customize-hook="$here/base_hook.sh \"\$1\"" \
  "$suite" "$tmp" "${mirrors[@]}" >&2
mv "$tmp" "$tarball"
trap - EXIT
echo "base rootfs: built in $(($(date +%s) - start)) s, $(du -h "$tarball" | cut -f1)" >&2
echo "$tarball"
