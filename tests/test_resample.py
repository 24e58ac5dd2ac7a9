"""The adaptive resampler of the two-clock modes (dsp/resample.py).

Truth: the exact sine at each output's input position (the positions follow
from the steps, so the ideal output is known sample by sample), the naive
twin (a windowed sinc computed directly, no phase table), and a simulated
pair of clocks for the PI controller."""
import math

import numpy as np
import pytest

import naive
from masterbox.dsp import resample as R

FS = 48000


def run(x, steps, block=128):
    """Stream ``x`` through the kernels as the live bridge does: a buffer
    refilled block by block, ``steps`` one per output block; returns the
    outputs and the input position each was read at."""
    table = R.design_table()
    buf = np.zeros((4096, x.shape[1]), dtype=np.float32)
    n_valid, pos, fed = 0, float(R.HALF - 1), 0
    consumed = 0                          # input frames dropped from the front so far
    outs, where = [], []
    out = np.zeros((block, x.shape[1]), dtype=np.float32)
    for step in steps:
        need = R.frames_needed(pos, step, block, R.HALF)
        take = need - n_valid
        if take > 0:
            if fed + take > len(x):
                break
            buf[n_valid:need] = x[fed:fed + take]
            fed += take
            n_valid = need
        where.append(consumed + pos + step * np.arange(block))
        pos = R.resample_into(buf, pos, step, table, out)
        outs.append(out.copy())
        before = n_valid
        n_valid, pos = R.discard_front(buf, n_valid, pos, R.HALF)
        consumed += before - n_valid
    return np.concatenate(outs), np.concatenate(where)


def thd_n_db(y, where, f_hz):
    """Residual after removing the best-fitting sine at the known input
    positions (amplitude, phase and DC fitted by least squares)."""
    ph = 2 * np.pi * f_hz * where / FS
    a = np.stack([np.sin(ph), np.cos(ph), np.ones_like(ph)], axis=1)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    res = y - a @ coef
    fund = a[:, :2] @ coef[:2]
    return 10 * math.log10(np.mean(res ** 2) / np.mean(fund ** 2)), float(np.hypot(*coef[:2]))


def tone(seconds=3.0, f=1000.0, amp=0.5):
    n = int(seconds * FS)
    return (amp * np.sin(2 * np.pi * f * np.arange(n) / FS)).astype(np.float32)[:, None]


@pytest.mark.parametrize("ppm", [100.0, -100.0, 0.0, 1000.0])
def test_thd_n_of_a_1khz_tone_below_minus_100_db(ppm):
    x = tone()
    steps = [1.0 + ppm * 1e-6] * 1000
    y, where = run(x, steps)
    skip = 4800                           # leave out the start (zeros before the tone)
    db, amp = thd_n_db(y[skip:, 0].astype(np.float64), where[skip:], 1000.0)
    assert db <= -100.0, f"THD+N {db:.1f} dB at {ppm:+g} ppm"
    assert amp == pytest.approx(0.5, abs=0.5 * 1e-4)      # flat at 1 kHz within 0.001 dB


def test_no_level_step_when_the_ratio_moves():
    """The ratio jumps (+100 ppm -> -100 ppm -> +300 ppm) and wobbles: the
    tone's amplitude, fitted per 50 ms, moves less than 0.001 dB and THD+N
    stays below -100 dB."""
    x = tone(seconds=4.0)
    rng = np.random.default_rng(3)
    steps = np.concatenate([np.full(300, 1 + 1e-4), np.full(300, 1 - 1e-4), np.full(300, 1 + 3e-4)])
    steps = steps + rng.uniform(-2e-5, 2e-5, len(steps))
    y, where = run(x, list(steps))
    skip = 4800
    db, _ = thd_n_db(y[skip:, 0].astype(np.float64), where[skip:], 1000.0)
    assert db <= -100.0, f"THD+N {db:.1f} dB with a moving ratio"
    amps = []
    for s in range(skip, len(y) - 2400, 2400):
        _, a = thd_n_db(y[s:s + 2400, 0].astype(np.float64), where[s:s + 2400], 1000.0)
        amps.append(a)
    amps_db = 20 * np.log10(amps)
    assert amps_db.max() - amps_db.min() < 0.001, f"level moved {amps_db.max() - amps_db.min():.5f} dB"


def test_kernel_equals_the_naive_twin():
    """Phase table with linear interpolation vs the windowed sinc computed
    at each position directly: within -110 dB of full scale on noise."""
    rng = np.random.default_rng(5)
    x = (0.5 * rng.standard_normal((6000, 2))).astype(np.float32)
    steps = [1.0 + 3.7e-4, 1.0 - 2.1e-4, 1.0 + 1.3e-3] * 10
    y, where = run(x, steps)
    want = naive.resample(x.astype(np.float64), where, R.CUTOFF, R.TAPS, R.KAISER_BETA)
    err = np.abs(y - want).max()
    assert err < 10 ** (-110 / 20), f"max error {20 * math.log10(err):.1f} dBFS"


def test_unit_ratio_is_a_pure_delay_of_half_minus_one_frames():
    """At step 1 and phase 0 the taps are a unit impulse: the output is the
    input, delayed, to float32 precision (the cut-off's sinc is 0 at every
    other integer offset only at 0.5 fs; here the window and the row
    normalisation leave it within 1e-6)."""
    rng = np.random.default_rng(1)
    x = (0.5 * rng.standard_normal((3000, 2))).astype(np.float32)
    y, where = run(x, [1.0] * 20)
    assert np.allclose(where, np.arange(len(where)) + R.HALF - 1)
    want = naive.resample(x.astype(np.float64), where, R.CUTOFF, R.TAPS, R.KAISER_BETA)
    assert np.abs(y - want).max() < 1e-5


def simulate_clocks(ppm, seconds, block=128, target=1024.0):
    """Two clocks: the writer delivers ``block * (1 + ppm)`` frames per
    reader block on average (fractional frames carried over); the reader
    consumes what ``rate_control``'s step asks.  Returns the FIFO levels."""
    rc = R.new_rate_state()
    level, carry, pos_frac = target, 0.0, 0.0
    levels = []
    blocks_per_update = int(round(1.0 * FS / block))        # 1 s interval
    for _ in range(int(seconds * FS / block)):
        carry += block * (1 + ppm * 1e-6)
        k = int(carry)
        carry -= k
        level += k
        step = R.rate_control(rc, level, target, blocks_per_update, 1.0 * FS, 0.2, 0.004)
        levels.append(level)              # as the reader sees it, before it reads
        pos_frac += block * step
        used = int(pos_frac)
        pos_frac -= used
        level -= used
    return np.array(levels), rc


@pytest.mark.parametrize("ppm", [100.0, -100.0, 300.0])
def test_pi_controller_holds_the_fifo_level_against_drift(ppm):
    """+-100 ppm (and 300) for 10 simulated minutes: the level stays within
    a bounded band around the target and the step converges on the clock
    ratio."""
    levels, rc = simulate_clocks(ppm, 600.0)
    assert levels.min() > 0, "the FIFO ran dry"
    last = levels[-int(60 * FS / 128):]
    assert abs(last.mean() - 1024.0) < 64, f"settled at {last.mean():.0f}"
    assert rc[R.RC_STEP] == pytest.approx(1 + ppm * 1e-6, abs=5e-6)
