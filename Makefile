# Two commands on a fresh Debian 12 machine:  make run  |  make test
# Everything else is installed by these targets: Deno (pinned, from the npm registry, into
# .tools/) and the Debian packages the daemon and the tests use.

DENO_VERSION := 2.9.6
ARCH := $(shell uname -m)
DENO_PKG := $(if $(filter aarch64 arm64,$(ARCH)),@deno/linux-arm64-glibc,@deno/linux-x64-glibc)
DENO_DIR_LOCAL := .tools/deno-$(DENO_VERSION)
DENO := .tools/bin/deno
DENO_REAL := $(DENO_DIR_LOCAL)/node_modules/$(DENO_PKG)/deno

# Debian packages: GStreamer 1.22 and its plugins, the RTSP server library for virtual cameras,
# Mosquitto for the fleet link, socat for virtual serial devices, ffmpeg for checks and baselines,
# openssl for test certificates, Chromium for the web page tests, the disk tools the data disk's
# first-boot script uses (its test runs on loop devices), and the FAT tools the Pi's boot
# partitions are made with (their test builds real FAT images), and ntpdig (ntpsec's SNTP client)
# that asks the box's own NTP server in its test.
APT_PACKAGES := gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp \
  gstreamer1.0-x libgstrtspserver-1.0-0 mosquitto mosquitto-clients socat ffmpeg openssl \
  ca-certificates chromium fdisk e2fsprogs util-linux mount dosfstools mtools \
  ntpsec-ntpdig


.PHONY: vendor run test deps deno check lint fmt bench clean help image image-test image-test-faults image-deps

help:
	@echo "make run    install what is missing, then start the NVR demo (virtual cameras, broker, web page)"
	@echo "make test   install what is missing, then run every test"
	@echo "make check | lint | fmt | bench | clean"
	@echo "make image BOARD=generic-arm64   (root) flashable image + signed update bundle in out/<board>/"
	@echo "make image-test                  (root) build generic-arm64 (cached), boot it in QEMU, update it"
	@echo "make image-test-faults           (root) the same build: power cut, failed update, used SSD"

run: deps deno vendor
	$(DENO) task demo

# Test modules run this many at a time. The suite waits on sockets, cameras and timers far more
# than it computes (one job uses under a core), so 4 on a 2-core box halves the wall time.
DENO_JOBS ?= 4
# Deno 2.9 runs tests without its leak sanitizers unless asked (`--sanitize-ops`,
# `--sanitize-resources`); `--trace-leaks` alone finds nothing and costs about 12 % more CPU
# (5.3 vs 4.8 s of user time over four test files). Extra flags: `make test TEST_FLAGS=…`.
TEST_FLAGS ?=
test: deps deno vendor
	DENO_JOBS=$(DENO_JOBS) $(DENO) task test $(TEST_FLAGS)

# hls.js for the timeline's playback, from the npm package pinned in deno.lock, copied into the
# page's folder (git-ignored): the box serves it and never fetches code at run time.
vendor: deno
	$(DENO) run -A runtime/web/vendor_hls.ts

check lint fmt bench: deno
	$(DENO) task $@

deno: $(DENO)

$(DENO): $(DENO_REAL)
	@mkdir -p .tools/bin
	ln -sf ../deno-$(DENO_VERSION)/node_modules/$(DENO_PKG)/deno $(DENO)

$(DENO_REAL):
	@command -v npm >/dev/null || { echo "npm is needed to fetch Deno from the npm registry: apt-get install npm"; exit 1; }
	@echo "Installing Deno $(DENO_VERSION) ($(DENO_PKG)) into $(DENO_DIR_LOCAL)"
	@mkdir -p $(DENO_DIR_LOCAL)
	npm install --prefix $(DENO_DIR_LOCAL) --no-save --no-audit --no-fund --loglevel=error $(DENO_PKG)@$(DENO_VERSION)
	@test -x $@ || { echo "The npm package $(DENO_PKG)@$(DENO_VERSION) has no binary at $@"; exit 1; }
	@touch $@

