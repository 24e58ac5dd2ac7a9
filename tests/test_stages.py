"""Each stage's behaviour measured on its real output, against independent
truth: scipy.signal designs, the naive twins in ``naive.py``, time
constants measured on steps, width on mid/side tones.

Stages run alone in their own arena (``layout.Arena``), driven exactly as
the chain drives them; the parameters come from a real preset.
"""
import math

import numpy as np
import pytest
from scipy import signal

import naive
from masterbox.dsp import design as D
from masterbox.dsp import params as P
from masterbox.dsp.layout import Arena
from masterbox.dsp.stages import eq, leveler, limiter, multiband, stereo
from masterbox.dsp.truepeak import MAX_BLOCK, oversample_block, oversample_commit, parabola_peak, scratch_sizes

FS = 48000
K_SMOOTH = 0.5      # parameter glide per tick: irrelevant, targets stay fixed


def stage(mod, *args):
    ar = Arena([("s", mod.regions(*args))])
    return ar, ar.views("s"), ar.base["s"]


def run(block_fn, x, sizes=(4096,)):
    """Feed ``x`` (N, 2) float64 through ``block_fn(buf, n, n0)`` in blocks."""
    buf = np.array(x, dtype=np.float64, copy=True)
    s = 0
    k = 0
    while s < len(buf):
        n = min(sizes[k % len(sizes)], len(buf) - s)
        block_fn(buf[s:s + n], n, s)
        s += n
        k += 1
    return buf


def scipy_sos(rows):
    """Our [b0, b1, b2, a1, a2] rows -> scipy's sos layout."""
    rows = np.asarray(rows).reshape(-1, 5)
    return np.hstack([rows[:, :3], np.ones((len(rows), 1)), rows[:, 3:]])


def test_arena_rejects_float_after_int_regions_and_negative_sizes():
    """The layout contract (dsp/layout.py): float regions first, then int
    regions; sizes are not negative."""
    from masterbox.dsp.layout import Region
    with pytest.raises(ValueError, match="after an int region"):
        Arena([("s", [Region("f", 1), Region("i", 1, True), Region("g", 1)])])
    with pytest.raises(ValueError, match="negative size"):
        Arena([("s", [Region("f", -1)])])
    ar = Arena([("s", [Region("f", 3), Region("none", 0), Region("i", 2, True)]),
                ("t", [Region("f", 4)])])      # an empty region is legal (e.g. no lookahead)
    # the int arena is the layout table (2 numbers per region) then the int regions
    assert ar.f.shape == (7,) and ar.i.shape == (2 * 4 + 2,) and ar.view("s", "none").shape == (0,)
    assert ar.view("t", "f").shape == (4,) and ar.view("s", "i").dtype == np.int64
    assert np.shares_memory(ar.lay, ar.i) and ar.lay.size == 2 * 4
    ar.view("s", "i")[:] = 7
    ar.clear()
    assert not ar.view("s", "i").any() and ar.lay[2 * 3 + 1] == 4     # clear keeps the table


def test_borrowed_regions_read_and_write_the_arena():
    """layout.region / region_rows: views without a reference count, at
    the layout's offsets, for both arenas."""
    import numba
    from masterbox.dsp.layout import Region, region, region_rows
    ar = Arena([("s", [Region("a", 3), Region("w", 6), Region("k", 2, True)])])

    @numba.njit
    def poke(f, i, lay):
        a = region(f, lay, 0)
        w = region_rows(f, lay, 1, 2)
        k = region(i, lay, 2)
        a[2] = 1.5
        w[2, 1] = 2.5
        k[1] = 9
        return a.shape[0] + w.shape[0] * 10 + k.shape[0] * 100

    assert poke(ar.f, ar.i, ar.lay) == 3 + 30 + 200
    assert ar.view("s", "a")[2] == 1.5 and ar.view("s", "w")[5] == 2.5 and ar.view("s", "k")[1] == 9


# ---------------------------------------------------------------- EQ

def test_eq_stage_equals_scipy_on_its_designed_sections(params):
    p = params("rock", 7.0)
    p[P.ADAPT_AMOUNT] = 0.0          # fixed sections: the design is the whole story
    ar, v, base = stage(eq, FS)
    eq.init(v, FS, p, K_SMOOTH)
    x = np.random.default_rng(1).standard_normal((20000, 2)) * 0.1
    y = run(lambda b, n, n0: eq.block(b, n, n0, float(FS), p, ar.f, ar.lay, base), x, (37, 4096, 1, 512))
    ref = signal.sosfilt(scipy_sos(v("sos")), x, axis=0)
    np.testing.assert_allclose(y, ref, atol=1e-11)
    # and the sections are the preset's: e.g. the subsonic high-pass is
    # -3 dB at its corner, the low shelf at its f_hz gives half its gain
    f = np.array([p[P.SUBSONIC_HZ]])
    _, h = signal.sosfreqz(scipy_sos(v("sos")[0:5]), worN=f, fs=FS)
    assert 20 * np.log10(abs(h[0])) == pytest.approx(-3.01, abs=0.05)


