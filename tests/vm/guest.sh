#!/bin/bash
# Runs inside the kernel-audio-vm guest (tests/vm/run.sh boots it): installs
# the project from the share's wheelhouse and runs tests/vm/vmcheck.py.
. /mnt/share/mbvm/env.sh
. /mnt/share/ci/lib.sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
V=/mnt/share/venv
t0=$(date +%s)
# the venv is kept in the share: built once (pip under emulation: ~9 min)
if [ "$(cat $V/.complete 2>/dev/null)" != "$(md5sum < /mnt/share/pins.txt)" ]; then
  log "creating the guest venv in the share (once)"
  rm -rf $V && python3 -m venv --without-pip $V || exit 1
  python3 -m pip --python $V/bin/python install -q --no-index --find-links /mnt/share/wheels \
    -r /mnt/share/pins.txt || exit 1
  md5sum < /mnt/share/pins.txt > $V/.complete
fi
python3 -m pip --python $V/bin/python install -q --no-index --no-deps --force-reinstall \
  --no-compile /mnt/share/wheels/masterbox-*.whl || exit 1
# numba's cache index is keyed on each source file's mtime and size; pip
# writes files with the install time, so every run would compile anew (minutes
# under emulation).  The mtime is set from the file's content hash instead:
# same content, same stamp; changed content, another stamp.
$V/bin/python - <<'PY'
import hashlib, os
from masterbox import dsp
root = os.path.dirname(dsp.__file__)
for d, _, files in os.walk(root):
    for f in files:
        if f.endswith(".py"):
            p = os.path.join(d, f)
            h = int(hashlib.sha256(open(p, "rb").read()).hexdigest()[:7], 16)
            os.utime(p, (1_600_000_000 + h, 1_600_000_000 + h))
PY
export NUMBA_CACHE_DIR=/mnt/share/numba-cache
log "installed in $(( $(date +%s) - t0 )) s; warming the numba cache"
t1=$(date +%s)
$V/bin/masterbox warmup || exit 1
log "warm-up took $(( $(date +%s) - t1 )) s"
cd /tmp
export VM_SHORT VM_BLOCK
$V/bin/python /mnt/share/mbvm/vmcheck.py $VM_CHECKS
