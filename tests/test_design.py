"""Design functions against scipy.signal and the published tables."""
import math

import numpy as np
import pytest
from scipy import signal

from masterbox.dsp import design as D
from masterbox.dsp import params as P


def response_db(c, f, fs):
    _, h = signal.freqz([c[0], c[1], c[2]], [1.0, c[3], c[4]], worN=np.atleast_1d(f), fs=fs)
    return 20 * np.log10(np.abs(h))


@pytest.mark.parametrize("fs", [44100, 48000, 96000])
@pytest.mark.parametrize("f0", [60.0, 1000.0, 8000.0])
def test_butterworth_sections_equal_scipy(fs, f0):
    out = np.zeros(5)
    for kind, fn in (("lowpass", D.design_lowpass), ("highpass", D.design_highpass)):
        fn(out, float(fs), f0, D.SQRT1_2)
        sos = signal.butter(2, f0, btype=kind, fs=fs, output="sos")[0]
        np.testing.assert_allclose(out, [sos[0], sos[1], sos[2], sos[4], sos[5]], atol=1e-10)
        assert response_db(out, f0, fs)[0] == pytest.approx(-3.0103, abs=0.01)


@pytest.mark.parametrize("gain_db", [-6.0, 3.0, 9.0])
def test_peak_and_shelves_hit_their_gains(gain_db):
    fs = 48000.0
    out = np.zeros(5)
    D.design_peak(out, fs, 1000.0, gain_db, 1.0)
    assert response_db(out, 1000.0, fs)[0] == pytest.approx(gain_db, abs=1e-6)
    assert response_db(out, [10.0, 23000.0], fs) == pytest.approx([0, 0], abs=0.05)
    D.design_lowshelf(out, fs, 200.0, gain_db, D.SQRT1_2)
    assert response_db(out, [5.0, 200.0, 20000.0], fs) == pytest.approx(
        [gain_db, gain_db / 2, 0.0], abs=0.05)
    D.design_highshelf(out, fs, 5000.0, gain_db, D.SQRT1_2)
    assert response_db(out, [20.0, 5000.0, 23990.0], fs) == pytest.approx(
        [0.0, gain_db / 2, gain_db], abs=0.05)


def test_lr2_pair_sums_to_its_first_order_allpass_with_lows_in_polarity():
    """LP2 - HP2 = (w - s)/(w + s): flat, +1 at DC, -1 at high frequencies,
    and 90 degrees at the corner (scipy's 1st-order Butterworth, squared)."""
    fs, fc = 48000.0, 150.0
    rows = np.zeros(15)
    D.design_lr2(rows, fs, fc)
    f = np.geomspace(5, 23000, 400)
    h = [signal.freqz(rows[5 * k:5 * k + 3], [1, *rows[5 * k + 3:5 * k + 5]], worN=f, fs=fs)[1]
         for k in range(3)]
    b, a = signal.butter(1, fc, "low", fs=fs)
    _, lp1 = signal.freqz(b, a, worN=f, fs=fs)
    b, a = signal.butter(1, fc, "high", fs=fs)
    _, hp1 = signal.freqz(b, a, worN=f, fs=fs)
    np.testing.assert_allclose(h[0], lp1 ** 2, atol=1e-9)
    np.testing.assert_allclose(h[1], -hp1 ** 2, atol=1e-9)
    np.testing.assert_allclose(h[0] + h[1], h[2], atol=1e-9)
    np.testing.assert_allclose(np.abs(h[2]), 1.0, atol=1e-9)
    assert h[2][0].real > 0.99 and h[2][-1].real < -0.99
    _, at_fc = signal.freqz(rows[10:13], [1, *rows[13:15]], worN=[fc], fs=fs)
    assert abs(np.angle(at_fc[0], deg=True)) == pytest.approx(90.0, abs=0.01)