deps:
	@missing=$$(for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "Installing Debian packages:" $$missing; \
	if [ "$$(id -u)" = 0 ]; then SUDO=""; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo"; \
	else echo "These Debian packages are missing: $$missing"; \
	  echo "Run 'make deps' as root (or give this user sudo), then run make again."; exit 1; fi; \
	$$SUDO apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null && \
	echo "Debian packages installed."

clean:
	rm -rf .demo test-artifacts

# --- Firmware image (issue 13): see firmware/README.md. As root on Debian 12. -------------------
BOARD ?= generic-arm64
# Debian's own tools for building and booting images; the board's packages come from its file,
# and so do the host packages that boot it in QEMU (its "hostPackages", read with jq once jq is in).
# (npm, for Deno's arm64 package, is needed as for the host's Deno: see $(DENO_REAL).)
IMAGE_APT_PACKAGES := mmdebstrap qemu-user-static binfmt-support arch-test fdisk dosfstools mtools \
  e2fsprogs squashfs-tools rauc zstd jq openssl sqlite3

image-deps:
	@$(MAKE) --no-print-directory deps APT_PACKAGES="$(IMAGE_APT_PACKAGES)"
	@test -f firmware/boards/$(BOARD).json || { echo "no board file firmware/boards/$(BOARD).json"; exit 2; }
	@$(MAKE) --no-print-directory deps \
	  APT_PACKAGES="$$(jq -r '.hostPackages // [] | .[]' firmware/boards/$(BOARD).json | paste -sd' ' -)"

image: image-deps deno
	DENO_VERSION=$(DENO_VERSION) DENO=$(DENO) firmware/build_image.sh $(BOARD)

# The update the test sends over the fleet: the same tree as a release one patch version newer.
NEXT_VERSION = $(shell sed -n 's/^export const VERSION = "\([0-9]*\)\.\([0-9]*\)\.\([0-9]*\)";$$/\1.\2.\3/p' runtime/lib/version.ts | awk -F. '{ print $$1 "." $$2 "." $$3 + 1 }')

# And a bundle of a version in between whose daemon cannot start: the box must go back by itself.
BROKEN_VERSION = $(NEXT_VERSION)-broken

# The image test in two halves, each under 30 min on 2 cores (firmware/README.md, "Time budget"),
# from one build: test_build.sh makes each output only when its inputs changed (a hash stamp next
# to it), so the second target here, or on a CI machine that kept out/, reuses the first's build.
# IMAGE_TEST_ARGS: more options for image_test.ts, e.g. --journal-to-console (debugging).
IMAGE_TEST_ARGS ?=
TEST_BUILD = DENO_VERSION=$(DENO_VERSION) DENO=$(DENO) firmware/lib/test_build.sh $(BOARD)

# Build, boot, provisioning and enrolment, claim, a camera recording on the SSD, a tampered bundle
# refused, the fleet update to the next version reaching lastUpdate good on slot B.
image-test: image-deps deno
	$(TEST_BUILD) image
	$(TEST_BUILD) bundle $(NEXT_VERSION)
	$(DENO) run -A firmware/test/image_test.ts --board $(BOARD) --next-version $(NEXT_VERSION) \
	  $(IMAGE_TEST_ARGS)

# A power cut during an install, an update whose daemon cannot start (GRUB back to slot A, the
# rolled-back report), and a second boot with an SSD that holds data.
# (The power cut installs a bundle the test makes itself: a few MiB to download, 1.4 GiB to write.)
image-test-faults: image-deps deno
	$(TEST_BUILD) image
	$(TEST_BUILD) broken $(BROKEN_VERSION)
	$(DENO) run -A firmware/test/image_test.ts --board $(BOARD) --faults \
	  --next-version $(NEXT_VERSION) --broken-version $(BROKEN_VERSION) $(IMAGE_TEST_ARGS)