# ---------------------------------------------------------------- crossover

def butter_lr4(f_hz, kind):
    """LR4 = two identical 2nd-order Butterworth sections (scipy's design)."""
    s = signal.butter(2, f_hz, kind, fs=FS, output="sos")
    return np.vstack([s, s])


def butter_lr2(f_hz, kind):
    """LR2 = a 1st-order Butterworth squared; the high half negated (the
    pair then sums to an all-pass with the lows in polarity)."""
    s = signal.butter(1, f_hz, kind, fs=FS, output="sos")
    s = np.vstack([s, s])
    if kind == "high":
        s[0, :3] = -s[0, :3]
    return s


def allpass_lr2(f_hz):
    """LP2 - HP2: the 1st-order all-pass (w - s)/(w + s), poles of the
    1st-order Butterworth."""
    a = signal.butter(1, f_hz, "low", fs=FS)[1]
    return np.array([[a[1], a[0], 0.0, a[0], a[1], 0.0]]) / a[0]


def allpass_lr4(f_hz):
    """LP4 + HP4 of a Linkwitz-Riley split: the 2nd-order all-pass with
    poles of the Butterworth section: numerator = reversed denominator."""
    a = signal.butter(2, f_hz, "low", fs=FS)[1]
    return np.array([[a[2], a[1], a[0], a[0], a[1], a[2]]]) / a[0]


@pytest.mark.parametrize("genre", ["pop", "edm", "classical"])
def test_each_band_of_the_production_split_matches_scipy(params, genre):
    p = params(genre)
    f1, f2, f3 = p[P.XOVER_HZ:P.XOVER_HZ + 3]
    ar, v, base = stage(multiband, FS)
    multiband.init(v, FS, p, K_SMOOTH)
    x = np.random.default_rng(4).standard_normal(8000)
    bands = np.zeros((8000, 4))
    multiband.split_block(x, 8000, v("xo"), np.zeros(multiband.XO_STATES * 4), bands)
    # the tree of the module docstring, built from scipy designs
    lo = signal.sosfilt(np.vstack([butter_lr4(f2, "low"), allpass_lr4(f3)]), x)
    hi = signal.sosfilt(np.vstack([butter_lr4(f2, "high"), allpass_lr2(f1)]), x)
    want = [signal.sosfilt(butter_lr2(f1, "low"), lo), signal.sosfilt(butter_lr2(f1, "high"), lo),
            signal.sosfilt(butter_lr4(f3, "low"), hi), signal.sosfilt(butter_lr4(f3, "high"), hi)]
    for b in range(4):
        np.testing.assert_allclose(bands[:, b], want[b], atol=1e-8, err_msg=f"band {b}")


@pytest.mark.parametrize("genre", ["pop", "hiphop"])
def test_band_sum_is_flat_on_the_stage_output_with_compression_off(params, genre):
    p = params(genre)
    for b in range(P.N_BANDS):
        p[P.BAND_BASE + b * P.BAND_STRIDE + 1] = 1.0      # ratio 1: no compression
    ar, v, base = stage(multiband, FS)
    multiband.init(v, FS, p, K_SMOOTH)
    x = np.zeros((1 << 16, 2))
    x[0] = 0.5
    y = run(lambda b, n, n0: multiband.block(b, n, n0, float(FS), p, ar.f, ar.lay, base), x)
    h = np.fft.rfft(y[:, 0] / 0.5)          # the stage's impulse response
    f = np.fft.rfftfreq(len(y), 1 / FS)
    mag = 20 * np.log10(np.abs(h[(f >= 20.0) & (f <= 20000.0)]))
    assert np.max(np.abs(mag)) < 0.1, f"band sum deviates {np.max(np.abs(mag)):.2f} dB"


# ---------------------------------------------------------------- compressor

BAND = 2              # pop: 1 kHz .. 6 kHz
TONE_HZ = 3000.0      # 16 samples a period: every 32-sample control segment sees the same peak


