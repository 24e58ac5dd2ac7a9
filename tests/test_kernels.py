"""Kernels against scipy.signal and their naive twins; streaming == batch."""
import numpy as np
import pytest
from scipy import signal

import naive
from dsp import design as D
from dsp import kernels as K


def test_biquad_cascade_equals_sosfilt():
    fs = 48000.0
    sos = np.zeros((4, 5))
    D.design_peak(sos[0], fs, 300.0, 4.0, 1.2)
    D.design_lowshelf(sos[1], fs, 90.0, -3.0, 0.7)
    D.design_highpass(sos[2], fs, 25.0, 0.7)
    D.design_highshelf(sos[3], fs, 9000.0, 2.0, 0.7)
    x = np.random.default_rng(1).standard_normal((5000, 2))
    ref = signal.sosfilt(np.hstack([sos[:, :3], np.ones((4, 1)), sos[:, 3:]]), x, axis=0)
    z = np.zeros((4, 2, 2))
    buf = x.copy()
    K.biquad_cascade(buf, len(buf), sos, z)
    np.testing.assert_allclose(buf, ref, atol=1e-12)


def test_biquad_streaming_equals_batch_bitwise():
    sos = np.zeros((2, 5))
    D.design_peak(sos[0], 48000.0, 1000.0, 6.0, 2.0)
    D.design_lowpass(sos[1], 48000.0, 5000.0, 0.7)
    x = np.random.default_rng(2).standard_normal((3000, 2))
    one = x.copy()
    K.biquad_cascade(one, len(one), sos, np.zeros((2, 2, 2)))
    z = np.zeros((2, 2, 2))
    rng = np.random.default_rng(3)
    s = 0
    out = x.copy()
    while s < len(x):
        n = int(rng.integers(1, 300))
        blk = out[s:s + n]
        K.biquad_cascade(blk, len(blk), sos, z)
        s += n
    np.testing.assert_array_equal(out, one)


def test_crossover_bands_match_scipy_and_sum_to_allpass():
    fs = 48000.0
    xo = (120.0, 1000.0, 6000.0)
    sos = np.zeros((15, 5))
    for j, f in enumerate(xo):
        D.design_lr4(sos, 5 * j, fs, f)
    x = np.random.default_rng(4).standard_normal(8000)
    bands = np.zeros((8000, 4))
    K.crossover_split(x, 8000, sos, np.zeros((14, 2, 2)), bands)

    def chain(rows):
        full = np.hstack([sos[rows, :3], np.ones((len(rows), 1)), sos[rows, 3:]])
        return signal.sosfilt(full, x)
    np.testing.assert_allclose(bands[:, 0], chain([5, 6, 14, 0, 1]), atol=1e-10)
    np.testing.assert_allclose(bands[:, 3], chain([7, 8, 4, 12, 13]), atol=1e-10)
    # the sum is the all-pass cascade AP(f1) AP(f2) AP(f3): magnitude-flat
    np.testing.assert_allclose(bands.sum(axis=1), signal.sosfilt(np.vstack([
                                   np.hstack([sos[r, :3], [1.0], sos[r, 3:]]) for r in (4, 9, 14)]), x),
                               atol=1e-9)


@pytest.mark.parametrize("knee", [0.0, 6.0, 12.0])
def test_gain_computer_equals_naive(knee):
    for level in np.linspace(-60, 10, 141):
        assert K.gain_computer_db(level, -20.0, knee, 0.5) == pytest.approx(
            naive.gain_computer_db(level, -20.0, knee, 0.5), abs=1e-12)


@pytest.mark.parametrize("attack_ms,release_ms", [(10.0, 100.0), (30.0, 300.0), (5.0, 50.0)])
def test_compressor_attack_and_release_measured_on_steps(attack_ms, release_ms):
    """A level step up and back down; the GR trajectory's 63 % times are the
    set attack and release (+-15 %), as a time constant is defined."""
    fs = 48000.0
    a_att = K.tick_coef(attack_ms, fs)
    a_rel = K.tick_coef(release_ms, fs)
    tick_s = K.CR / fs
    n_up = int(6 * attack_ms * 1e-3 / tick_s) + 10
    n_dn = int(6 * release_ms * 1e-3 / tick_s) + 10
    levels = np.r_[np.full(n_up, 10 ** (0 / 20)), np.full(n_dn, 10 ** (-40 / 20))]
    gr = 0.0
    trace = []
    for lv in levels:
        gr = K.compressor_tick(gr, lv, -20.0, 0.0, 0.75, a_att, a_rel)
        trace.append(gr)
    trace = np.array(trace)
    final = 0.75 * 20.0
    t_att = (np.argmax(trace[:n_up] >= (1 - np.exp(-1)) * final) + 1) * tick_s
    rel = trace[n_up:]
    start = trace[n_up - 1]
    t_rel = (np.argmax(rel <= start * np.exp(-1)) + 1) * tick_s
    assert t_att == pytest.approx(attack_ms * 1e-3, rel=0.15)
    assert t_rel == pytest.approx(release_ms * 1e-3, rel=0.15)


def test_oversampler_equals_naive_convolution_streaming():
    x = np.random.default_rng(5).standard_normal((2000, 2))
    ref = [naive.oversample_4x(x[:, ch], D.TRUE_PEAK_FIR) for ch in range(2)]
    xs = np.zeros((2, 12 + 4096))
    us = np.zeros((2, 4, 4096))
    s = 0
    got = np.zeros((2, 4, 2000))
    for n in (1, 7, 500, 1492):
        K.oversample_block(x[s:s + n], n, D.TRUE_PEAK_FIR, xs, us)
        got[:, :, s:s + n] = us[:, :, :n]
        K.oversample_commit(xs, n)
        s += n
    for ch in range(2):
        np.testing.assert_allclose(got[ch], ref[ch], atol=1e-12)


@pytest.mark.parametrize("f_over_fs,tol_db", [(0.5, 0.08), (20000 / 48000, 0.05), (0.25, 0.01)])
def test_parabola_recovers_a_sampled_cosine_peak(f_over_fs, tol_db):
    """Between 4x samples a cosine's peak can hide by up to 0.69 dB (content
    at fs/2); the parabolic vertex gets within tol_db."""
    th = 2 * np.pi * f_over_fs / 4
    for offset in np.linspace(-0.5, 0.5, 21):
        a, b, c = (np.cos(th * (k - offset)) for k in (-1, 0, 1))
        est = K._parabola_peak(a, b, c)
        assert 20 * np.log10(est) == pytest.approx(0.0, abs=tol_db)
