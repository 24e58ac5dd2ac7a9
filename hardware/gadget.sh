#!/bin/bash
# The USB gadget that makes the box the streaming PC's sound card (issue 12):
# a configfs composite gadget with a UAC2 function (stereo in and out, 48 kHz
# or 44.1 kHz, 16 or 24 bit, asynchronous feedback endpoint), product
# "Masterbox", optionally a CDC-ECM network function beside it.  Run by
# systemd/masterbox-gadget.service before the daemon; idempotent.
#
#   gadget.sh up | down | status
#
# Settings (environment, or /etc/masterbox/gadget.env read by the unit):
#   GADGET_RATES   48000 (default) | 44100 | "48000,44100" (the host picks;
#                  a list needs Linux 5.18+, u_audio's multi-rate support)
#   GADGET_SSIZE   3 (24 bit, default) | 2 (16 bit)   bytes per sample
#   GADGET_ECM     0 (default) | 1: add a CDC-ECM network function
#   GADGET_SERIAL  serial number string (default: the Pi's, from the device tree)
#   CONFIGFS       /sys/kernel/config (tests point it at a scratch directory)
#   UDC_CLASS      /sys/class/udc
# Sources: Documentation/usb/gadget_configfs.rst and gadget-testing.rst
# ("UAC2 function": c_/p_chmask, c_/p_srate, c_/p_ssize, c_sync, req_number)
# of the Linux kernel; CamillaDSP's gadget set-up guides use the same
# attributes.  IDs: 0x1d6b:0x0104 is the Linux Foundation's "Multifunction
# Composite Gadget", the customary ID for configfs gadgets.
set -euo pipefail
CONFIGFS=${CONFIGFS:-/sys/kernel/config}
UDC_CLASS=${UDC_CLASS:-/sys/class/udc}
G=$CONFIGFS/usb_gadget/masterbox
RATES=${GADGET_RATES:-48000}
SSIZE=${GADGET_SSIZE:-3}
ECM=${GADGET_ECM:-0}
die() { echo "gadget.sh: $*" >&2; exit 2; }

case "$RATES" in
  48000|44100|48000,44100|44100,48000) ;;
  *) die "GADGET_RATES must be 48000, 44100 or 48000,44100 (got '$RATES')" ;;
esac
case "$SSIZE" in 2|3) ;; *) die "GADGET_SSIZE must be 2 (16 bit) or 3 (24 bit) (got '$SSIZE')" ;; esac
case "$ECM" in 0|1) ;; *) die "GADGET_ECM must be 0 or 1 (got '$ECM')" ;; esac

serial() {
  if [ -n "${GADGET_SERIAL:-}" ]; then echo "$GADGET_SERIAL"; return; fi
  local s=""
  [ -r /proc/device-tree/serial-number ] && s=$(tr -d '\0' < /proc/device-tree/serial-number)
  echo "${s:-0000000000000001}"
}

up() {
  [ -d "$CONFIGFS/usb_gadget" ] || modprobe libcomposite 2>/dev/null || true
  [ -d "$CONFIGFS/usb_gadget" ] || die "$CONFIGFS/usb_gadget missing: load libcomposite (and enable dtoverlay=dwc2)"
  if [ -e "$G/UDC" ] && [ -n "$(cat "$G/UDC" 2>/dev/null)" ]; then
    echo "gadget.sh: already bound to $(cat "$G/UDC")"; return 0
  fi
  mkdir -p "$G"
  echo 0x1d6b > "$G/idVendor"
  echo 0x0104 > "$G/idProduct"
  echo 0x0100 > "$G/bcdDevice"
  echo 0x0200 > "$G/bcdUSB"
  mkdir -p "$G/strings/0x409"
  echo "Masterbox" > "$G/strings/0x409/manufacturer"
  echo "Masterbox" > "$G/strings/0x409/product"
  serial > "$G/strings/0x409/serialnumber"
  mkdir -p "$G/configs/c.1/strings/0x409"
  echo "Masterbox" > "$G/configs/c.1/strings/0x409/configuration"
  echo 500 > "$G/configs/c.1/MaxPower"          # mA asked of the host (the Pi draws its own power: README)
  local F=$G/functions/uac2.usb0
  mkdir -p "$F"
  for d in c p; do                              # c = the host plays into the box, p = the box plays to the host
    echo 3 > "$F/${d}_chmask"                   # stereo
    echo "$RATES" > "$F/${d}_srate"
    echo "$SSIZE" > "$F/${d}_ssize"
  done
  echo async > "$F/c_sync"                      # asynchronous: the box's feedback endpoint paces the host
  echo "Masterbox" > "$F/function_name" 2>/dev/null || true   # Linux 5.x+: the name the host shows
  [ -e "$G/configs/c.1/uac2.usb0" ] || ln -s "$F" "$G/configs/c.1/"
  if [ "$ECM" = 1 ]; then
    mkdir -p "$G/functions/ecm.usb0"
    [ -e "$G/configs/c.1/ecm.usb0" ] || ln -s "$G/functions/ecm.usb0" "$G/configs/c.1/"
  fi
  local udc
  udc=$(ls "$UDC_CLASS" 2>/dev/null | head -1 || true)
  [ -n "$udc" ] || die "no USB device controller in $UDC_CLASS (dtoverlay=dwc2 missing, or not a Pi 4/5)"
  echo "$udc" > "$G/UDC"
  echo "gadget.sh: Masterbox bound to $udc (${RATES} Hz, $((SSIZE * 8)) bit$([ "$ECM" = 1 ] && echo ', with CDC-ECM'))"
}

down() {
  [ -d "$G" ] || return 0
  [ -e "$G/UDC" ] && echo "" > "$G/UDC" 2>/dev/null || true
  rm -f "$G"/configs/c.1/uac2.usb0 "$G"/configs/c.1/ecm.usb0
  rmdir "$G"/configs/c.1/strings/0x409 "$G"/configs/c.1 "$G"/functions/* "$G"/strings/0x409 "$G" 2>/dev/null || true
  echo "gadget.sh: Masterbox gadget removed"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) if [ -e "$G/UDC" ]; then echo "bound to: $(cat "$G/UDC")"; cat "$UDC_CLASS"/*/state 2>/dev/null; else echo "no gadget"; fi ;;
  *) die "usage: gadget.sh up|down|status" ;;
esac
