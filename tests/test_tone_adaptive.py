"""The adaptive tone stage arrives, does not overshoot, and moves without
sidebands (issue 10, item 2).  Truth: scipy's Butterworth designs, FFT
octave levels (the measure of bench/tone.py), the target in the preset.
The full development-music table is bench/tone.py's
(docs/quality-report/tone.md)."""
import numpy as np
import pytest
from scipy import signal

from masterbox.dsp import params as P
from masterbox.dsp.design import OCTAVE_CENTRES_HZ
from masterbox.dsp.layout import Arena
from masterbox.dsp.stages import tone

FS = 48000


def stage(p):
    ar = Arena([("s", tone.regions(FS))])
    v = ar.views("s")
    tone.init(v, FS, p, 0.5)
    base = ar.base["s"]

    def run(x, sizes=(4096,)):
        buf = np.array(x, dtype=np.float64, copy=True)
        s = k = 0
        while s < len(buf):
            n = min(sizes[k % len(sizes)], len(buf) - s)
            tone.block(buf[s:s + n], n, s, float(FS), p, 0.0, 4800, ar.f, ar.lay, base)
            s += n
            k += 1
        return buf
    return v, run


def octave_levels(y):
    """FFT octave-band levels (Hann 8192, bins summed per band), mean removed."""
    m = y.mean(axis=1) if y.ndim == 2 else y
    n = 8192
    f, psd = signal.welch(m, FS, window="hann", nperseg=n, noverlap=n // 2, scaling="spectrum")
    lv = np.array([10 * np.log10(psd[(f >= c / 2 ** 0.5) & (f < c * 2 ** 0.5)].sum())
                   for c in OCTAVE_CENTRES_HZ])
    return lv - lv.mean()


def coloured_noise(seconds, seed=3):
    """Pink noise with a +8 dB bass shelf and a -8 dB treble shelf: a dull,
    boomy programme far from every genre target (> 3 dB)."""
    x = np.random.default_rng(seed).standard_normal(int(seconds * FS))
    b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
    a = [1, -2.494956002, 2.017265875, -0.522189400]
    x = signal.lfilter(b, a, x)
    x = signal.sosfilt(signal.butter(1, 150, "low", fs=FS, output="sos"), x) * 10 ** (8 / 20) * 1.5 + x
    x = x - 0.6 * signal.sosfilt(signal.butter(1, 3000, "high", fs=FS, output="sos"), x)
    x *= 0.05 / x.std()
    return np.stack([x, x], 1)


@pytest.mark.parametrize("fc", [31.5, 250.0, 1000.0, 8000.0, 16000.0])
def test_analysis_band_pass_is_scipys_butterworth(fc):
    rows = tone.butterworth_octave_bandpass(float(FS), fc, tone.ANA_ORDER).reshape(-1, 5)
    sos = np.hstack([rows[:, :3], np.ones((len(rows), 1)), rows[:, 3:]])
    ref = signal.butter(tone.ANA_ORDER, [fc / 2 ** 0.5, min(fc * 2 ** 0.5, 0.49 * FS)], "bandpass", fs=FS, output="sos")
    f = np.geomspace(10, 23000, 300)
    _, h = signal.sosfreqz(sos, worN=f, fs=FS)
    _, h_ref = signal.sosfreqz(ref, worN=f, fs=FS)
    tol_db = 0.01
    seen = np.abs(h_ref) > 1e-4                 # down to -80 dB
    np.testing.assert_allclose(20 * np.log10(np.abs(h[seen])), 20 * np.log10(np.abs(h_ref[seen])),
                               atol=tol_db)


def test_the_analysis_reads_the_octave_levels_fft_reads(params):
    """The analysis' band powers of a strongly tilted programme (+8 dB bass,
    -8 dB treble shelves on pink noise) equal the FFT's octave levels within
    1 dB (shape, mean removed) from 31.5 Hz to 8 kHz; with one octave 18 dB
    above the rest, within 3 dB (its neighbours read some of it: a 6-pole
    band-pass passes about -15 dB of the next octave)."""
    p = params("pop", 0.0)
    x = coloured_noise(20.0)
    v, run = stage(p)
    run(x)
    sel = slice(0, 9)

    def err(v, x):
        got = 10 * np.log10(np.array(v("ana_pow")))[sel]
        want = octave_levels(x[5 * FS:])[sel]
        return (got - got.mean()) - (want - want.mean())
    assert np.abs(err(v, x)).max() < 1.0, err(v, x)
    loud = signal.sosfilt(signal.butter(6, [500 / 2 ** 0.5, 500 * 2 ** 0.5], "bandpass", fs=FS,
                                        output="sos"), np.random.default_rng(7).standard_normal(len(x)))
    x2 = x + (loud * 8 * x[:, 0].std() / loud.std())[:, None]
    v2, run2 = stage(p)
    run2(x2)
    assert np.abs(err(v2, x2)).max() < 3.0, err(v2, x2)


def distance(y, target):
    t = np.asarray(target) - np.mean(target)
    return float(np.sqrt(np.mean((octave_levels(y) - t) ** 2))), octave_levels(y) - t


@pytest.mark.parametrize("genre", ["pop", "classical"])
def test_the_chain_arrives_at_the_target_without_overshoot(params, genre):
    """Through the whole chain, a dull boomy programme: the octave distance
    to the target shrinks by >= 50 % at intensity 10 and >= 25 % at 5,
    never grows, no band crosses the target by more than 1 dB, the lowest
    band does not move away, and it stays put (last 10 s against the 10 s
    before: < 1 dB drift in any band)."""
    from masterbox.dsp.chain import Chain
    x = coloured_noise(45.0).astype(np.float32)
    target = params(genre)[P.TARGET_SPECTRUM:P.TARGET_SPECTRUM + 10]
    d0, e0 = distance(x[15 * FS:].astype(np.float64), target)
    assert d0 > 3.0
    for intensity, bar in ((5.0, 0.25), (10.0, 0.5)):
        y = Chain(FS, params(genre, intensity)).process(x).astype(np.float64)
        d, e = distance(y[15 * FS:], target)
        assert 1 - d / d0 >= bar, f"{genre}@{intensity}: {d0:.2f} -> {d:.2f} dB"
        crossed = np.sign(e) != np.sign(e0)
        assert not crossed.any() or np.abs(e[crossed]).max() <= 1.0, (e0, e)
        assert abs(e[0]) <= abs(e0[0]) + 0.2
        drift = octave_levels(y[35 * FS:]) - octave_levels(y[25 * FS:35 * FS])
        assert np.abs(drift).max() < 1.0


def test_a_tone_through_the_moving_eq_has_no_sidebands(params):
    """A 1 kHz tone (with a quiet bass tone that keeps the EQ moving for
    seconds): while the gains glide, nothing from 200 Hz to 6 kHz beyond
    +-5 Hz of the tone rises above -100 dB re the tone (a step every 1024
    samples put sidebands at +-46.9 Hz, -84 dBc; the glide's 32-sample
    steps would put them at +-1.5 kHz)."""
    p = params("pop", 10.0)
    t = np.arange(10 * FS) / FS
    x = 0.1 * np.sin(2 * np.pi * 1000.0 * t) + 0.02 * np.sin(2 * np.pi * 63.0 * t)
    v, run = stage(p)
    y = run(np.stack([x, x], 1))[:, 0]
    w0 = np.array(v("want")).copy()
    seg = y[2 * FS:6 * FS]
    spec = np.abs(np.fft.rfft(seg * signal.windows.blackmanharris(len(seg))))
    f = np.fft.rfftfreq(len(seg), 1 / FS)
    ref = spec[np.argmin(np.abs(f - 1000.0))]
    near = (np.abs(f - 1000.0) > 5.0) & (f > 200.0) & (f < 6000.0)
    worst = 20 * np.log10(spec[near].max() / ref)
    assert worst < -100.0, f"sidebands at {worst:.1f} dBc"
    # the gains did move in the window
    v2, run2 = stage(p)
    run2(np.stack([x, x], 1)[:2 * FS])
    assert np.abs(w0 - np.array(v2("want"))).max() > 1.0


def octave_shaped_noise(seconds, error_db, target, seed=5):
    """Noise whose octave bands sit ``error_db`` from the target's shape
    (each octave a 6-pole Butterworth band of white noise)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    x = np.zeros(n)
    for c, t, e in zip(OCTAVE_CENTRES_HZ, target, error_db):
        sos = signal.butter(3, [c / 2 ** 0.5, min(c * 2 ** 0.5, 0.49 * FS)], "bandpass", fs=FS,
                            output="sos")
        band = signal.sosfilt(sos, rng.standard_normal(n))
        x += band / band.std() * 10 ** ((t + e) / 20)
    x *= 0.05 / x.std()
    return np.stack([x, x], 1).astype(np.float32)



def test_the_bass_entering_after_a_thin_opening_does_not_cross_the_target(params):
    """lincity_03's case (issue 10, item 2): 24 s with the two lowest
    octaves 8 dB under the target, then the bass enters (31.5 Hz just
    above it, 63 Hz under).  The lift wanted for the thin opening stayed on
    for seconds into the bass section (a 6 s glide down), and the loud
    section dominates the long-term octave level: 31.5 Hz crossed the
    target by 2.1 dB at intensity 10.  Through the whole chain, measured
    from 15 s: no band crosses it by more than 1 dB."""
    from masterbox.dsp.chain import Chain
    target = params("pop")[P.TARGET_SPECTRUM:P.TARGET_SPECTRUM + 10]
    a = octave_shaped_noise(24.0, [-8, -8, 0, 0, 0, 0, 0, 0, 0, 0], target, seed=5)
    b = octave_shaped_noise(21.0, [1.5, -3, 0, 0, 0, 0, 0, 0, 0, 0], target, seed=6)
    x = np.concatenate([a, b * (a[:, 0].std() / b[:, 0].std())])
    _, e0 = distance(x[15 * FS:].astype(np.float64), target)
    assert -1.0 < e0[0] < 0.0 and e0[1] < -2.0, e0
    for intensity in (5.0, 10.0):
        y = Chain(FS, params("pop", intensity)).process(x).astype(np.float64)
        _, e = distance(y[15 * FS:], target)
        crossed = np.sign(e) != np.sign(e0)
        assert not crossed.any() or np.abs(e[crossed]).max() <= 1.0, (intensity, e0.round(2), e.round(2))


def test_a_passage_with_another_spectrum_keeps_its_loudness(params):
    """The correction changes tone, not level, passage by passage: after a
    dull programme has set the wants (pop, intensity 10: bass cut, treble
    lifted), a bright one at the same K-weighted loudness (pyloudnorm)
    must come out of the stage at its own loudness within a second (the
    make-up's 1 s averaging), not lifted or cut by the wants still in
    effect.  Without the stage's make-up it came out 0.9..1.65 dB low for
    seconds; with a make-up on the wants' 3 s averages, 1.2, 0.75, 0.36 dB
    off in the half-seconds from 1 s after the change; now within 0.5,
    and within 0.15 from 3 s on."""
    import pyloudnorm
    meter = pyloudnorm.Meter(FS)
    a = coloured_noise(20.0)
    b = signal.sosfilt(signal.butter(2, 1000, "high", fs=FS, output="sos"),
                       coloured_noise(12.0, seed=4), axis=0)
    b *= 10 ** ((meter.integrated_loudness(a) - meter.integrated_loudness(b)) / 20)
    x = np.concatenate([a, b])
    _, run = stage(params("pop", 10.0))
    y = run(x)

    def moved_db(t0, t1):
        s = slice(int(t0 * FS), int(t1 * FS))
        return meter.integrated_loudness(y[s]) - meter.integrated_loudness(x[s])
    before = moved_db(15.0, 20.0)
    soon = [moved_db(t, t + 0.5) for t in np.arange(21.0, 23.0, 0.5)]
    after = [moved_db(t, t + 1.0) for t in np.arange(23.0, 32.0)]
    assert abs(before) <= 0.2, before
    assert max(abs(v) for v in soon) <= 0.6, np.round(soon, 2)
    assert max(abs(v) for v in after) <= 0.3, np.round(after, 2)


@pytest.mark.parametrize("genre", ["pop", "classical"])
def test_the_tone_holds_still_over_minutes(params, genre):
    """Stable over minutes (issue 10, item 2: no drift beyond 1 dB on
    steady material).  The same 30 s of the dull, boomy programme ten times
    over (5 min): the input's octaves are identical loop by loop, so every
    change in the output's from one loop to the next is the chain's own.
    From the third loop on (1 min: classical's opening reserve is given
    back by then, 0.67 LU of it still during the second loop), each loop
    against the third, through the whole chain at intensity 10: within 1
    dB in every band, and the loudness (pyloudnorm) within 0.5 LU."""
    import pyloudnorm
    from masterbox.dsp.chain import Chain
    loop = coloured_noise(30.0, seed=11).astype(np.float32)
    n = len(loop)
    y = Chain(FS, params(genre, 10.0)).process(np.tile(loop, (10, 1))).astype(np.float64)
    meter = pyloudnorm.Meter(FS)
    ref_lv = octave_levels(y[2 * n:3 * n])
    ref_lufs = meter.integrated_loudness(y[2 * n:3 * n])
    drift = np.array([octave_levels(y[k * n:(k + 1) * n]) - ref_lv for k in range(3, 10)])
    moved = np.array([meter.integrated_loudness(y[k * n:(k + 1) * n]) - ref_lufs
                      for k in range(3, 10)])
    assert np.abs(drift).max() <= 1.0, f"{genre}: band drift {np.abs(drift).max(1).round(2)}"
    assert np.abs(moved).max() <= 0.5, f"{genre}: loudness per loop {moved.round(2)}"
