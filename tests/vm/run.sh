#!/bin/bash
# `make vm-test`: the box on real Linux audio drivers in a VM (issue 12).
#
# Builds the kernel-audio-vm assets (../shared/tools/kernel-audio-vm: Debian's
# kernel in qemu, snd-aloop, a UAC2 gadget on a patched dummy_hcd seen from
# the host side through snd-usb-audio), a wheelhouse of this project and its
# pinned dependencies (the versions in this machine's venv, cp311 x86-64)
# into the share, then boots the guest once and runs tests/vm/guest.sh in it:
# it installs the project into a venv kept in the share, warms the numba
# cache (kept in the share too: compiling under emulation takes minutes) and
# runs the checks.  Prints one JSON line with the figures; exit status 0 only
# if every check passed.
#
#   VM_SHORT=1   the CI version: 20 s streams, the drift test shortened
#   VM_CHECKS="gadget interface faults drift"   a subset
#   G=dir        where assets, share and logs live (default /tmp/kernel-audio-vm-masterbox)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KAV=${KAV:-$ROOT/../shared/tools/kernel-audio-vm}
export G=${G:-/tmp/kernel-audio-vm-masterbox}
PY=${PY:-$ROOT/.venv/bin/python}
SHARE=$G/share
fail() { echo "{\"ok\": false, \"error\": \"$*\"}"; exit 1; }
[ -d "$KAV" ] || fail "kernel-audio-vm not found at $KAV (set KAV=)"
mkdir -p "$SHARE/wheels" "$G/logs"
echo "vm-test: building assets in $G (log $G/logs/build.log)" >&2
nice -n 10 bash "$KAV/build-assets.sh" > "$G/logs/build.log" 2>&1 || fail "build-assets.sh failed: see $G/logs/build.log"

echo "vm-test: wheelhouse" >&2
"$PY" -m pip freeze 2>/dev/null | grep -iE '^(numpy|numba|llvmlite|pyyaml|soundfile|tqdm|sounddevice|cffi|pycparser)==' > "$SHARE/pins.txt"
"$PY" -m pip download -q --only-binary :all: -d "$SHARE/wheels" -r "$SHARE/pins.txt" > "$G/logs/wheels.log" 2>&1 \
  || fail "pip download failed: see $G/logs/wheels.log"
rm -f "$SHARE"/wheels/masterbox-*.whl
"$PY" -m pip wheel -q --no-deps -w "$SHARE/wheels" "$ROOT" >> "$G/logs/wheels.log" 2>&1 \
  || fail "building the masterbox wheel failed: see $G/logs/wheels.log"

mkdir -p "$SHARE/mbvm"
cp "$ROOT"/tests/vm/guest.sh "$ROOT"/tests/vm/vmcheck.py "$SHARE/mbvm/"
echo "vm-test: music: $(cd "$ROOT" && "$PY" tests/vm/prep.py "$SHARE/mbvm/music.npy")" >&2
cat > "$SHARE/mbvm/env.sh" <<ENV
VM_SHORT=${VM_SHORT:-0}
VM_CHECKS="${VM_CHECKS:-gadget faults interface drift}"
VM_BLOCK=${VM_BLOCK:-1024}
ENV
T=${VM_TIMEOUT:-3600}
echo "vm-test: booting the guest (timeout ${T} s; console $SHARE/console.log)" >&2
nice -n 10 bash "$KAV/run-guest.sh" -t "$T" -f "$ROOT/tests/vm/guest.sh" > "$G/logs/guest.log" 2>&1
rc=$?
cp "$SHARE/out.log" "$G/logs/out.log" 2>/dev/null
line=$(grep -a '^VMTEST ' "$SHARE/out.log" 2>/dev/null | tail -1 | sed 's/^VMTEST //')
[ -n "$line" ] || fail "the guest printed no result (rc $rc): see $G/logs/guest.log and $SHARE/out.log"
echo "$line"
exit $rc
