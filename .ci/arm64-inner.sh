#!/usr/bin/env bash
# Runs inside the emulated arm64 root (see .ci/arm64.sh).
set -euo pipefail
export NUMBA_CACHE_DIR=/tmp/numba-arm64
python -c "import platform; print('arm64 root:', platform.machine(), platform.python_version())"
masterbox presets
t0=$(date +%s)
masterbox render ci-arm64/in.wav ci-arm64/arm64.wav --genre rock --intensity 6
echo "arm64 render (with the numba compile, emulated): $(( $(date +%s) - t0 )) s"
python - <<'PYEOF'
import numpy as np, soundfile as sf
a, _ = sf.read("ci-arm64/arm64.wav", dtype="float32")
x, _ = sf.read("ci-arm64/x86.wav", dtype="float32")
assert a.shape == x.shape, (a.shape, x.shape)
if np.array_equal(a.view(np.uint32), x.view(np.uint32)):
    print("x86 vs arm64 render: bit-identical")
else:
    d = np.abs(a.astype(np.float64) - x.astype(np.float64)).max()
    n = int(np.count_nonzero(a != x))
    db = 20 * np.log10(d) if d > 0 else -np.inf
    print(f"x86 vs arm64 render: {n} samples differ, max difference {db:.1f} dBFS")
    assert db <= -120.0, "x86 and arm64 renders differ by more than -120 dB"
PYEOF
python -m pytest -q -p no:cacheprovider tests/test_design.py tests/test_stages.py tests/test_meters.py \
  tests/test_chain.py tests/test_limiter.py tests/test_presets.py tests/test_screens.py \
  tests/test_display.py tests/test_knobs.py tests/test_panel.py tests/test_hardware_docs.py \
  -k "not simulator"
# the golden renders at 48 kHz, block 4096, on arm64: the same hashes as x86
python -m pytest -q -p no:cacheprovider tests/test_golden_dsp.py -k "inputs or (4096 and 48000)"
