#!/bin/bash
# Builds the flashable image and the signed update bundle of one board:
#
#   out/<board>/nvr-<version>-<board>.img.zst    GPT as the board's layout says (partition_table.sh):
#                                                efi, rootfs-a, rootfs-b, state; boot-a, boot-b too
#                                                on Raspberry Pi boards
#   out/<board>/nvr-<version>-<board>.raucb      RAUC bundle of the root filesystem (grub-efi boards)
#
# Run as root on Debian 12: `make image BOARD=<board>` (the Makefile installs the tools first).
# Everything about a board comes from firmware/boards/<board>.json; nothing here names a board.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
board="${1:?usage: firmware/build_image.sh <board>  (boards: $(ls firmware/boards | sed 's/\.json$//' | paste -sd' '))}"
board_file="firmware/boards/$board.json"
[ -f "$board_file" ] || {
  echo "image: no board file $board_file; boards: $(ls firmware/boards | sed 's/\.json$//' | paste -sd' ')" >&2
  exit 2
}
[ "$(id -u)" = 0 ] || { echo "image: run as root (mmdebstrap --mode=root and file ownership in the image)" >&2; exit 1; }
: "${DENO_VERSION:?image: set DENO_VERSION (the Makefile passes its pinned version)}"
DENO="$(realpath "${DENO:-.tools/bin/deno}")"

b() { jq -er "$1" "$board_file"; }
arch="$(b .arch)"
# The boot partitions are made by firmware/lib/boot_<bootloader.type>.sh; the update bundle of a
# board whose slots include boot partitions (raspi-tryboot: two images and a hook) is not built yet.
boot_type="$(b .bootloader.type)"
[ -x "firmware/lib/boot_$boot_type.sh" ] || {
  echo "image: $board_file has bootloader.type '$boot_type', and there is no" \
    "firmware/lib/boot_$boot_type.sh to make its boot partitions: see firmware/boards/README.md" \
    "for how a '$board' image is made" >&2
  exit 2
}
if [ "$boot_type" != grub-efi ] && [ "${NVR_IMAGE_ONLY:-0}" != 1 ]; then
  echo "image: the update bundle of a '$boot_type' board (root filesystem and boot partition, with" \
    "a hook that writes the slot's cmdline.txt) is not built yet; NVR_IMAGE_ONLY=1 builds its" \
    "flashable image alone (firmware/boards/README.md)" >&2
  exit 2
