#!/usr/bin/env bash
# Install Masterbox on Raspberry Pi OS (bookworm, 64-bit) on a Pi 4 or 5.
# Idempotent: run it again after `git pull` to upgrade.
#
#   sudo hardware/install.sh            # install / upgrade
#   DRY_RUN=1 hardware/install.sh       # print what it would do
#
# Python packages come only from the lock files beside this script (exact
# versions and sha256 hashes, pip --require-hashes; made with
# `uv pip compile --universal --generate-hashes`, see hardware/README.md):
# requirements-pi.lock (Pi <= 4, RPi.GPIO), requirements-pi5.lock (Pi 5,
# rpi-lgpio; every other pin the same), requirements-build.lock (pip,
# setuptools, wheel: the project and RPi.GPIO build without fetching
# anything unpinned).
#   PI_MODEL=5 DRY_RUN=1 hardware/install.sh   # dry run of the Pi 5 path elsewhere
#   sudo MODE=gadget hardware/install.sh       # the box as the PC's USB sound card (README)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/opt/masterbox}
BOOTCFG=${BOOTCFG:-/boot/firmware/config.txt}
run() { if [ "${DRY_RUN:-0}" = 1 ]; then echo "+ $*"; else "$@"; fi; }
# $1 with every character special to a sed replacement (\ & and the | delimiter) escaped
sed_escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
append_once() {  # $1 line, $2 file
  if [ "${DRY_RUN:-0}" = 1 ]; then echo "+ ensure '$1' in $2"; return; fi
  [ -f "$2" ] && grep -qxF "$1" "$2" || echo "$1" >> "$2"
}
case "$PREFIX" in
  /*) ;;
  *) echo "install.sh: PREFIX must be an absolute path (got '$PREFIX')" >&2; exit 2 ;;
esac
case "$PREFIX" in
  *[[:space:]]*) echo "install.sh: PREFIX must not contain white space (systemd's ExecStart= would split it)" >&2; exit 2 ;;
esac
case "${MODE:-interface}" in
  interface|gadget|interface-to-gadget|gadget-to-interface) ;;
  *) echo "install.sh: MODE must be interface, gadget, interface-to-gadget or gadget-to-interface (got '${MODE}')" >&2; exit 2 ;;
esac
[ "${DRY_RUN:-0}" = 1 ] || [ "$(id -u)" = 0 ] || { echo "install.sh: run as root (sudo)" >&2; exit 2; }

# 1. system packages: PortAudio (sounddevice), libsndfile, I2C tools, venv
run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  python3-venv python3-dev gcc libportaudio2 libsndfile1 i2c-tools

# 2. a dedicated user in the device groups (never root)
if ! id masterbox >/dev/null 2>&1; then
  run useradd --system --user-group --home-dir /var/lib/masterbox --shell /usr/sbin/nologin masterbox
fi
for g in audio gpio i2c; do
  getent group "$g" >/dev/null || run groupadd --system "$g"
  run usermod -aG "$g" masterbox
done

# the login user who ran sudo: added to the masterbox group (status, ctl)
LOGIN_USER=${SUDO_USER:-}
[ "$LOGIN_USER" = root ] && LOGIN_USER=
if [ -n "$LOGIN_USER" ]; then
  run usermod -aG masterbox "$LOGIN_USER"
fi

# 3. the software, in its own venv, from the hashed lock files only
#    (Pi 5: rpi-lgpio replaces RPi.GPIO, every other pin kept)
if [ -n "${PI_MODEL:-}" ]; then
  model=$PI_MODEL
elif grep -q "Raspberry Pi 5" /proc/device-tree/model 2>/dev/null; then
  model=5
else
  model=4
fi
if [ "$model" = 5 ]; then LOCK="$SRC/hardware/requirements-pi5.lock"; else LOCK="$SRC/hardware/requirements-pi.lock"; fi
PIP="$PREFIX/venv/bin/pip"
run python3 -m venv "$PREFIX/venv"
run "$PIP" install --require-hashes --no-deps -r "$SRC/hardware/requirements-build.lock"
run "$PIP" install --require-hashes --no-deps --no-build-isolation -r "$LOCK"
# the project itself from this checkout: no dependency resolution, no download
run "$PIP" install --no-deps --no-build-isolation --no-index --upgrade "$SRC"
run ln -sfn "$PREFIX/venv/bin/masterbox" /usr/local/bin/masterbox

# 4. configuration skeleton (an existing config is never overwritten)
run install -d -m 0755 /etc/masterbox /etc/masterbox/presets.d
NEW_CONFIG=0
if [ ! -f /etc/masterbox/config.yaml ]; then
  run install -m 0644 "$SRC/hardware/config.yaml" /etc/masterbox/config.yaml
  NEW_CONFIG=1
fi
if [ -f "$SRC/hardware/pins.yaml" ] && [ ! -f /etc/masterbox/pins.yaml ]; then
  run install -m 0644 "$SRC/hardware/pins.yaml" /etc/masterbox/pins.yaml
fi

# 5. Pi configuration: I2C on at 400 kHz, onboard audio off, CPU governor
#    "performance" (no frequency ramps under the audio deadline)
if [ -f "$BOOTCFG" ] || [ "${DRY_RUN:-0}" = 1 ]; then
  append_once "dtparam=i2c_arm=on,i2c_arm_baudrate=400000" "$BOOTCFG"
  append_once "dtparam=audio=off" "$BOOTCFG"
fi
append_once "i2c-dev" /etc/modules
if [ "${DRY_RUN:-0}" = 1 ]; then
  echo "+ write /etc/tmpfiles.d/masterbox-governor.conf"
else
  echo "w /sys/devices/system/cpu/cpufreq/policy0/scaling_governor - - - - performance" \
    > /etc/tmpfiles.d/masterbox-governor.conf
fi

# 5b. USB gadget mode (MODE=gadget | interface-to-gadget | gadget-to-interface):
#     the USB-C port in device mode (dwc2), libcomposite at boot, the configfs
#     gadget unit before the daemon, and audio.mode in a new config
MODE=${MODE:-interface}
case "$MODE" in
  interface) ;;
  gadget|interface-to-gadget|gadget-to-interface)
    if [ -f "$BOOTCFG" ] || [ "${DRY_RUN:-0}" = 1 ]; then
      # Pi 5: the USB-C port's controller only in peripheral mode; Pi 4: OTG works too
      if [ "$model" = 5 ]; then append_once "dtoverlay=dwc2,dr_mode=peripheral" "$BOOTCFG"
      else append_once "dtoverlay=dwc2" "$BOOTCFG"; fi
    fi
    append_once "libcomposite" /etc/modules-load.d/masterbox-gadget.conf
    run install -m 0755 "$SRC/hardware/gadget.sh" "$PREFIX/gadget.sh"
    run install -m 0644 "$SRC/systemd/masterbox-gadget.service" /etc/systemd/system/
    if [ "$PREFIX" != /opt/masterbox ]; then
      run sed -i "s|/opt/masterbox|$(sed_escape "$PREFIX")|g" /etc/systemd/system/masterbox-gadget.service
    fi
    # a config this run installed gets the mode; an existing one is the user's
    if [ "$NEW_CONFIG" = 1 ]; then
      run sed -i "s|^  mode: interface |  mode: $MODE |" /etc/masterbox/config.yaml
    else
      echo "install.sh: keeping /etc/masterbox/config.yaml: set 'audio: {mode: $MODE}' there yourself if it is not"
    fi
    run systemctl enable masterbox-gadget.service
    ;;
  *) echo "install.sh: MODE must be interface, gadget, interface-to-gadget or gadget-to-interface (got '$MODE')" >&2; exit 2 ;;
esac

# 6. the service; warm the kernel cache now so the first boot masters at once
run install -m 0644 "$SRC/systemd/masterbox.service" "$SRC/systemd/masterbox-panel.service" /etc/systemd/system/
if [ "$PREFIX" != /opt/masterbox ]; then
  run sed -i "s|/opt/masterbox|$(sed_escape "$PREFIX")|g" /etc/systemd/system/masterbox.service /etc/systemd/system/masterbox-panel.service
fi
run install -d -o masterbox -g masterbox -m 0750 /var/cache/masterbox /var/lib/masterbox
run runuser -u masterbox -- env NUMBA_CACHE_DIR=/var/cache/masterbox "$PREFIX/venv/bin/masterbox" warmup
run systemctl daemon-reload
run systemctl enable masterbox.service masterbox-panel.service
run systemctl restart masterbox.service masterbox-panel.service
echo "Masterbox installed. Reboot once if I2C or onboard audio settings changed."
if [ -n "$LOGIN_USER" ]; then
  echo "$LOGIN_USER was added to the masterbox group: log out and in again (or run 'newgrp masterbox') before 'masterbox status'."
fi
echo "Status: masterbox status   Logs: journalctl -u masterbox -f"