def band_params(params, attack_ms, release_ms, ratio=4.0, thr_rel_db=-20.0, knee_db=0.0):
    """pop's crossovers; only band BAND compresses (the others' thresholds
    are far above anything played)."""
    p = params("pop", 5.0, target=-14.0)
    for b in range(P.N_BANDS):
        o = P.BAND_BASE + b * P.BAND_STRIDE
        p[o:o + 5] = (20.0, 1.0, 0.0, 10.0, 100.0)
    o = P.BAND_BASE + BAND * P.BAND_STRIDE
    p[o:o + 5] = (thr_rel_db, ratio, knee_db, attack_ms, release_ms)
    return p


def band_tone(levels_dbfs, seconds_each):
    """A tone inside band BAND, stepping between levels."""
    n = int(seconds_each * FS)
    amp = np.concatenate([np.full(n, 10 ** (l / 20)) for l in levels_dbfs])
    t = np.arange(len(amp)) / FS
    v = amp * np.sin(2 * np.pi * TONE_HZ * t + 0.1)
    return np.stack([v, v], 1)


def split(p, x):
    """The production band split of x's left channel."""
    ar, v, base = stage(multiband, FS)
    multiband.init(v, FS, p, K_SMOOTH)
    bands = np.zeros((len(x), 4))
    multiband.split_block(x[:, 0].copy(), len(x), v("xo"), np.zeros(multiband.XO_STATES * 4), bands)
    return bands


def band_gain_db(p, x):
    """The band's gain on the stage output: the output minus the other three
    bands (unity gain: they never reach their thresholds), divided by the
    band, taken near the band's peaks where the division is well conditioned."""
    ar, v, base = stage(multiband, FS)
    multiband.init(v, FS, p, K_SMOOTH)
    y = run(lambda b, n, n0: multiband.block(b, n, n0, float(FS), p, ar.f, ar.lay, base), x)
    bands = split(p, x)
    bk = bands[:, BAND]
    rest = y[:, 0] - (bands.sum(axis=1) - bk)
    sel = np.abs(bk) > 0.7 * np.abs(signal.hilbert(bk))
    gain = np.full(len(x), np.nan)
    gain[sel] = rest[sel] / bk[sel]
    return 20 * np.log10(np.clip(gain, 1e-6, None))


def time_to_fraction_s(t, gr, t0, frac=1 - math.exp(-1)):
    """Time after t0 at which gr (dB, NaN allowed) first covers ``frac`` of
    its change from its value at t0 to its final value."""
    m = (t >= t0) & np.isfinite(gr)
    tt = t[m]
    g = gr[m]
    start = np.nanmedian(gr[(t < t0) & (t > t0 - 0.05)])
    end = np.nanmedian(g[-int(0.05 * FS):])
    goal = start + frac * (end - start)
    crossed = (g - goal) * np.sign(end - start) >= 0
    return tt[np.argmax(crossed)] - t0


@pytest.mark.parametrize("attack_ms,release_ms", [(10.0, 100.0), (30.0, 300.0), (5.0, 60.0)])
def test_compressor_attack_and_release_measured_on_band_output(params, attack_ms, release_ms):
    """A tone in one band stepping +20 dB and back: the band's output gain
    reaches 63 % of its change after the set attack / release (+-15 %)."""
    p = band_params(params, attack_ms, release_ms)
    hold = max(10 * release_ms, 400.0) * 1e-3
    x = band_tone([-40.0, -20.0, -40.0], hold)
    gain = band_gain_db(p, x)
    t = np.arange(len(x)) / FS
    gr = -gain
    t_att = time_to_fraction_s(t[:2 * int(hold * FS)], gr[:2 * int(hold * FS)], hold)
    t_rel = time_to_fraction_s(t, gr, 2 * hold)
    assert t_att == pytest.approx(attack_ms * 1e-3, rel=0.15)
    assert t_rel == pytest.approx(release_ms * 1e-3, rel=0.15)


@pytest.mark.parametrize("knee_db", [0.0, 10.0])
def test_compressor_static_curve_from_steady_tones(params, knee_db):
    """Steady tones: the settled gain reduction on the output equals the
    textbook curve (naive twin) at the band's measured peak level."""
    ratio = 4.0
    thr_rel = -20.0
    p = band_params(params, 5.0, 50.0, ratio=ratio, thr_rel_db=thr_rel, knee_db=knee_db)
    thr = p[P.TARGET_LUFS] + thr_rel
    slope = (1 - 1 / ratio) * 1.0          # intensity 5: depth 1
    for level in (-50.0, -38.0, -34.0, -30.0, -26.0, -20.0, -10.0):
        x = band_tone([level], 0.6)
        gain = band_gain_db(p, x)
        measured_gr = -np.nanmedian(gain[-int(0.1 * FS):])
        band_peak_db = 20 * np.log10(np.max(np.abs(split(p, x)[-int(0.1 * FS):, BAND])))
        want = naive.gain_computer_db(band_peak_db, thr, knee_db, slope)
        assert measured_gr == pytest.approx(want, abs=0.15), (level, band_peak_db)


