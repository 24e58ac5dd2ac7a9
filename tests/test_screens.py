"""The screens are pure functions of a status snapshot: golden pixels and
the properties that matter on a 0.96" panel."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("luma.core")
from masterbox.ui.panel import DEMO_STATUS, snapshot_set  # noqa: E402
from masterbox.ui.screens import FONT, UiState, W, choose, render, text_width  # noqa: E402

GOLDEN = Path(__file__).parent / "golden" / "panel"


@pytest.mark.parametrize("name,st,ui", snapshot_set(), ids=[s[0] for s in snapshot_set()])
def test_golden_screens(name, st, ui):
    # regenerate after an intended change (and look at them!):
    #   masterbox panel --snapshots tests/golden/panel --socket /nonexistent
    from luma.core.device import dummy
    device = dummy(width=128, height=64, mode="1")       # what luma keeps of a frame
    device.display(render(st, ui))
    got = np.array(device.image.convert("1"))
    want = np.array(Image.open(GOLDEN / f"{name}.png").convert("1"))
    assert got.shape == (64, 128)
    assert np.array_equal(got, want), f"{name} differs from its golden PNG"


@pytest.mark.parametrize("name,st,ui", [s for s in snapshot_set() if s[2].shift == (0, 0)],
                         ids=[s[0] for s in snapshot_set() if s[2].shift == (0, 0)])
def test_pixel_shift_never_cuts_anything_off(name, st, ui):
    px = np.array(render(st, ui).convert("1"))
    assert not px[:, -1].any() and not px[-1, :].any(), "lit pixels on the last column/row"


def test_longest_preset_name_fits(presets):
    longest = max((n.upper() for n in presets), key=lambda s: text_width(s))
    # home: genre name left of the target number; overlay: whole width
    assert text_width(longest, FONT) <= W - 4 - 20
    st = dict(DEMO_STATUS, genre=longest.lower())
    img = np.array(render(st, UiState(overlay="genre")).convert("1"))
    assert img[:, :2].sum() == 0 and img[:, -2:].sum() == 0   # centred with room to spare


def test_bypass_is_unmistakable():
    home = np.array(render(DEMO_STATUS, UiState()).convert("1"))
    byp = np.array(render(dict(DEMO_STATUS, bypass=True), UiState()).convert("1"))
    band = byp[18:36, 0:117]
    assert band.mean() > 0.5 and home[18:36, 0:117].mean() < 0.3


@pytest.mark.parametrize("st,ui,screen", [
    (None, UiState(), "no_daemon"),
    (dict(DEMO_STATUS, state="waiting-for-device"), UiState(overlay="genre"), "waiting"),
    (dict(DEMO_STATUS, state="fault"), UiState(), "fault"),
    (dict(DEMO_STATUS, state="starting", mastering=False), UiState(), "booting"),
    (DEMO_STATUS, UiState(error="x"), "config_error"),
    (DEMO_STATUS, UiState(overlay="intensity", details=True), "overlay"),
    (DEMO_STATUS, UiState(details=True), "details"),
    (DEMO_STATUS, UiState(), "home"),
])
def test_which_screen(st, ui, screen):
    assert choose(st, ui) == screen


def test_home_shows_the_numbers_it_is_given():
    a = np.array(render(dict(DEMO_STATUS, short_term_lufs=-9.0), UiState()).convert("1"))
    b = np.array(render(dict(DEMO_STATUS, short_term_lufs=-23.0), UiState()).convert("1"))
    assert not np.array_equal(a[18:36], b[18:36])
    c = np.array(render(dict(DEMO_STATUS, gain_reduction_db=12.0), UiState()).convert("1"))
    assert c[19:62, 120:126].all()        # a full GR meter
