"""Golden renders as a fail-fast mutation killer (``make mutants`` only).

Not collected by ``make test`` (the name does not match ``test_*.py``);
``tests/mutants.py`` passes it explicitly.  Same hashes as
``test_golden_dsp.py``, but one rate (48 kHz), block 4096, the short
synthetic inputs, intensities 5 and 10, every preset, and it stops at the
first mismatch: a mutant that changes the sound of these inputs dies in
milliseconds once the chain is compiled.
"""
import json

import pytest

import golden_dsp as G

FS = 48000
BLOCK = 4096
INTENSITIES = (5.0, 10.0)
# the short synthetic inputs (level steps, inter-sample peaks, noise,
# silence): ~6 s of rendering in all; the music and the sweep are left to
# test_golden_dsp.py
ORDER = ("step", "isp", "pink", "silence")


@pytest.fixture(scope="module")
def presets():
    from masterbox.firmware import presets as pr
    return pr.load_presets()


def test_golden_renders_48k_block4096_fail_fast(presets):
    golden = json.loads(G.HASH_FILE.read_text())
    sigs = G.signals(FS)
    for sig in ORDER:
        for inten in INTENSITIES:
            for genre in sorted(presets):
                k = G.key(sig, genre, inten, FS)
                y = G.render(FS, G.preset_params(presets, genre, inten), sigs[sig], BLOCK)
                assert G._digest(y) == golden["outputs"][k], f"golden render {k} changed"
