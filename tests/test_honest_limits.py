"""Honest limits (issue 9): a target the leveler cannot reach is said, in
the render's output, the daemon's status and on the panel; never a silent miss."""
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from masterbox.dsp import Chain

FS = 48000


def noise(seconds, level_dbfs, seed=0):
    x = np.random.default_rng(seed).standard_normal((int(seconds * FS), 2))
    return (x * 10 ** (level_dbfs / 20)).astype(np.float32)


def test_snapshot_flags_an_unreachable_target(params):
    """-60 dBFS noise needs about +46 dB to reach -14 LUFS: beyond the
    leveler's range, so after 10 s pinned the snapshot says so; a normal
    programme never raises the flag."""
    quiet = Chain(FS, params("pop", 5.0, -14.0))
    quiet.process(noise(14.0, -48.0))
    assert quiet.snapshot().target_unreachable
    normal = Chain(FS, params("pop", 5.0, -14.0))
    normal.process(noise(14.0, -20.0))
    assert not normal.snapshot().target_unreachable


def render(tmp_path, level_dbfs, target):
    src = tmp_path / "in.wav"
    sf.write(src, noise(12.0, level_dbfs), FS, subtype="FLOAT")
    return subprocess.run([sys.executable, "-m", "masterbox.firmware.cli", "render", str(src),
                           str(tmp_path / "out.wav"), "--target", str(target)],
                          capture_output=True, text=True, timeout=300)


def test_render_warns_when_the_target_is_out_of_reach(tmp_path):
    r = render(tmp_path, -50.0, -9.0)                     # needs about +38 dB
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("warning: target")]
    assert len(lines) == 1, r.stderr
    assert "-9 LUFS not reached" in lines[0] and "beyond the leveler" in lines[0]


def test_render_is_quiet_when_the_target_is_met(tmp_path):
    r = render(tmp_path, -20.0, -14.0)
    assert r.returncode == 0, r.stderr
    assert "warning: target" not in r.stderr


def test_panel_shows_the_target_inverted_when_unreachable():
    pytest.importorskip("luma.core")
    from masterbox.ui.panel import DEMO_STATUS
    from masterbox.ui.screens import UiState, home
    ok = np.array(home(dict(DEMO_STATUS), UiState()).convert("L"))
    miss = np.array(home(dict(DEMO_STATUS, target_unreachable=True), UiState()).convert("L"))
    corner_ok = ok[0:9, 116:].astype(bool)
    corner_miss = miss[0:9, 116:].astype(bool)
    assert corner_miss.mean() > 0.5 > corner_ok.mean()       # lit background: inverted
    assert np.array_equal(ok[9:], miss[9:])                   # nothing else changes
