#!/bin/bash
# Health gate of an update: the slot GRUB booted is marked good (RAUC's grub backend: <slot>_OK=1,
# <slot>_TRY=0 in grubenv) only after the daemon answered GET /healthz with 200 on this box. A slot
# that never gets here is not booted again once GRUB has tried it; the other slot is.
set -u
# After an update over the fleet the daemon's own health gate decides (runtime/update/gate.ts:
# cameras recording for a minute, fleet connected); it marks the slot good or bad itself.
if [ -f /mnt/ssd/nvr/.update/pending.json ]; then
  echo "nvr-mark-good: an update is on trial; the daemon's health gate decides"
  exit 0
fi
# The plain-HTTP listener (http.redirectListen, port 80) serves /healthz; the page itself is HTTPS.
url_port="${NVR_HEALTH_PORT:-80}"
deadline=$((SECONDS + ${NVR_HEALTH_TIMEOUT:-300}))
# One GET /healthz over bash's /dev/tcp (no curl on the image); prints the status line.
probe() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$url_port" || exit 1
    printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    timeout 5 head -n1 <&3
  ) 2>/dev/null
}
while [ "$SECONDS" -lt "$deadline" ]; do
  case "$(probe)" in
    "HTTP/1."?" 200"*)
      echo "nvr-mark-good: /healthz answered 200; marking the booted slot good"
      exec rauc status mark-good
      ;;
  esac
  sleep 2
done
echo "nvr-mark-good: /healthz on 127.0.0.1:$url_port did not answer 200 within the deadline;" \
  "the booted slot stays unconfirmed (GRUB falls back to the other slot on the next boot)" >&2
exit 1
