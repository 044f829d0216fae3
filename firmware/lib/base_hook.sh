#!/bin/sh
# mmdebstrap --customize-hook for the cached base root filesystem: "$1" is the new root.
# Only what depends on the package set belongs here (it is part of the cache key); everything that
# depends on this repository (runtime, overlay, config) is added by build_image.sh after the cache.
set -eu
root="$1"
# The one initramfs (see the essential hook in base_rootfs.sh): the real update-initramfs back.
rm -f "$root/usr/sbin/update-initramfs"
chroot "$root" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.nvr-build \
  --remove /usr/sbin/update-initramfs
chroot "$root" update-initramfs -c -k all
# The daemon's service user: no login, no home on the read-only root.
chroot "$root" useradd --system --home-dir /var/lib/nvr --no-create-home \
  --shell /usr/sbin/nologin --groups video,dialout nvr
# Nothing of apt's caches or lists belongs in an image that never runs apt.
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/var/log/*.log