def test_reported_band_gain_reduction_equals_the_output_measurement(params):
    """What the stage reports per band (the panel's meter) is the gain
    reduction measured on its output: the compressing band's settled GR,
    0 dB in the three others."""
    p = band_params(params, 5.0, 50.0)
    x = band_tone([-10.0], 0.6)
    measured_gr = -np.nanmedian(band_gain_db(p, x)[-int(0.1 * FS):])
    ar, v, base = stage(multiband, FS)
    multiband.init(v, FS, p, K_SMOOTH)
    run(lambda b, n, n0: multiband.block(b, n, n0, float(FS), p, ar.f, ar.lay, base), x)
    gr = multiband.read(v)["comp_gr_db"]
    assert len(gr) == P.N_BANDS and measured_gr > 3.0
    assert gr[BAND] == pytest.approx(measured_gr, abs=0.15)
    assert max(abs(g) for b, g in enumerate(gr) if b != BAND) == 0.0


@pytest.mark.parametrize("knee", [0.0, 6.0, 12.0])
def test_gain_computer_equals_naive(knee):
    for level in np.linspace(-60, 10, 141):
        assert multiband.gain_computer_db(level, -20.0, knee, 0.5) == pytest.approx(
            naive.gain_computer_db(level, -20.0, knee, 0.5), abs=1e-12)


# ---------------------------------------------------------------- stereo

def ms_signal(mid_hz, side_hz, side_level, seconds=3.0):
    t = np.arange(int(seconds * FS)) / FS
    m = 0.3 * np.sin(2 * np.pi * mid_hz * t)
    s = side_level * np.sin(2 * np.pi * side_hz * t + 0.4)
    return np.stack([m + s, m - s], 1)


def run_stereo(p, x):
    ar, v, base = stage(stereo, FS)
    stereo.init(v, FS, p, K_SMOOTH)
    return run(lambda b, n, n0: stereo.block(b, n, n0, float(FS), p, ar.f, ar.lay, base), x)


def tone_amp(x, f_hz):
    """Amplitude of the f_hz component (least squares, last second)."""
    seg = x[-FS:]
    t = np.arange(len(seg)) / FS
    basis = np.stack([np.sin(2 * np.pi * f_hz * t), np.cos(2 * np.pi * f_hz * t)], 1)
    c, *_ = np.linalg.lstsq(basis, seg, rcond=None)
    return float(np.hypot(*c))


@pytest.mark.parametrize("width,intensity", [(1.5, 5.0), (1.3, 10.0), (0.7, 5.0), (1.2, 2.5)])
def test_width_measured_on_mid_side_tones(params, width, intensity):
    """Side gain at 3 kHz (above the mono-bass corner) = 1 + (w - 1) * depth;
    the mid is untouched."""
    p = params("pop", intensity)
    p[P.WIDTH] = width
    x = ms_signal(1000.0, 3000.0, 0.05)
    y = run_stereo(p, x)
    side = 0.5 * (y[:, 0] - y[:, 1])
    mid = 0.5 * (y[:, 0] + y[:, 1])
    want = 1 + (width - 1) * intensity / 5
    assert tone_amp(side, 3000.0) / 0.05 == pytest.approx(want, rel=0.01)
    assert tone_amp(mid, 1000.0) / 0.3 == pytest.approx(1.0, rel=0.001)


@pytest.mark.parametrize("width", [0.8, 0.5])
def test_right_to_left_leakage_of_a_hard_panned_source(params, width):
    """Only R in: L out / R out = (1 - w) / (1 + w) above the corner."""
    p = params("pop", 5.0)
    p[P.WIDTH] = width
    t = np.arange(3 * FS) / FS
    r = 0.3 * np.sin(2 * np.pi * 2000 * t)
    y = run_stereo(p, np.stack([np.zeros_like(r), r], 1))
    assert tone_amp(y[:, 0], 2000.0) / tone_amp(y[:, 1], 2000.0) == pytest.approx(
        (1 - width) / (1 + width), rel=0.02)


