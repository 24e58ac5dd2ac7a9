"""The two-clock bridge (firmware/bridge.py): a capture clock and a playback
clock +-100 ppm apart, simulated sample-accurately (each side's callbacks at
its own block times), a 1 kHz tone through the real ring, resampler and
controller.  Truth: the tone itself (THD+N after a least-squares sine fit at
the frequency the clocks imply), and the ring's level."""
import sys
from pathlib import Path

import numpy as np
import pytest

from masterbox.firmware.bridge import Bridge

sys.path.insert(0, str(Path(__file__).resolve().parent / "vm"))
from vmcheck import thd_n_db  # noqa: E402  (the VM drift check's measure, numpy only)

FS = 48000
BLOCK = 128


def simulate(ppm, seconds, f_hz=1000.0):
    """Writer at FS * (1 + ppm), reader at FS; returns (output, bridge)."""
    b = Bridge(FS, BLOCK)
    t_w, t_r = 0.0, 0.0
    dt_w = BLOCK / (FS * (1 + ppm * 1e-6))
    dt_r = BLOCK / FS
    n_w = 0
    out = np.zeros((int(seconds * FS), 2), dtype=np.float32)
    blk = np.zeros((BLOCK, 2), dtype=np.float32)
    j = 0
    while j + BLOCK <= len(out):
        if t_w <= t_r:
            k = np.arange(n_w, n_w + BLOCK)
            x = (0.5 * np.sin(2 * np.pi * f_hz * k / FS)).astype(np.float32)
            blk[:, 0] = x
            blk[:, 1] = x
            b.write(blk, t_w)
            n_w += BLOCK
            t_w += dt_w
        else:
            b.read_into(out[j:j + BLOCK], t_r)
            j += BLOCK
            t_r += dt_r
    return out, b


@pytest.mark.parametrize("ppm", [100.0, -100.0])
def test_two_clocks_100_ppm_apart(ppm):
    y, b = simulate(ppm, 200.0)
    st = b.status()
    assert st["fifo_underruns"] == 0 and st["fifo_overruns"] == 0
    # bounded: never empty, never near the ring's size
    assert 0 < st["fifo_level_min_frames"] and st["fifo_level_max_frames"] < b.cap / 2
    assert abs(st["fifo_level_frames"] - st["fifo_target_frames"]) < 64
    assert st["resampler_ratio"] == pytest.approx(1 + ppm * 1e-6, abs=1e-6)
    # the tone comes out at 1 kHz as the writer's clock measures it
    db = thd_n_db(y[-4 * FS:, 0], 1000.0 * (1 + ppm * 1e-6))
    assert db <= -100.0, f"THD+N {db:.1f} dB"


def test_a_stalled_writer_gives_silence_then_recovers():
    b = Bridge(FS, BLOCK)
    out = np.ones((BLOCK, 2), dtype=np.float32)
    b.read_into(out, 0.0)
    assert not out.any()                    # not primed yet: silence, no garbage
    x = np.full((BLOCK, 2), 0.25, dtype=np.float32)
    for _ in range(8):
        b.write(x, 0.0)
    for _ in range(40):                     # the writer stops; the reader goes on
        b.read_into(out, 0.0)
    assert b.underruns == 1 and not out.any()
    for _ in range(8):
        b.write(x, 0.0)
    b.read_into(out, 0.0)
    assert np.allclose(out, 0.25, atol=1e-6)   # primed again: the input's level, no step
