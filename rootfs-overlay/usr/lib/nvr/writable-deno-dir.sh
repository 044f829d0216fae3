#!/bin/sh
# Makes the daemon's writable DENO_DIR from the image's read-only one (/usr/lib/nvr/deno-dir):
#
#   writable-deno-dir.sh <dir> <owner>
#
# Deno uses V8's code cache (deno-dir/v8_code_cache_v2, filled at build time) only when it can open
# it for writing, which the read-only root cannot give. So <dir> gets a copy of each of its files
# (the SQLite caches: V8's code cache, the module and CommonJS analysis caches; a few MiB), owned by
# <owner>, and a symlink to each of its folders (gen/: the emitted JavaScript; npm/: the vendored
# packages), which stay read-only: nothing the box runs is ever written.
# nvr-prestart.sh runs it before each start (into /run/nvr, RAM, emptied at each stop), and
# firmware/build_image.sh runs it inside the root filesystem to fill the code cache, so the cache
# is made for the same paths the box asks for.
set -eu
src=/usr/lib/nvr/deno-dir
dst="${1:?usage: writable-deno-dir.sh <dir> <owner>}"
owner="${2:?usage: writable-deno-dir.sh <dir> <owner>}"
[ -d "$src" ] || { echo "writable-deno-dir: no $src in this image: the build did not vendor the modules" >&2; exit 1; }
rm -rf "$dst"
install -d -o "$owner" -g "$owner" -m 0700 "$dst"
for f in "$src"/*; do
  name="${f##*/}"
  if [ -d "$f" ]; then
    ln -s "$f" "$dst/$name"
  elif [ -f "$f" ]; then
    install -o "$owner" -g "$owner" -m 0600 "$f" "$dst/$name"
  fi
done
