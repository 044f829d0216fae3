#!/bin/sh
# RAUC custom bootloader backend (system.conf: bootloader=custom,
# [handlers] bootloader-custom-backend=/usr/lib/nvr/boot/raspi-tryboot-backend.sh) for Raspberry Pi
# boards with the EEPROM bootloader's tryboot and autoboot.txt (firmware/boards/README.md, "rpi4").
#
#   get-primary | set-primary <A|B> | get-state <A|B> | set-state <A|B> good|bad | get-current
#
# autoboot.txt (on the first FAT partition, mounted at /boot/efi) names the boot partition of the
# slot that boots normally ([all]) and of the one a `reboot "0 tryboot"` tries once ([tryboot]).
# The firmware clears the tryboot flag before it starts the trial, so any reset during the trial
# (power cut, panic, watchdog, a failed health gate that reboots) comes back to [all]. A slot
# becomes [all] only when it is marked good while running as that trial.
#
# Paths are overridable for the test (firmware/test/raspi_tryboot_backend_test.ts):
#   NVR_TRYBOOT_DIR          /boot/efi                            autoboot.txt, nvr-slots
#   NVR_TRYBOOT_DT           /proc/device-tree/chosen/bootloader  tryboot, partition (big-endian u32)
#   NVR_TRYBOOT_CMDLINE      /proc/cmdline                        rauc.slot=
#   NVR_TRYBOOT_REBOOT_PARAM /run/systemd/reboot-param            systemd's argument for reboot(2)
#   NVR_TRYBOOT_PART_A, _B   2, 3                                 the slots' boot partition numbers
set -eu

dir="${NVR_TRYBOOT_DIR:-/boot/efi}"
dt="${NVR_TRYBOOT_DT:-/proc/device-tree/chosen/bootloader}"
cmdline="${NVR_TRYBOOT_CMDLINE:-/proc/cmdline}"
reboot_param="${NVR_TRYBOOT_REBOOT_PARAM:-/run/systemd/reboot-param}"
part_a="${NVR_TRYBOOT_PART_A:-2}"
part_b="${NVR_TRYBOOT_PART_B:-3}"
autoboot="$dir/autoboot.txt"
slots="$dir/nvr-slots"

die() {
  echo "raspi-tryboot-backend: $*" >&2
  exit 1
}

part_of() {
  case "$1" in
    A) echo "$part_a" ;;
    B) echo "$part_b" ;;
    *) die "unknown slot '$1': the bootnames are A and B (system.conf bootname=)" ;;
  esac
}

slot_of() {
  if [ "$1" = "$part_a" ]; then
    echo A
  elif [ "$1" = "$part_b" ]; then
    echo B
  else
    die "boot partition '$1' in $autoboot is neither slot A's ($part_a) nor B's ($part_b); fix the file by hand (see firmware/boards/README.md)"
  fi
}

other() { if [ "$1" = A ]; then echo B; else echo A; fi; }

# boot_partition of one section of autoboot.txt: "all" or "tryboot".
read_section() {
  [ -f "$autoboot" ] || die "$autoboot is missing: the Pi boots its first bootable partition; write it again (see firmware/boards/README.md)"
  v="$(awk -v want="[$1]" '
    /^\[/ { section = $0; next }
    section == want && /^boot_partition=/ { sub(/^boot_partition=/, ""); print; exit }
  ' "$autoboot" | tr -d '\r')"
  case "$v" in
    '' | *[!0-9]*) die "$autoboot has no numeric boot_partition under [$1]" ;;
  esac
  echo "$v"
}

# Writes autoboot.txt beside the old one and renames it over (the firmware reads at most 512 bytes).
write_autoboot() { # <all partition> <tryboot partition>
  tmp="$autoboot.new"
  printf '[all]\ntryboot_a_b=1\nboot_partition=%s\n[tryboot]\nboot_partition=%s\n' "$1" "$2" >"$tmp"
  sync "$tmp" 2>/dev/null || sync
  mv -f "$tmp" "$autoboot"
  sync "$autoboot" 2>/dev/null || sync
}

booted() {
  s="$(tr ' ' '\n' <"$cmdline" | sed -n 's/^rauc\.slot=//p' | tail -n1)"
  [ -n "$s" ] || die "no rauc.slot= in $cmdline: each slot's cmdline.txt must carry it"
  echo "$s"
}

# A device-tree cell (4 bytes, big-endian) as a number; empty when the file is missing.
dt_u32() {
  [ -r "$dt/$1" ] || return 0
  od -An -tu4 --endian=big -N4 "$dt/$1" | tr -d ' '
}

armed() { [ -f "$reboot_param" ] && grep -q tryboot "$reboot_param"; }

get_state() {
  if [ -f "$slots" ] && grep -qx "$1=bad" "$slots"; then echo bad; else echo good; fi
}

set_state_record() { # <slot> <good|bad>
  tmp="$slots.new"
  { [ -f "$slots" ] && grep -v "^$1=" "$slots" || true; } >"$tmp"
  echo "$1=$2" >>"$tmp"
  mv -f "$tmp" "$slots"
}

op="${1:-}"
case "$op" in
  get-primary)
    if armed; then slot_of "$(read_section tryboot)"; else slot_of "$(read_section all)"; fi
    ;;
  get-current)
    booted
    ;;
  get-state)
    part_of "${2:?get-state needs a slot}" >/dev/null
    get_state "$2"
    ;;
  set-primary)
    slot="${2:?set-primary needs a slot}"
    part="$(part_of "$slot")"
    cur="$(booted)"
    if [ "$slot" = "$cur" ]; then
      # The running slot stays the normal one; nothing to try.
      write_autoboot "$part" "$(part_of "$(other "$slot")")"
      rm -f "$reboot_param"
    else
      # After an install: boot normally from the running slot, try the new one once.
      write_autoboot "$(part_of "$cur")" "$part"
      mkdir -p "$(dirname "$reboot_param")"
      echo "0 tryboot" >"$reboot_param"
    fi
    set_state_record "$slot" good
    ;;
  set-state)
    slot="${2:?set-state needs a slot}"
    state="${3:?set-state needs good or bad}"
    part="$(part_of "$slot")"
    cur="$(booted)"
    case "$state" in
      good)
        set_state_record "$slot" good
        if [ "$slot" = "$cur" ] && [ "$(dt_u32 tryboot)" = 1 ] && [ "$(dt_u32 partition)" = "$part" ]; then
          # The trial of this slot passed: it becomes the normal one.
          write_autoboot "$part" "$(part_of "$(other "$slot")")"
        fi
        ;;
      bad)
        set_state_record "$slot" bad
        if [ "$slot" != "$cur" ]; then
          # Never try it: [tryboot] back to the running slot, a pending trial disarmed.
          write_autoboot "$(part_of "$cur")" "$(part_of "$cur")"
          rm -f "$reboot_param"
        fi
        ;;
      *) die "set-state: state must be good or bad, got '$state'" ;;
    esac
    ;;
  *)
    die "usage: $0 get-primary | set-primary <A|B> | get-state <A|B> | set-state <A|B> good|bad | get-current"
    ;;
esac
