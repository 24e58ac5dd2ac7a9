"""Meters on EBU Tech 3341 / 3342 cases synthesised from the published
tables, and against pyloudnorm."""
import numpy as np
import pyloudnorm
import pytest

import naive
from masterbox.dsp import LoudnessMeter
from masterbox.dsp.design import k_weighting

FS = 48000


def sine(level_dbfs, seconds, f=1000.0, fs=FS, phase_deg=0.0, fade_ms=0.0):
    t = np.arange(int(round(seconds * fs))) / fs
    v = 10 ** (level_dbfs / 20) * np.sin(2 * np.pi * f * t + np.deg2rad(phase_deg))
    if fade_ms:
        # the steady-state peak is what the cases test; an abrupt start is a
        # step whose interpolation rings above it
        nf = int(fade_ms * 1e-3 * fs)
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(nf) / nf)
        v[:nf] *= ramp
        v[-nf:] *= ramp[::-1]
    return np.stack([v, v], axis=1)


def seq(*parts):
    return np.vstack([sine(l, s) for l, s in parts])


def measure(x, block=None):
    m = LoudnessMeter(FS)
    if block is None:
        m.process(x)
    else:
        for s in range(0, len(x), block):
            m.process(x[s:s + block])
    return m


# EBU Tech 3341 (2016) Table 1: stereo 1 kHz sine segments -> integrated loudness
@pytest.mark.parametrize("case,parts,expected", [
    (1, [(-23, 20)], -23.0),
    (2, [(-33, 20)], -33.0),
    (3, [(-36, 10), (-23, 60), (-36, 10)], -23.0),
    (4, [(-72, 10), (-36, 10), (-23, 60), (-36, 10), (-72, 10)], -23.0),
    (5, [(-26, 20), (-20, 20.1), (-26, 20)], -23.0),
])
def test_tech3341_integrated(case, parts, expected):
    m = measure(seq(*parts))
    assert m.integrated_lufs == pytest.approx(expected, abs=0.1)


def test_tech3341_case1_momentary_and_short_term():
    m = measure(sine(-23, 20))
    assert m.momentary_lufs == pytest.approx(-23.0, abs=0.1)
    assert m.short_term_lufs == pytest.approx(-23.0, abs=0.1)


def test_tech3341_case9_short_term_constant_after_3s():
    """1.34 s at -20 dBFS, 1.66 s at -30 dBFS, repeated: S = -23.0 +-0.1 after 3 s."""
    x = np.vstack([seq((-20, 1.34), (-30, 1.66)) for _ in range(5)])
    m = LoudnessMeter(FS)
    vals = []
    for s in range(0, len(x), FS // 10):
        m.process(x[s:s + FS // 10])
        if s >= 3 * FS:
            vals.append(m.short_term_lufs)
    assert np.max(np.abs(np.array(vals) + 23.0)) <= 0.1


def test_tech3341_case12_momentary_constant():
    """0.18 s at -20 dBFS, 0.22 s at -30 dBFS, repeated: M = -23.0 +-0.1."""
    x = np.vstack([seq((-20, 0.18), (-30, 0.22)) for _ in range(25)])
    m = LoudnessMeter(FS)
    vals = []
    for s in range(0, len(x), FS // 10):
        m.process(x[s:s + FS // 10])
        if s >= FS:
            vals.append(m.momentary_lufs)
    assert np.max(np.abs(np.array(vals) + 23.0)) <= 0.1


# EBU Tech 3341 true-peak cases 15-19 (stereo sines, 48 kHz): expected dBTP,
# tolerance +0.2 / -0.4 dB.
@pytest.mark.parametrize("case,f,level,phase,expected", [
    (15, FS / 4, -6.0, 0.0, -6.0),
    (16, FS / 4, -6.0, 45.0, -6.0),
    (17, FS / 6, -6.0, 60.0, -6.0),
    (18, FS / 8, -6.0, 67.5, -6.0),
    (19, FS / 4, 3.0, 45.0, 3.0),
])
def test_tech3341_true_peak(case, f, level, phase, expected):
    x = sine(level, 1.0, f=f, phase_deg=phase, fade_ms=10.0)
    tp = measure(x).true_peak_dbtp
    assert expected - 0.4 <= tp <= expected + 0.2


@pytest.mark.parametrize("f", [997.0, 5000.0, 11025.0, 17000.0])
def test_true_peak_of_0dbtp_sines(f):
    """Stand-ins for Tech 3341 cases 20-23 (0 dBTP signals shipped as files):
    sines whose continuous peak is exactly 0 dBTP at awkward phases."""
    x = sine(0.0, 1.0, f=f, phase_deg=33.0, fade_ms=10.0)
    tp = measure(x).true_peak_dbtp
    assert -0.4 <= tp <= 0.2


# EBU Tech 3342 LRA cases 1-4 (stereo 1 kHz sine segments of 20 s each)
@pytest.mark.parametrize("levels,expected", [
    ((-20, -30), 10.0), ((-20, -15), 5.0), ((-40, -20), 20.0), ((-50, -35, -20, -35, -50), 15.0),
])
def test_tech3342_lra(levels, expected):
    m = measure(seq(*[(l, 20) for l in levels]))
    assert m.lra_lu == pytest.approx(expected, abs=1.0)


@pytest.mark.parametrize("fs", [44100, 48000, 96000])
def test_integrated_matches_pyloudnorm_on_noise_bursts(fs):
    rng = np.random.default_rng(fs)
    x = rng.standard_normal((fs * 12, 2)) * 0.05
    x[fs * 3:fs * 5] *= 0.05          # a quiet passage the gate must drop
    x[:, 1] *= 0.5
    m = LoudnessMeter(fs)
    m.process(x)
    ref = pyloudnorm.Meter(fs).integrated_loudness(x)
    assert m.integrated_lufs == pytest.approx(ref, abs=0.1)


def test_momentary_equals_naive_and_streaming_equals_batch():
    x = np.random.default_rng(9).standard_normal((FS * 3, 2)) * 0.1
    ref = naive.momentary_series(x, FS, k_weighting(FS))
    m = LoudnessMeter(FS)
    got = []
    rng = np.random.default_rng(10)
    s = 0
    next_mark = FS // 10 * 4
    while s < len(x):
        n = min(int(rng.integers(1, 3000)), next_mark - s)
        m.process(x[s:s + n])
        s += n
        if s == next_mark:
            got.append(m.momentary_lufs)
            next_mark += FS // 10
    np.testing.assert_allclose(got, ref[:len(got)], atol=1e-6)
    a = measure(x)
    b = measure(x, block=777)
    assert a.integrated_lufs == b.integrated_lufs and a.true_peak_dbtp == b.true_peak_dbtp


def test_unit_helpers_against_their_definitions():
    """dB and LUFS helpers against numpy spellings of their definitions
    (BS.1770-4 eq. 2: L = -0.691 + 10 log10 P)."""
    from masterbox.dsp import units as U
    for v in (1e-6, 0.5, 1.0, 3.0):
        db = 20.0 * np.log10(v)
        lufs = -0.691 + 10.0 * np.log10(v)
        assert U.lin_to_db(v) == pytest.approx(db, abs=1e-12)
        assert U.gain_to_db(v) == pytest.approx(db, abs=1e-12)
        assert U.db_to_gain(db) == pytest.approx(v, rel=1e-12)
        assert U.power_to_lufs(v) == pytest.approx(lufs, abs=1e-12)
        assert U.lufs_to_power(lufs) == pytest.approx(v, rel=1e-12)
    assert U.lin_to_db(0.0) == -np.inf
