#!/bin/bash
# The builds the image test needs, each made only when its inputs changed, so `make image-test` and
# `make image-test-faults` share one build (on one machine, or on two with out/ cached between them):
#
#   firmware/lib/test_build.sh <board> image              out/<board>/nvr-<version>-<board>.img.zst
#                                                         (no .raucb of the base version: the test
#                                                         never installs it)
#   firmware/lib/test_build.sh <board> bundle <x.y.z>     out/<board>/nvr-<x.y.z>-<board>.raucb
#   firmware/lib/test_build.sh <board> broken <x.y.z-t>   the same with NVR_TEST_BROKEN_DAEMON=1
#
# Staleness: next to each output, `<output>.inputs` holds the SHA-256 of everything the build reads
# from this repository (the content of every file git tracks or would track under runtime/,
# plugins/, rootfs-overlay/, firmware/ and deno.json, deno.lock, README.md, LICENSE, minus tests,
# fixtures, runtime/testing/, firmware/test/, firmware/README.md and this script, which the image
# never holds), the update signing certificate, the board, the version, DENO_VERSION and the kind of
# build. The output is reused only when that file exists and says the same hash as now; otherwise
# the stamp is removed first and written again only after the build succeeded, so an interrupted
# build is never taken. Content, not commit or mtime: a commit that changes no input reuses the
# output (its build-info.json names the commit it was built from). Not covered: the Debian mirror's
# state (the base root filesystem has its own cache, firmware/lib/base_rootfs.sh) and the host's
# tools (rauc, mksquashfs); NVR_REBUILD=1 builds anyway.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
board="${1:?usage: firmware/lib/test_build.sh <board> image|bundle <version>|broken <version>}"
kind="${2:?usage: firmware/lib/test_build.sh <board> image|bundle <version>|broken <version>}"
: "${DENO_VERSION:?test_build: set DENO_VERSION (the Makefile passes its pinned version)}"
base_version="$(sed -n 's/^export const VERSION = "\(.*\)";$/\1/p' runtime/lib/version.ts)"
case "$kind" in
  image) version="$base_version"; output="out/$board/nvr-$version-$board.img.zst" ;;
  bundle | broken)
    version="${3:?test_build: $kind needs a version, e.g. 0.1.1}"
    output="out/$board/nvr-$version-$board.raucb"
    ;;
  *) echo "test_build: unknown kind '$kind' (image, bundle or broken)" >&2; exit 2 ;;
esac
stamp="$output.inputs"

inputs_hash() {
  {
    echo "board=$board kind=$kind version=$version deno=$DENO_VERSION"
    sha256sum out/keys/dev-cert.pem 2>/dev/null || echo "no signing certificate yet"
    git ls-files -z --cached --others --exclude-standard -- runtime plugins rootfs-overlay firmware \
      deno.json deno.lock README.md LICENSE |
      grep -zv -e '_test\.ts$' -e '_fixture\.ts$' -e '^runtime/testing/' -e '^firmware/test/' \
        -e '^firmware/README\.md$' -e '^firmware/lib/test_build\.sh$' |
      sort -z |
      while IFS= read -r -d '' f; do if [ -f "$f" ]; then sha256sum "$f"; fi; done
  } | sha256sum | cut -d' ' -f1
}

want="$(inputs_hash)"
key_before="$(cat out/keys/dev-cert.pem 2>/dev/null || true)"
if [ "${NVR_REBUILD:-0}" != 1 ] && [ -s "$output" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "test_build: reusing $output (inputs unchanged: $want)" >&2
  exit 0
fi
echo "test_build: building $output (inputs $want; stamp was: $(cat "$stamp" 2>/dev/null || echo none))" >&2
rm -f "$stamp"
t=$(date +%s)
case "$kind" in
  image) NVR_IMAGE_ONLY=1 firmware/build_image.sh "$board" ;;
  bundle) NVR_VERSION="$version" NVR_BUNDLE_ONLY=1 firmware/build_image.sh "$board" ;;
  broken)
    NVR_VERSION="$version" NVR_BUNDLE_ONLY=1 NVR_TEST_BROKEN_DAEMON=1 firmware/build_image.sh "$board"
    ;;
esac
[ -s "$output" ] || { echo "test_build: the build ended without $output" >&2; exit 1; }
# The first build makes the development signing key: hash again with its certificate.
if ! grep -q . <<<"$key_before"; then want="$(inputs_hash)"; fi
echo "$want" >"$stamp"
echo "test_build: $output built in $(($(date +%s) - t)) s" >&2