def side_gain_want(p, f_hz, w_low, w_high):
    """|1 + (w_high - 1)(1 - LP)| x |1 - (1 - w_low) LP2|: LP and LP2 scipy's
    first-order Butterworth low-passes at twice the preset's low crossover
    and at half of it."""
    b, a = signal.butter(1, 2 * p[P.XOVER_HZ], "low", fs=FS)
    _, lp = signal.freqz(b, a, worN=[f_hz], fs=FS)
    b, a = signal.butter(1, p[P.XOVER_HZ] / 2, "low", fs=FS)
    _, lp2 = signal.freqz(b, a, worN=[f_hz], fs=FS)
    return abs(1 + (w_high - 1) * (1 - lp[0])) * abs(1 - (1 - w_low) * lp2[0])


@pytest.mark.parametrize("intensity", [5.0, 10.0])
def test_the_width_stays_out_of_the_bass(params, intensity):
    """edm asks for width 1.2 (x intensity / 5): two octaves under the low
    crossover the side gets under a fortieth of it in dB (a broadband width
    gave that leak +1.6 dB at 5, +2.9 dB at 10); four octaves over it
    gets all of it but 0.04 dB.  Mono bass off here to see the width
    alone."""
    p = params("edm", intensity)
    p[P.MONO_BASS] = 0.0
    w = 1 + (p[P.WIDTH] - 1) * intensity / 5
    corner = p[P.XOVER_HZ]
    for f in (corner / 4, corner * 16):
        y = run_stereo(p, ms_signal(1000.0, f, 0.05))
        side = 0.5 * (y[:, 0] - y[:, 1])
        got_db = 20 * np.log10(tone_amp(side, f) / 0.05)
        assert got_db == pytest.approx(20 * np.log10(side_gain_want(p, f, 1.0, w)), abs=0.02)
    assert 20 * np.log10(side_gain_want(p, corner / 4, 1.0, w)) < 20 * np.log10(w) / 40
    assert 20 * np.log10(side_gain_want(p, corner * 16, 1.0, w)) > 20 * np.log10(w) - 0.05


def test_mono_bass_keeps_deepening_from_5_to_10(params):
    """From intensity 5 (where the multiband's low band is already mono) to
    10 the side under the crossover keeps falling: its gain there is
    1 - mono_bass x (intensity - 5) / 5 through a first-order shelf at half
    the crossover (at 10 with full mono bass a first-order high-pass
    there: -3 dB two octaves under the crossover, x the width's shelf),
    and every step of the knob takes the side lower; at the crossover the
    shelf takes at most 1 dB."""
    got = []
    for intensity in (5.0, 6.0, 7.0, 8.0, 9.0, 10.0):
        p = params("pop", intensity)
        corner = p[P.XOVER_HZ]
        w = 1 + (p[P.WIDTH] - 1) * intensity / 5
        w_low = 1 - p[P.MONO_BASS] * (intensity - 5) / 5
        y = run_stereo(p, ms_signal(1000.0, corner / 4, 0.05))
        side = 0.5 * (y[:, 0] - y[:, 1])
        mid = 0.5 * (y[:, 0] + y[:, 1])
        got.append(20 * np.log10(tone_amp(side, corner / 4) / 0.05))
        assert got[-1] == pytest.approx(
            20 * np.log10(side_gain_want(p, corner / 4, w_low, w)), abs=0.02)
        assert tone_amp(mid, 1000.0) / 0.3 == pytest.approx(1.0, rel=0.001)
        at_corner = 20 * np.log10(side_gain_want(p, corner, w_low, 1.0))
        assert -1.0 <= at_corner <= 0.0
    assert np.all(np.diff(got) < -0.3), got
    assert got[-1] < -2.5, got


