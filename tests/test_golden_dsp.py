"""Every golden render still matches, at several block sizes (see golden_dsp)."""
import json

import pytest

import golden_dsp as G


@pytest.fixture(scope="module")
def golden():
    return json.loads(G.HASH_FILE.read_text())


@pytest.fixture(scope="module")
def presets():
    from masterbox.firmware import presets as pr
    return pr.load_presets()


@pytest.mark.parametrize("fs", G.RATES_HZ)
def test_inputs_are_the_recorded_ones(golden, fs):
    for sig, x in G.signals(fs).items():
        assert G._digest(x) == golden["inputs"][f"{sig}|{fs}"], \
            f"input {sig} at {fs} Hz changed: fix the generator, not the hashes"


@pytest.mark.parametrize("block", G.BLOCKS + (1,))
@pytest.mark.parametrize("fs", G.RATES_HZ)
def test_renders_match_golden(golden, presets, fs, block):
    sigs = G.signals(fs)
    if block == 1:
        sigs = {k: v for k, v in sigs.items() if k in G.SHORT_SIGNALS}
    bad = []
    n = 0
    for sig, x in sigs.items():
        for genre in sorted(presets):
            for inten in G.INTENSITIES:
                y = G.render(fs, G.preset_params(presets, genre, inten), x, block)
                k = G.key(sig, genre, inten, fs)
                n += 1
                if G._digest(y) != golden["outputs"][k]:
                    bad.append(k)
    assert not bad, f"{len(bad)} of {n} golden renders changed at block {block}: {bad[:12]}"
