#!/bin/sh
# Root's part of starting nvr.service (ExecStartPre=+): the few things the daemon's unprivileged
# user cannot do itself. Idempotent; runs before every start.
set -eu
umask 077

# The data folder on the SSD and the identity store on the state partition, owned by the daemon.
# Without the SSD the daemon starts anyway (it records nothing: storage.requireMount) and says so;
# /mnt/ssd is then a folder of the read-only root, where nothing can be made.
if mountpoint -q /mnt/ssd; then
  install -d -o nvr -g nvr -m 0750 /mnt/ssd/nvr
else
  echo "nvr-prestart: /mnt/ssd is not mounted: the daemon starts without its recording disk and" \
    "records nothing; see journalctl -u nvr-data-disk -u mnt-ssd.mount" >&2
fi
install -d -o nvr -g nvr -m 0700 /var/lib/nvr-state/identity

# The box's own configuration (NVR_CONFIG in nvr.service) lives on the state partition, where the
# daemon can save what the page and the fleet change (cameras, schedules); the read-only root only
# holds the image's defaults, copied once at first boot. Losing the SSD keeps it.
install -d -o nvr -g nvr -m 0700 /var/lib/nvr-state/config
if [ ! -e /var/lib/nvr-state/config/config.json ]; then
  install -o nvr -g nvr -m 0600 /etc/nvr/config.json /var/lib/nvr-state/config/config.json
fi

# The provisioning file comes on the boot (EFI) partition, which is FAT and root's only. Move it into
# the identity store (provision.file in /etc/nvr/config.json), where the daemon reads it once and
# wipes it; overwrite the original before removing it, so no copy of the bootstrap credential
# stays readable on a medium that leaves the box.
src=/boot/efi/nvr-provision.json
dst=/var/lib/nvr-state/identity/nvr-provision.json
if [ -f "$src" ] && [ ! -L "$src" ]; then
  size="$(stat -c %s "$src")"
  if [ "$size" -gt 65536 ]; then
    echo "nvr-prestart: $src is $size bytes (over 64 KiB): left where it is, not used" >&2
  else
    install -o nvr -g nvr -m 0600 "$src" "$dst.tmp"
    mv -f "$dst.tmp" "$dst"
    dd if=/dev/zero of="$src" bs="$size" count=1 conv=notrunc,fsync status=none 2>/dev/null || true
    rm -f "$src"
    sync
    echo "nvr-prestart: took the provisioning file from the boot partition into $dst"
  fi
fi

# The daemon's DENO_DIR (nvr.service) in RAM: copies of the image's SQLite caches, V8's code cache
# among them (made at build time; Deno uses it only when it can write it, which the read-only root
# cannot give), and symlinks to its read-only gen/ and npm/; made again from the image at every
# start, so nothing a daemon wrote there outlives it (firmware/README.md, "V8's code cache").
/usr/lib/nvr/writable-deno-dir.sh /run/nvr/deno-dir nvr

# GStreamer's plugin registry (GST_REGISTRY in nvr.service), made at build time for this root
# filesystem: without it the first gst_init scans every plugin, longer than WatchdogSec on a slow box.
# /run/nvr is the service's RuntimeDirectory, emptied at each stop, so this runs at every start.
if [ -s /usr/lib/nvr/gstreamer-registry.bin ] && [ ! -s /run/nvr/gstreamer-registry.bin ]; then
  install -o nvr -g nvr -m 0600 /usr/lib/nvr/gstreamer-registry.bin /run/nvr/gstreamer-registry.bin
fi

# The board's DMI serials are root-only in /sys; the fingerprint reads this copy
# (runtime/board/detect.ts, BoardRoots.dmiCopy).
install -d -o nvr -g nvr -m 0700 /run/nvr/dmi
for f in board_serial product_serial product_uuid; do
  if [ -r "/sys/class/dmi/id/$f" ]; then
    cat "/sys/class/dmi/id/$f" >"/run/nvr/dmi/$f" 2>/dev/null || rm -f "/run/nvr/dmi/$f"
  fi
done
chown -R nvr:nvr /run/nvr/dmi