def test_mono_bass_glides_without_a_zipper(params):
    """Turning pop from 5 to 10 under a 30 Hz side tone: the side gain
    below the crossover glides (interpolated per sample between control
    ticks), so nothing appears above 3 kHz; a gain stepped or interpolated
    the wrong way every 32 samples would put a 1.5 kHz sawtooth there
    (planted: -58 dBFS; as built: under -120)."""
    p = params("pop", 5.0)
    x = ms_signal(1000.0, 30.0, 0.1, seconds=2.0)
    ar, v, base = stage(stereo, FS)
    stereo.init(v, FS, p, K_SMOOTH)
    buf = np.array(x, dtype=np.float64, copy=True)
    half = FS
    stereo.block(buf[:half], half, 0, float(FS), p, ar.f, ar.lay, base)
    p[P.INTENSITY] = 10.0
    stereo.block(buf[half:], len(buf) - half, half, float(FS), p, ar.f, ar.lay, base)
    side = 0.5 * (buf[:, 0] - buf[:, 1])
    assert tone_amp(side, 30.0) / 0.1 < 0.5       # the glide happened
    hp = signal.butter(4, 3000.0, "highpass", fs=FS, output="sos")
    r = np.abs(signal.sosfilt(hp, side))[half // 2:]
    assert r.max() < 1e-6, 20 * np.log10(r.max() + 1e-30)


def test_correlation_meter_reads_the_coefficient_and_stays_finite(params):
    """The correlation the panel shows: 1 for mono, -1 for L = -R, 0 for a
    source on one side only and 0 (not NaN) for silence."""
    rng = np.random.default_rng(4)
    n = rng.standard_normal(FS) * 0.1
    for left, right, want in ((n, n, 1.0), (n, -n, -1.0), (n, 0 * n, 0.0), (0 * n, 0 * n, 0.0)):
        p = params("classical", 5.0)
        ar, v, base = stage(stereo, FS)
        stereo.init(v, FS, p, K_SMOOTH)
        buf = np.stack([left, right], 1)
        stereo.block(buf, len(buf), 0, float(FS), p, ar.f, ar.lay, base)
        got = stereo.read(v)["correlation"]
        assert np.isfinite(got) and got == pytest.approx(want, abs=0.01), (want, got)


def test_side_passes_bit_exact_at_intensity_0(params):
    """Both side gains are exactly 1: the high-pass's term is multiplied by
    0 and the stage returns its input (up to the L/R <-> M/S round trip)."""
    p = params("edm", 0.0)
    x = ms_signal(1000.0, 60.0, 0.1)
    y = run_stereo(p, x)
    m = 0.5 * (x[:, 0] + x[:, 1])
    s = 0.5 * (x[:, 0] - x[:, 1])
    np.testing.assert_array_equal(y, np.stack([m + s, m - s], 1))


def run_multiband(p, x):
    ar, v, base = stage(multiband, FS)
    multiband.init(v, FS, p, K_SMOOTH)
    return run(lambda b, n, n0: multiband.block(b, n, n0, float(FS), p, ar.f, ar.lay, base), x)


def no_compression(p):
    for b in range(P.N_BANDS):
        p[P.BAND_BASE + b * P.BAND_STRIDE + 1] = 1.0
    return p


@pytest.mark.parametrize("genre,intensity,want_db", [
    ("edm", 5.0, -24.0), ("edm", 10.0, -24.0), ("edm", 2.5, None), ("jazz", 5.0, None)])
def test_bass_below_the_corner_is_mono(params, genre, intensity, want_db):
    """Mono bass shares the low crossover: the side two octaves below it is
    the LR2 high-pass, -24.6 dB (|HP1|^2 at f/4: 10 log(1/17^2)), when the
    preset asks for full mono bass at intensity >= 5; it follows
    1 - mono_bass x intensity / 5 below that; above the corner the side is
    untouched; the mid never moves."""
    p = no_compression(params(genre, intensity))
    corner = p[P.XOVER_HZ]
    mono = p[P.MONO_BASS]
    y = run_multiband(p, ms_signal(1000.0, corner / 4, 0.1))
    side = 0.5 * (y[:, 0] - y[:, 1])
    mid = 0.5 * (y[:, 0] + y[:, 1])
    side_gain = 1.0 - mono * min(intensity / 5.0, 1.0)
    # side out = side_gain x LP2 - HP2 (scipy's 1st-order Butterworth, squared)
    b, a = signal.butter(1, corner, "low", fs=FS)
    _, l1 = signal.freqz(b, a, worN=[corner / 4], fs=FS)
    b, a = signal.butter(1, corner, "high", fs=FS)
    _, h1 = signal.freqz(b, a, worN=[corner / 4], fs=FS)
    want = abs(side_gain * l1[0] ** 2 - h1[0] ** 2)
    got = tone_amp(side, corner / 4) / 0.1
    assert 20 * np.log10(got) == pytest.approx(20 * np.log10(want), abs=0.3)
    if want_db is not None:
        assert 20 * np.log10(got) < want_db
    assert tone_amp(mid, 1000.0) / 0.3 == pytest.approx(1.0, rel=0.001)
    y = run_multiband(p, ms_signal(1000.0, corner * 8, 0.1))
    side = 0.5 * (y[:, 0] - y[:, 1])
    assert 20 * np.log10(tone_amp(side, corner * 8) / 0.1) > -0.6


# ---------------------------------------------------------------- limiter parts

def test_sliding_minimum_equals_naive_twin():
    m_len = 13
    rng = np.random.default_rng(8)
    vals = rng.random(3000)
    vals[500:700] = 0.1                     # plateaus and runs exercise the deque
    vals[1000:1100] = np.linspace(1, 0, 100)
    dq_i = np.zeros(m_len + 1, dtype=np.int64)
    dq_v = np.zeros(m_len + 1)
    head = cnt = 0
    got = []
    for g in range(len(vals)):
        mn, head, cnt = limiter.sliding_min(dq_i, dq_v, head, cnt, g, vals[g], m_len)
        got.append(mn)
    np.testing.assert_array_equal(got, naive.sliding_min(vals, m_len))


def test_box_average_equals_naive_twin():
    a_len = 48
    vals = np.random.default_rng(9).random(20000)
    box = np.ones(a_len)
    box_sum = float(a_len)
    bp = 0
    got = []
    for g in range(len(vals)):
        mean, box_sum, bp = limiter.box_average(box, box_sum, bp, vals[g], a_len, g)
        got.append(mean)
    got = np.array(got)
    np.testing.assert_allclose(got, naive.box_average(vals, a_len, initial=1.0), atol=1e-12)


def test_delay_line_equals_naive_twin():
    d_len = 57
    x = np.random.default_rng(10).standard_normal((1000, 2))
    gain = np.random.default_rng(11).random(1000)
    dly = np.zeros(2 * (d_len + 1))
    dp = 0
    buf = x.copy()
    for i in range(len(x)):
        dp = limiter.delay_apply(dly, dp, buf, i, d_len, gain[i])
    np.testing.assert_array_equal(buf, naive.delay(x, d_len) * gain[:, None])


def test_limiter_gain_holds_every_peak_over_its_lobe():
    """On the stage's own output: a single over-threshold sample is reduced
    to the threshold, the gain ramps over A samples and holds for +-W."""
    fs = 48000
    a_len = 48
    ar, v, base = stage(limiter, fs, a_len)
    limiter.init(v, fs, a_len)
    a_, w, m, d = limiter.sizes(fs, a_len)
    x = np.full((2000, 2), 0.1)
    x[1000] = 2.0
    fir = D.TRUE_PEAK_FIR.ravel().copy()
    thr_db = -1.0
    y = run(lambda b, n, n0: limiter.block(b, n, n0, float(fs), thr_db, 100.0, fir, ar.f, ar.i,
                                           ar.lay, base), x, (64,))
    gain = y[d:, 0] / x[:-d, 0]
    assert abs(y[1000 + d, 0]) <= 10 ** (thr_db / 20) * 1.0001 * (2.0 / 2.0)
    assert gain[1000] <= 10 ** (thr_db / 20) / 2.0 * 1.0001
    # the gain is at its minimum over the main lobe around the peak
    np.testing.assert_array_less(gain[1000 - w:1000 + w + 1], 10 ** (thr_db / 20) / 2.0 * 1.0001)
    # and back to unity well before and after (no gain change without cause)
    assert gain[1000 - w - a_len - 2] == 1.0


# ---------------------------------------------------------------- true peak

def test_oversampler_equals_naive_convolution_streaming():
    x = np.random.default_rng(5).standard_normal((2000, 2))
    fir = D.TRUE_PEAK_FIR.ravel().copy()
    ref = [naive.oversample_4x(x[:, ch], D.TRUE_PEAK_FIR) for ch in range(2)]
    xs_n, us_n = scratch_sizes()
    xs = np.zeros(xs_n)
    us = np.zeros(us_n)
    s = 0
    got = np.zeros((2, 4, 2000))
    for n in (1, 7, 500, 1492):
        oversample_block(x[s:s + n], n, fir, xs, us)
        u = us.reshape(2, 4, MAX_BLOCK)
        got[:, :, s:s + n] = u[:, :, :n]
        oversample_commit(xs, n)
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
        est = parabola_peak(a, b, c)
        assert 20 * np.log10(est) == pytest.approx(0.0, abs=tol_db)


# ---------------------------------------------------------------- leveler

def pink(seconds, seed=3):
    w = np.random.default_rng(seed).standard_normal((int(seconds * FS), 2))
    b, a = [0.049922035, -0.095993537, 0.050612699, -0.004408786], [1, -2.494956002, 2.017265875, -0.522189400]
    return signal.lfilter(b, a, w, axis=0)


def at_lufs(x, lufs):
    import pyloudnorm
    return x * 10 ** ((lufs - pyloudnorm.Meter(FS).integrated_loudness(x)) / 20)


def run_leveler(p, x):
    ar, v, base = stage(leveler, FS)
    leveler.init(v, FS)
    gains = []

    def blk(b, n, n0):
        leveler.block(b, n, n0, p, FS // 10, 0.0, 0.0, float(FS), ar.f, ar.lay, base)
        gains.append(leveler.read(v)["leveler_gain_db"])
    y = run(blk, x, (FS // 10,))
    return y, np.array(gains)


def momentary(y):
    return naive.momentary_series(y, FS, D.k_weighting(FS))


def test_leveler_acquires_at_once_then_cuts_fast_on_a_loud_change(params):
    """-30 LUFS pink for 20 s, then +16 LU: the stage's output reaches the
    target within 1 LU by 1.5 s (independent BS.1770 meter) and, after the
    jump, its momentary loudness is back within target + 3 LU by 0.5 s."""
    p = params("pop", 5.0, target=-14.0)
    x = np.vstack([at_lufs(pink(20.0), -30.0), at_lufs(pink(10.0, seed=4), -14.0)])
    y, gains = run_leveler(p, x)
    mom = momentary(y)                      # every 100 ms, from 0.4 s
    t = 0.4 + 0.1 * np.arange(len(mom))
    settled = mom[(t > 1.5) & (t < 20.0)]
    assert np.all(np.abs(settled - (-14.0)) < 1.0), (settled.min(), settled.max())
    assert gains[100] == pytest.approx(16.0, abs=1.0)
    after = mom[(t > 20.5) & (t < 30.0)]
    assert np.all(after < -14.0 + 3.0), after.max()
    assert np.median(mom[(t > 24.0)]) == pytest.approx(-14.0, abs=1.0)


def test_leveler_holds_its_gain_through_a_passage_far_below_the_programme(params):
    """A quiet passage above the absolute gate (-50 LUFS) but more than
    20 LU below the programme's long-term level is not lifted: once the
    window has drained the gain is frozen (relative gate)."""
    p = params("pop", 5.0, target=-14.0)
    x = np.vstack([at_lufs(pink(12.0), -20.0), at_lufs(pink(8.0, seed=6), -44.0)])
    _, gains = run_leveler(p, x)
    frozen = gains[int(16.0 * 10):]          # window (3 s) drained after 15 s
    assert np.ptp(frozen) < 1e-9, np.ptp(frozen)


def test_leveler_window_reads_the_bs1770_short_term_loudness_of_its_input(params):
    """The leveler's window is the input's short-term loudness (last 3 s,
    K-weighted per channel, channel powers summed, BS.1770-4 eq. 2) as
    scipy computes it, with different material left and right."""
    p = params("pop", 5.0, target=-14.0)
    rng = np.random.default_rng(5)
    w = rng.standard_normal((4 * FS, 2))
    x = np.column_stack([0.05 * w[:, 0],
                         signal.sosfilt(signal.butter(2, 200.0, fs=FS, output="sos"), w[:, 1])])
    ar, v, base = stage(leveler, FS)
    leveler.init(v, FS)
    run(lambda b, n, n0: leveler.block(b, n, n0, p, FS // 10, 0.0, 0.0, float(FS), ar.f, ar.lay, base),
        x, (FS // 10,))
    y = signal.sosfilt(scipy_sos(D.k_weighting(FS)), x, axis=0)[-3 * FS:]
    want = -0.691 + 10 * np.log10(np.mean(y ** 2, axis=0).sum())
    assert leveler.read(v)["leveler_in_short_lufs"] == pytest.approx(want, abs=1e-6)


def test_leveler_holds_its_gain_through_silence_below_the_gate(params):
    """Digital silence (below the -50 LUFS gate) freezes the wanted gain at
    once: the applied gain only glides down toward 0 dB (the room is not
    pumped up) and never rises."""
    p = params("pop", 5.0, target=-14.0)
    x = np.vstack([at_lufs(pink(12.0), -24.0), np.zeros((8 * FS, 2))])
    _, gains = run_leveler(p, x)
    before = gains[115]
    assert before == pytest.approx(10.0, abs=1.0)
    pause = gains[120:]
    assert np.all(np.diff(pause) <= 1e-9)                     # never up
    assert pause[-1] <= leveler.PAUSE_GAIN_DB + 0.5           # glided down
