#!/usr/bin/env bash
# arm64 in CI: install the project into an emulated arm64 Debian bookworm root
# (64-bit Raspberry Pi OS's base, Python 3.11) with ../shared/tools/arm64-smoke.sh
# (optional: skipped without it)
# and there: list the presets, render the same input as on x86 and compare,
# run the dsp and panel test suites.  Reuses the root when it is present.
#   usage: .ci/arm64.sh PYTHON     (PYTHON: the x86 venv's interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
# ../shared is optional: without the smoke script this step is skipped (one
# line, exit 0); our CI machine has ../shared next to the clone and runs it
SMOKE=${ARM64_SMOKE:-../shared/tools/arm64-smoke.sh}
if [ ! -f "$SMOKE" ]; then
  echo "arm64 step skipped: no $SMOKE (../shared is optional; ARM64_SMOKE=path to use another copy)"
  exit 0
fi
[ -x "$SMOKE" ] || SMOKE="bash $SMOKE"
# mmdebstrap needs arch-test for a foreign architecture (a "Recommends" that a
# --no-install-recommends install of mmdebstrap leaves out)
if [ "$(id -u)" = 0 ] && ! command -v arch-test >/dev/null; then
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends arch-test >/dev/null \
    || { apt-get -o DPkg::Lock::Timeout=600 update -qq; \
         apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends arch-test >/dev/null; }
fi
mkdir -p ci-arm64
# a fixed input (the synthesized demo mix, 6 s) and its x86 render
"$PY" - <<'PYEOF'
import soundfile as sf
from masterbox.firmware.demo import synth_mix
sf.write("ci-arm64/in.wav", synth_mix(48000, 6.0), 48000, subtype="FLOAT")
PYEOF
"$PY" -m masterbox.firmware.cli render ci-arm64/in.wav ci-arm64/x86.wav --genre rock --intensity 6 >/dev/null
export ARM64_PIP_TARGET=".[test]"
$SMOKE . bash .ci/arm64-inner.sh