def test_allpass_is_flat_and_equals_lr4_sum():
    fs = 48000.0
    flat = np.zeros(25)
    D.design_lr4(flat, fs, 1000.0)
    sos = flat.reshape(5, 5)
    f = np.geomspace(10, 23000, 400)
    hs = {}
    for k in range(5):
        _, hs[k] = signal.freqz(sos[k, :3], [1, *sos[k, 3:]], worN=f, fs=fs)
    ap = hs[4]
    np.testing.assert_allclose(np.abs(ap), 1.0, atol=1e-9)
    np.testing.assert_allclose(hs[0] * hs[1] + hs[2] * hs[3], ap, atol=1e-9)


@pytest.mark.parametrize("fs", [44100, 48000, 88200, 96000])
@pytest.mark.parametrize("xo", [(120, 1000, 6000), (60, 400, 3000), (200, 1500, 12000)])
def test_band_split_sums_flat(fs, xo):
    """The production 4-band tree (LR2 low split, LR4 above, with the
    compensating all-passes)
    sums to a flat magnitude: the FFT of its bands' summed impulse response."""
    from masterbox.dsp.stages import multiband
    xo_sos = np.zeros(multiband.XO_ROWS * 5)
    cur = np.zeros(P.N_PARAMS)
    cur[P.XOVER_HZ:P.XOVER_HZ + 3] = xo
    multiband.design(float(fs), cur, xo_sos)
    n = 1 << 16
    x = np.zeros(n)
    x[0] = 1.0
    bands = np.zeros((n, 4))
    multiband.split_block(x, n, xo_sos, np.zeros(multiband.XO_STATES * 4), bands)
    f = np.fft.rfftfreq(n, 1 / fs)
    m = (f >= 10) & (f <= 0.45 * fs)
    total = 20 * np.log10(np.abs(np.fft.rfft(bands.sum(axis=1)))[m])
    assert np.max(np.abs(total)) < 0.1
    # and each band really is a band: -6 dB at its crossovers
    h0 = np.abs(np.fft.rfft(bands[:, 0]))
    assert 20 * np.log10(h0[np.argmin(abs(f - xo[0]))]) == pytest.approx(-6.02, abs=0.3)
    h3 = np.abs(np.fft.rfft(bands[:, 3]))
    assert 20 * np.log10(h3[np.argmin(abs(f - xo[2]))]) == pytest.approx(-6.02, abs=0.3)


def test_k_weighting_matches_bs1770_table_at_48k():
    k = D.k_weighting(48000.0)
    # ITU-R BS.1770-4 Tables 1 and 2
    np.testing.assert_allclose(k[0], [1.53512485958697, -2.69169618940638, 1.19839281085285,
                                      -1.69065929318241, 0.73248077421585], atol=1e-8)
    np.testing.assert_allclose(k[1], [1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621],
                               atol=1e-8)


def test_true_peak_fir_is_the_symmetric_annex2_prototype():
    fir = D.TRUE_PEAK_FIR
    np.testing.assert_array_equal(fir[3], fir[0][::-1])
    np.testing.assert_array_equal(fir[2], fir[1][::-1])
    proto = fir.T.ravel()     # interleave phases -> the 48-tap prototype
    np.testing.assert_array_equal(proto, proto[::-1])
    # each phase passes DC with ~unity gain
    np.testing.assert_allclose(fir.sum(axis=1), 1.0, atol=0.03)  # the Annex 2 filter: 0.973 on phases 1, 2


def test_designers_stay_stable_at_the_edges():
    out = np.zeros(5)
    for fn in (D.design_lowpass, D.design_highpass, D.design_allpass, D.design_bandpass):
        for f in (0.0, 5.0, 30000.0, 1e9):
            fn(out, 44100.0, f, 0.7)
            assert np.all(np.isfinite(out))
            assert np.all(np.abs(np.roots([1, out[3], out[4]])) < 1.0)
    for fn in (D.design_peak, D.design_lowshelf, D.design_highshelf):
        fn(out, 44100.0, 25000.0, 12.0, 0.05)
        assert np.all(np.abs(np.roots([1, out[3], out[4]])) < 1.0)
    assert math.isfinite(out[0])
