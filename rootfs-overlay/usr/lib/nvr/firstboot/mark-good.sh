#!/bin/bash
# Health gate of an update: the slot GRUB booted is marked good (RAUC's grub backend: <slot>_OK=1,
# <slot>_TRY=0 in grubenv) only after the daemon answered GET /healthz with 200 on this box. A slot
# that never gets here is not booted again once GRUB has tried it; the other slot is.
#
# A trial boot (an update over the fleet installed the running version: pending.json on the data
# disk names it) is decided by the daemon's own health gate (runtime/update/gate.ts: cameras
# recording for a minute, fleet connected), which marks the slot good and removes pending.json, or
# marks it bad and reboots. This script is the backstop for a daemon that cannot get that far: when
# nvr.service fails, /healthz never answers, or the trial outlasts NVR_TRIAL_TIMEOUT, it writes the
# reason beside pending.json (the old slot's daemon reports it as lastUpdate rolled-back), marks the
# booted slot bad and reboots into the other one.
set -u
data="${NVR_DATA_DIR:-/mnt/ssd/nvr}"
pending="$data/.update/pending.json"
# The plain-HTTP listener (http.redirectListen, port 80) serves /healthz; the page itself is HTTPS.
url_port="${NVR_HEALTH_PORT:-80}"
health_timeout="${NVR_HEALTH_TIMEOUT:-300}"
# The daemon's gate gives up after 10 min (DEFAULT_GATE_TIMING.limitMs); the boot comes first.
trial_timeout="${NVR_TRIAL_TIMEOUT:-1200}"
log() { echo "nvr-mark-good: $*"; }

# One GET /healthz over bash's /dev/tcp (no curl on the image); prints the status line.
probe() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$url_port" || exit 1
    printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    timeout 5 head -n1 <&3
  ) 2>/dev/null
}
healthy() { case "$(probe)" in "HTTP/1."?" 200"*) return 0 ;; esac; return 1; }

# pending.json is one line of JSON written by the daemon; only its "to" is read, never executed.
pending_to() { sed -n 's/.*"to":"\([^"]*\)".*/\1/p' "$pending" 2>/dev/null; }
running="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' /usr/lib/nvr/build-info.json)"

give_up() {
  log "the trial of $running failed: $1; marking this slot bad and rebooting into the other one" >&2
  # For the old slot's daemon (Updater.afterBoot): the reason, owned like the rest of .update/.
  if [ -d "$data/.update" ]; then
    printf '%s\n' "$1" >"$data/.update/trial-failed.tmp" &&
      chown nvr:nvr "$data/.update/trial-failed.tmp" && chmod 0600 "$data/.update/trial-failed.tmp" &&
      mv -f "$data/.update/trial-failed.tmp" "$data/.update/trial-failed"
    sync
  fi
  rauc status mark-bad || log "rauc status mark-bad failed; GRUB skips the tried slot anyway" >&2
  systemctl --no-block reboot
  exit 1
}

if [ -f "$pending" ] && [ -n "$running" ] && [ "$(pending_to)" = "$running" ]; then
  log "an update to $running is on trial; the daemon's health gate decides (backstop: $health_timeout s" \
    "for /healthz, $trial_timeout s for the gate)"
  answered=0
  while [ -f "$pending" ]; do
    if systemctl is-failed --quiet nvr.service; then
      give_up "nvr.service failed (the new version's daemon does not start; see its journal)"
    fi
    if [ "$answered" = 0 ] && healthy; then
      answered=1
      log "/healthz answered 200 after $SECONDS s; waiting for the daemon's health gate"
    fi
    if [ "$answered" = 0 ] && [ "$SECONDS" -ge "$health_timeout" ]; then
      give_up "the daemon did not answer /healthz within $health_timeout s of boot"
    fi
    if [ "$SECONDS" -ge "$trial_timeout" ]; then
      give_up "the daemon's health gate did not decide within $trial_timeout s"
    fi
    sleep 2
  done
  log "the daemon's health gate finished the trial of $running (pending.json removed)"
  exit 0
fi

deadline=$((SECONDS + health_timeout))
while [ "$SECONDS" -lt "$deadline" ]; do
  if healthy; then
    log "/healthz answered 200; marking the booted slot good"
    exec rauc status mark-good
  fi
  sleep 2
done
log "/healthz on 127.0.0.1:$url_port did not answer 200 within the deadline;" \
  "the booted slot stays unconfirmed (GRUB falls back to the other slot on the next boot)" >&2
exit 1