fi
version="$(sed -n 's/^export const VERSION = "\(.*\)";$/\1/p' runtime/lib/version.ts)"
[ -n "$version" ] || { echo "image: no VERSION in runtime/lib/version.ts" >&2; exit 1; }
# NVR_VERSION=<x.y.z[-tag]> builds a release of that version (the image's runtime says so too);
# NVR_BUNDLE_ONLY=1 skips the disk image (an update bundle for boxes already in the field);
# NVR_IMAGE_ONLY=1 skips the update bundle (the image test never installs the base version's own
# bundle, and its mksquashfs cost 131-273 s here).
if [ -n "${NVR_VERSION:-}" ]; then
  [[ "$NVR_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] ||
    { echo "image: NVR_VERSION must look like 1.2.3 or 1.2.3-rc.1, got '$NVR_VERSION'" >&2; exit 1; }
  version="$NVR_VERSION"
fi
commit="$(git rev-parse HEAD)"
out="out/$board"
cache="out/cache"
work="$out/work"
keys="out/keys"
name="nvr-$version-$board"
t_all=$(date +%s)
step() { echo "image: $*" >&2; }
took() { step "$1 took $(($(date +%s) - $2)) s"; }
mkdir -p "$out" "$cache" "$keys"

# --- 1. Base root filesystem (cached by content hash) -------------------------------------------
t=$(date +%s)
tarball="$(firmware/lib/base_rootfs.sh "$board_file" "$cache")"
took "base rootfs" "$t"

t=$(date +%s)
rm -rf "$work"
mkdir -p "$work/rootfs"
root="$work/rootfs"
tar --zstd -xpf "$tarball" -C "$root" --numeric-owner --xattrs --xattrs-include='*'
took "unpacking the base rootfs" "$t"

# --- 2. Deno for the board's architecture, from the npm registry --------------------------------
t=$(date +%s)
npm_pkg="$(b .denoNpmPackage)"
tgz="$cache/npm/$(echo "$npm_pkg" | tr -d @ | tr / -)-$DENO_VERSION.tgz"
if [ ! -s "$tgz" ]; then
  mkdir -p "$cache/npm/tmp"
  packed="$(cd "$cache/npm/tmp" && npm pack --silent "$npm_pkg@$DENO_VERSION")"
  mv "$cache/npm/tmp/$packed" "$tgz"
fi
lib="$root/usr/lib/nvr"
mkdir -p "$lib" "$work/npm"
tar -xzf "$tgz" -C "$work/npm" package/deno
install -m 0755 "$work/npm/package/deno" "$lib/deno"
# Runs it on the target's own userland (through qemu-user on a foreign host).
deno_says="$(chroot "$root" /usr/lib/nvr/deno --version | head -n1)"
step "deno in the image: $deno_says ($npm_pkg@$DENO_VERSION)"
took "deno" "$t"

# --- 3. The runtime, with every module vendored -------------------------------------------------
t=$(date +%s)
# hls.js for the page's recordings playback, from the npm package pinned in deno.lock.
"$DENO" run -A runtime/web/vendor_hls.ts
cp -a runtime plugins deno.json deno.lock README.md LICENSE "$lib/"
find "$lib/runtime" "$lib/plugins" \( -name '*_test.ts' -o -name '*_fixture.ts' \) -delete
sed -i "s/^export const VERSION = \".*\";$/export const VERSION = \"$version\";/" "$lib/runtime/lib/version.ts"
rm -rf "$lib/runtime/testing" # fixtures shared by tests: never imported by shipped code (layers_test.ts)
# Every remote and npm module the daemon, its workers and plugins import, fetched on this host
# into a fresh DENO_DIR that becomes the image's read-only cache (nvr.service: --cached-only).
# (Files named _*.ts are private helpers, imported by others, or development tools such as
# gst/_leak_probe.ts, which tests run.)
entry=$(cd "$lib" && find runtime plugins -name '*.ts' ! -name '_*' | sort)
# shellcheck disable=SC2086
(cd "$lib" && DENO_DIR="$repo/$work/deno-dir" "$DENO" cache --quiet --frozen $entry)
cp -a "$work/deno-dir" "$lib/deno-dir"
# Deno keys its emit cache (the transpiled JavaScript, deno-dir/gen/file/<absolute path>.js) by each
# module's absolute path: the host's run above stored them under this build directory, which the box
# never sees, so it would transpile every module at every start. Make them again inside the root
# filesystem, with the image's own Deno (qemu-user on a foreign host), for /usr/lib/nvr/…; no network
# (unshare -n): everything it needs must already be in the cache the host filled.
rm -rf "$lib/deno-dir/gen"
# shellcheck disable=SC2086
unshare -n chroot "$root" env -C /usr/lib/nvr DENO_DIR=/usr/lib/nvr/deno-dir /usr/lib/nvr/deno \
  cache --quiet --frozen $entry
elsewhere="$(cd "$lib/deno-dir/gen" && find . -type f ! -path './file/usr/lib/nvr/*' | head -n3)"
if [ -n "$elsewhere" ] || [ ! -s "$lib/deno-dir/gen/file/usr/lib/nvr/runtime/main.ts.js" ]; then
  echo "image: the emit cache in $lib/deno-dir/gen is not all under file/usr/lib/nvr/ (found:" \
    "${elsewhere:-no runtime/main.ts.js}); the box would transpile every module at each start" >&2
  exit 1
fi
step "emit cache: $(find "$lib/deno-dir/gen/file/usr/lib/nvr" -name '*.js' | wc -l) modules under gen/file/usr/lib/nvr"
cat >"$lib/build-info.json" <<EOF
{
  "version": "$version",
  "commit": "$commit",
  "board": "$board",
  "buildDate": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
chown -R 0:0 "$lib"
took "runtime and vendored modules" "$t"

# --- 4. Overlay, services, RAUC ------------------------------------------------------------------
t=$(date +%s)
tar -C rootfs-overlay --exclude=./README.md --owner=0 --group=0 -cf - . |
  tar -C "$root" --no-overwrite-dir -xpf -
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
# Empty: systemd makes a fresh machine id in RAM at each boot (the root is read-only) and does not
# treat every boot as the first one (which would start systemd-firstboot's prompts).
: >"$root/etc/machine-id"
mkdir -p "$root/boot/efi" "$root/var/lib/nvr-state" "$root/mnt/ssd"
systemctl --root="$root" --quiet preset $(awk '$1 == "enable" || $1 == "disable" { print $2 }' \
  rootfs-overlay/usr/lib/systemd/system-preset/80-nvr.preset)
systemctl --root="$root" --quiet mask systemd-firstboot.service
# Nothing in the image waits for network-online.target (nvr.service records without a network, its
# links reconnect): masked, wait-online can neither hold the boot for two minutes nor fail when DHCP
# is slow or the cable is out (it did after a power cut on a loaded host, image test of 22:36).
systemctl --root="$root" --quiet mask systemd-networkd-wait-online.service

if [ ! -s "$keys/dev-key.pem" ]; then
  step "no signing key in $keys/: making a development key (never put it in the image or git)"
  (umask 077 && openssl req -x509 -newkey rsa:4096 -nodes -days 3650 -keyout "$keys/dev-key.pem" \
    -out "$keys/dev-cert.pem" -subj "/O=NVR development/CN=NVR development update signing" 2>/dev/null)
fi
chmod 0600 "$keys/dev-key.pem"
mkdir -p "$root/etc/rauc"
install -m 0644 "$keys/dev-cert.pem" "$root/etc/rauc/keyring.pem"
# RAUC's system.conf: firmware/rauc/system-<bootloader.type>.conf.in where the boot partitions are
# slots too (raspi-tryboot), else firmware/rauc/system.conf.in; a custom backend goes where the
# board file says (raucCustomBackend), from firmware/boot/.
rauc_conf=firmware/rauc/system-$boot_type.conf.in
[ -f "$rauc_conf" ] || rauc_conf=firmware/rauc/system.conf.in
custom_backend="$(jq -r '.raucCustomBackend // empty' "$board_file")"
sed -e "s|@COMPATIBLE@|$(b .raucCompatible)|" -e "s|@BOOTLOADER@|$(b .raucBootloader)|" \
  -e "s|@CUSTOM_BACKEND@|$custom_backend|" "$rauc_conf" >"$root/etc/rauc/system.conf"
if [ -n "$custom_backend" ]; then
  install -D -m 0755 "firmware/boot/${custom_backend##*/}" "$root$custom_backend"
fi
# GStreamer's plugin registry, made once here for this root filesystem (GStreamer checks each
# plugin's size and mtime against it, and mkfs.ext4 -d keeps both). Without it the daemon's
# gst_init scans every plugin the first time a camera records: over 30 s under QEMU TCG, blocking
# the event loop past WatchdogSec, so systemd killed the daemon (run of 13:42). nvr-prestart.sh
# copies it to GST_REGISTRY in /run/nvr.
rm -f "$lib/gstreamer-registry.bin"
unshare -n -m sh -c 'mount -t proc proc "$1/proc" && exec chroot "$1" env \
  GST_REGISTRY=/usr/lib/nvr/gstreamer-registry.bin HOME=/nonexistent gst-inspect-1.0 rtspsrc' \
  sh "$root" >/dev/null || {
  echo "image: gst-inspect-1.0 rtspsrc failed inside the root filesystem: the GStreamer registry" \
    "could not be made; check the board's gstreamerPackages in $board_file" >&2
  exit 1
}
chmod 0644 "$lib/gstreamer-registry.bin"
step "GStreamer registry: $(du -h "$lib/gstreamer-registry.bin" | cut -f1) (/usr/lib/nvr/gstreamer-registry.bin)"
# V8's code cache, filled here for the box's own paths: most of a daemon start under QEMU TCG was V8
# compiling the modules (46 s and 80 s at the two starts of the image test of 14:58). Deno uses the
# cache only from a writable DENO_DIR, so the box runs with /run/nvr/deno-dir, which nvr-prestart.sh
# makes with writable-deno-dir.sh; the same script makes it here, in a tmpfs over the root
# filesystem's /run, and the daemon's and the recorder worker's module graphs are loaded there by the
# image's own Deno (qemu-user on a foreign host; no network, --cached-only). Deno keys each entry by
# module URL and source hash (npm packages by their real path, /usr/lib/nvr/deno-dir/npm/...), so the
# cache is made through the same DENO_DIR the box uses.
# The caches Deno wrote (SQLite, checkpointed out of their WAL) go back into the read-only deno-dir.
t_cc=$(date +%s)
unshare -n -m sh -eu -c '
  root="$1"; lib="$2"; dd="$1/run/nvr/deno-dir"
  mount -t tmpfs -o mode=0755 tmpfs "$root/run"
  mount -t proc proc "$root/proc"
  mkdir -p "$root/run/nvr"
  chroot "$root" /usr/lib/nvr/writable-deno-dir.sh /run/nvr/deno-dir root
  printf "%s\n" "// Loads the module graphs the box starts with, so Deno stores their V8 code cache." \
    "await import(\"/usr/lib/nvr/runtime/main.ts\"); // main() runs only as the entry module" \
    "await import(\"/usr/lib/nvr/runtime/recorder/workers/worker_main.ts\"); // likewise" \
    "Deno.exit(0);" >"$root/run/nvr/fill-code-cache.ts"
  chroot "$root" env -C /usr/lib/nvr DENO_DIR=/run/nvr/deno-dir HOME=/nonexistent NO_COLOR=1 \
    /usr/lib/nvr/deno run --config /usr/lib/nvr/deno.json --cached-only --frozen --unstable-kv \
    --unstable-net --allow-all /run/nvr/fill-code-cache.ts
  for db in "$dd"/*; do
    case "$db" in *-wal | *-shm) continue ;; esac
    [ -f "$db" ] && [ ! -L "$db" ] || continue
    sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE);" "PRAGMA journal_mode=DELETE;" >/dev/null
    install -m 0644 "$db" "$lib/deno-dir/${db##*/}"
  done
  # The WAL files the emit step above left (deno does not checkpoint at exit) were copied in with
  # their databases, so the checkpointed copies hold their pages: left beside those, SQLite would
  # replay them onto the newer files.
  rm -f "$lib/deno-dir/"*-wal "$lib/deno-dir/"*-shm
' sh "$root" "$lib" || {
  echo "image: loading the daemon's modules inside the root filesystem (to fill V8's code cache) failed;" \
    "the output above says which module; the box would fail the same way" >&2
  exit 1
}
cc_db="$lib/deno-dir/v8_code_cache_v2"
cc_ours="$(sqlite3 "$cc_db" "SELECT count(*) FROM codecache WHERE specifier LIKE 'file:///usr/lib/nvr/runtime/%';" 2>/dev/null || echo 0)"
cc_npm="$(sqlite3 "$cc_db" "SELECT count(*) FROM codecache WHERE specifier LIKE '%/deno-dir/npm/%';" 2>/dev/null || echo 0)"
cc_wal="$(find "$lib/deno-dir" -maxdepth 1 \( -name '*-wal' -o -name '*-shm' \) | head -n1)"
if [ "$cc_ours" -lt 50 ] || [ -n "$cc_wal" ]; then
  echo "image: V8's code cache $cc_db holds $cc_ours modules of /usr/lib/nvr/runtime (want 50 or more)" \
    "or a SQLite WAL file is left in $lib/deno-dir (${cc_wal:-none}); the box would compile every" \
    "module at each start" >&2
  exit 1
fi
step "V8 code cache: $cc_ours runtime modules, $cc_npm npm modules, $(du -h "$cc_db" | cut -f1); took $(($(date +%s) - t_cc)) s"
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/tmp/* "$root"/var/tmp/*
# NVR_TEST_BROKEN_DAEMON=1 (with NVR_BUNDLE_ONLY=1 only, never a flashable image): a bundle whose
# daemon cannot start, for the image test's health-gate fallback (the box must go back by itself).
if [ "${NVR_TEST_BROKEN_DAEMON:-0}" = 1 ]; then
  [ "${NVR_BUNDLE_ONLY:-0}" = 1 ] ||
    { echo "image: NVR_TEST_BROKEN_DAEMON=1 is for test bundles only; set NVR_BUNDLE_ONLY=1" >&2; exit 1; }
  mkdir -p "$root/usr/lib/systemd/system/nvr.service.d"
  printf '%s\n' "# Test bundle (NVR_TEST_BROKEN_DAEMON=1): the daemon exits at once." "[Service]" \
    "ExecStart=" "ExecStart=/bin/false" >"$root/usr/lib/systemd/system/nvr.service.d/zz-test-broken.conf"
  step "TEST BUNDLE: nvr.service runs /bin/false (NVR_TEST_BROKEN_DAEMON=1)"
fi
took "overlay, services and RAUC" "$t"

step "biggest packages (installed size):"
dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Installed-Size}\t${Package}\n' |
  sort -rn | awk -F'\t' 'NR <= 15 { printf "image:   %7.1f MiB  %s\n", $1 / 1024, $2 }' >&2
step "/usr/lib/nvr: $(du -sh "$lib" | cut -f1) (deno $(du -sh "$lib/deno" | cut -f1), vendored modules $(du -sh "$lib/deno-dir" | cut -f1))"
step "root filesystem: $(du -sh "$root" | cut -f1)"

# --- 5. Filesystem images -------------------------------------------------------------------------
t=$(date +%s)
rootfs_mib="$(b .layout.rootfsMiB)"
state_mib="$(b .layout.stateMiB)"
used_mib=$(($(du -sm "$root" | cut -f1)))
if [ $((used_mib * 100 / rootfs_mib)) -gt 90 ]; then
  echo "image: the root filesystem needs $used_mib MiB, over 90% of layout.rootfsMiB ($rootfs_mib)" \
    "in $board_file; raise it there (each slot is that big) or drop packages" >&2
  exit 1
fi
# No journal: the slot is mounted read-only and never written, so there is nothing to replay.
mkfs.ext4 -q -F -L rootfs -O ^has_journal -d "$root" "$work/rootfs.ext4" "${rootfs_mib}M"
mkfs.ext4 -q -F -L state "$work/state.ext4" "${state_mib}M"

uuid_a="$(cat /proc/sys/kernel/random/uuid)"
uuid_b="$(cat /proc/sys/kernel/random/uuid)"
# The boot partitions (efi.vfat; boot-A.vfat, boot-B.vfat on Raspberry Pi boards), by bootloader
# type, with the firmware packages the board names unpacked beside (not in) the root filesystem.
firmware_root=""
if jq -e '(.bootloader.firmwarePackages // []) | length > 0' "$board_file" >/dev/null; then
  firmware_root="$(firmware/lib/firmware_packages.sh "$board_file" "$cache")"
fi
PARTUUID_A="$uuid_a" PARTUUID_B="$uuid_b" FIRMWARE_ROOT="$firmware_root" \
  "firmware/lib/boot_$boot_type.sh" "$board_file" "$root" "$work" rootfs-a rootfs-b
took "filesystem images" "$t"

# --- 6. The disk image ----------------------------------------------------------------------------
t=$(date +%s)
disk="$work/$name.img"
if [ "${NVR_BUNDLE_ONLY:-0}" != 1 ]; then
rm -f "$disk"
truncate -s "$(firmware/lib/partition_table.sh --mib "$board_file")M" "$disk"
firmware/lib/partition_table.sh "$board_file" "$uuid_a" "$uuid_b" | sfdisk --quiet "$disk"
put() { # <partition number> <filesystem image>
  local start
  start="$(sfdisk -J "$disk" | jq -er ".partitiontable.partitions[$(($1 - 1))].start")"
  dd if="$2" of="$disk" bs=1M seek=$((start * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
}
# Each partition from the file the steps above made for it; slot B's (rootfs-b, boot-b) stay empty
# (all zeroes) until the first update, and the bootloader's state says so (grubenv B_OK=0;
# autoboot.txt boots boot-a).
n=0
while read -r part; do
  n=$((n + 1))
  case "$part" in
    efi) put "$n" "$work/efi.vfat" ;;
    boot-a) put "$n" "$work/boot-A.vfat" ;;
    rootfs-a) put "$n" "$work/rootfs.ext4" ;;
    state) put "$n" "$work/state.ext4" ;;
  esac
done < <(firmware/lib/partition_table.sh --names "$board_file")
rm -f "$out/$name.img.zst"
# Level 6: measured here on the same 3.2 GiB disk (load average 3-5): -12 took 62 s for 282 MiB,
# -9 34 s for 285 MiB, -6 18.5 s for 300 MiB, -3 8 s for 320 MiB (the limit below is 400 MiB).
zstd -q -T0 -6 "$disk" -o "$out/$name.img.zst"
took "disk image" "$t"
fi

# --- 7. The signed update bundle ----------------------------------------------------------------
if [ "${NVR_IMAGE_ONLY:-0}" = 1 ]; then
  [ "${NVR_BUNDLE_ONLY:-0}" != 1 ] ||
    { echo "image: NVR_IMAGE_ONLY=1 and NVR_BUNDLE_ONLY=1 together would build nothing" >&2; exit 1; }
  rm -f "$out/$name.raucb" # a bundle of an earlier build would not match this image
  step "no update bundle (NVR_IMAGE_ONLY=1)"
else
t=$(date +%s)
rm -rf "$work/bundle" "$out/$name.raucb"
mkdir -p "$work/bundle"
ln "$work/rootfs.ext4" "$work/bundle/rootfs.ext4"
cat >"$work/bundle/manifest.raucm" <<EOF
[update]
compatible=$(b .raucCompatible)
version=$version
build=$commit

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
EOF
# The bundle's squashfs in zstd, level 9 (the box's kernel has CONFIG_SQUASHFS_ZSTD=y and unpacks
# it while RAUC installs). Measured here with RAUC 1.8 and mksquashfs 4.5.1 on the same root
# filesystem (load average 6-7): mksquashfs's default gzip 253 s for 351 MiB, zstd level 3 26 s for
# 361 MiB, level 9 42 s for 336 MiB, level 15 (its default) 165 s for 312 MiB. The bundle is built
# once per release but downloaded by every box (about 1 MB/s under QEMU in the image test).
rauc bundle --cert="$keys/dev-cert.pem" --key="$keys/dev-key.pem" \
  --mksquashfs-args="-comp zstd -Xcompression-level 9" "$work/bundle" "$out/$name.raucb" >/dev/null
took "update bundle" "$t"
fi

size_mib() { echo "$(($(stat -c %s "$1") / 1048576)) MiB"; }
[ -f "$out/$name.raucb" ] && step "built $out/$name.raucb ($(size_mib "$out/$name.raucb"))"
[ "${NVR_BUNDLE_ONLY:-0}" = 1 ] && { took "the whole build" "$t_all"; exit 0; }
step "built $out/$name.img.zst ($(size_mib "$out/$name.img.zst") compressed, $(size_mib "$disk") raw)"
limit=$((400 * 1048576))
if [ "$(stat -c %s "$out/$name.img.zst")" -gt "$limit" ]; then
  echo "image: the compressed image is over 400 MiB; see the biggest packages above" >&2
  exit 1
fi
took "the whole build" "$t_all"
