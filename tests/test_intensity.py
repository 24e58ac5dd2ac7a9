"""The intensity knob means "more" (issue 10, item 3), as far as it does today.

Over intensity 0 -> 10 in steps of 1, on the chain's output: the loudness
range (the
project's EBU 3342 meter, checked against the EBU tables in
tests/test_meters.py) by more than 0.2 LU; the octave distance to the
genre's target (FFT octave levels) never grows; the side above the low
crossover (the width) never moves against the preset's width.  (Below it,
mono bass is the development music's bar, counted by bench/tone.py per
octave wholly under the crossover: it holds on 36 of 36 pairs since the
stereo stage keeps its width above the crossover and deepens mono bass
from 5 to 10.  Not asserted on this synthetic mix: there the side under
the crossover sits 73-81 dB under the mid from intensity 5 on and still
rises from 5 to 10, by 2.4 dB on pop and 3.9 on edm (3.5 and 5.2 before
that change; its cause, not traced, is no setting of the stereo stage,
whose shelves take it down), which is nothing anyone hears.)  And
a loud master's peak-to-loudness ratio (8x-oversampled true peak by scipy,
integrated loudness by pyloudnorm) and crest factor never exceed the
input's.

Material, synthesized (no downloads): the demo mix as it comes (dynamic:
PLR ~15 dB) and the same mix mastered loud by an independent limiter
(PLR ~10 dB), where the chain used to hand back more crest than it was given.
The development-music table and plots are bench/tone.py's
(docs/quality-report/tone.md, intensity-*.png).
"""
import numpy as np
import pytest
from scipy import signal

from masterbox.dsp import params as P
from masterbox.dsp.chain import Chain

FS = 48000
SKIP_S = 10.0
TOL = 0.2


def _demo(seconds=30.0):
    from masterbox.firmware.demo import synth_mix
    return synth_mix(FS, seconds).astype(np.float64)


def _mastered_loud(x):
    """An independent "loud master": +9 dB into a tanh soft clipper after a
    fast RMS compressor (scipy filters, not the chain's code)."""
    env = np.sqrt(signal.lfilter([0.002], [1, -0.998], (x ** 2).mean(axis=1)))
    gr = np.minimum(1.0, (0.05 / np.maximum(env, 1e-9)) ** 0.5)
    y = x * gr[:, None] * 10 ** (9 / 20)
    return 0.89 * np.tanh(y / 0.89)


def _true_peak_db(y):
    up = signal.resample_poly(y, 8, 1, axis=0, window=("kaiser", 10.0))
    return 20 * np.log10(np.abs(up).max())


def _octaves(y):
    m = y.mean(axis=1)
    f, psd = signal.welch(m, FS, window="hann", nperseg=8192, noverlap=4096, scaling="spectrum")
    from masterbox.dsp.design import OCTAVE_CENTRES_HZ
    lv = np.array([10 * np.log10(psd[(f >= c / 2 ** 0.5) & (f < c * 2 ** 0.5)].sum() + 1e-30)
                   for c in OCTAVE_CENTRES_HZ])
    return lv - lv.mean()


def _side_mid_db(y):
    mid = 0.5 * (y[:, 0] + y[:, 1])
    side = 0.5 * (y[:, 0] - y[:, 1])
    return 10 * np.log10(np.mean(side ** 2) / np.mean(mid ** 2))


def measures(y, p):
    import pyloudnorm
    from masterbox.dsp import LoudnessMeter
    seg = y[int(SKIP_S * FS):]
    lufs = pyloudnorm.Meter(FS).integrated_loudness(seg)
    m = LoudnessMeter(FS)
    m.process(seg.astype(np.float32))
    t = p[P.TARGET_SPECTRUM:P.TARGET_SPECTRUM + 10]
    xo = p[P.XOVER_HZ]
    low = signal.sosfiltfilt(signal.butter(4, xo, "low", fs=FS, output="sos"), seg, axis=0)
    return {
        "plr_db": _true_peak_db(seg) - lufs,
        "crest_db": 20 * np.log10(np.abs(seg).max() / np.sqrt(np.mean(seg ** 2))),
        "lra_lu": m.lra_lu,
        "distance_db": float(np.sqrt(np.mean((_octaves(seg) - (t - np.mean(t))) ** 2))),
        "side_low_db": _side_mid_db(low),
        "side_high_db": _side_mid_db(seg - low),
    }


def sweep(x, params, genre):
    rows = []
    for i in range(11):
        p = params(genre, float(i))
        y = Chain(FS, p).process(x.astype(np.float32)).astype(np.float64)
        rows.append(measures(y, p))
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def worst_rise(v):
    """The largest amount by which any setting exceeds a lower one."""
    return max(v[j] - v[:j].min() for j in range(1, len(v)))


@pytest.fixture(scope="module")
def material():
    x = _demo()
    return {"demo": x, "loud_master": _mastered_loud(x)}


@pytest.mark.parametrize("genre", ["pop", "edm"])
@pytest.mark.parametrize("name", ["demo", "loud_master"])
def test_intensity_moves_range_tone_and_stereo_one_way(material, params, genre, name):
    """LRA, tonal distance and stereo treatment over intensity 0..10.  (The
    peak-to-loudness ratio is not asserted monotonic here: on the demo mix,
    whose sections differ by 6 LU, it still rises from 10.5 to 11.6 dB
    between intensity 1 and 10, because levelling the loud section lowers
    the integrated loudness faster than the limiter's drive lowers the
    peaks; issue 10, item 3, open.)"""
    s = sweep(material[name], params, genre)
    report = {k: np.round(v, 2).tolist() for k, v in s.items()}
    assert worst_rise(s["lra_lu"]) <= TOL, report
    assert worst_rise(s["distance_db"]) <= 0.05, report
    # width: the high band's side moves toward the preset's width only
    width = params(genre)[P.WIDTH]
    high = s["side_high_db"] * (1.0 if width < 1.0 else -1.0)
    assert worst_rise(high) <= TOL, report


@pytest.mark.parametrize("genre", ["pop", "edm", "classical"])
def test_a_loud_master_gets_no_more_crest_than_it_came_with(material, params, genre):
    """At every intensity the output's peak-to-loudness ratio and crest
    factor stay at or under the input's (+0.2 dB): the limiter keeps the
    programme's own density (before: a mastered track, PLR 11.6 dB, came
    out at 12.7 dB at every intensity).  Classical keeps a reserve under
    the target, and the peaks' cap is set above where its loudness is
    aimed, not above the target (with the target, lincity_01 came out with
    PLR 12.4 dB at intensity 1, from 11.6)."""
    x = material["loud_master"]
    s = sweep(x, params, genre)
    report = {k: np.round(v, 2).tolist() for k, v in s.items()}
    assert (s["plr_db"][1:] <= s["plr_db"][0] + TOL).all(), report
    assert (s["crest_db"][1:] <= s["crest_db"][0] + TOL).all(), report


def _sections(seconds=42.0):
    """The demo mix at one level (its second half is played louder: undone),
    with a passage 4 dB down from 12 to 30 s: a song whose quieter middle
    section returns to the opening's level."""
    x = _demo(seconds)
    x[len(x) // 2:] /= 1.6
    t = np.arange(len(x)) / FS
    env_db = np.interp(t, [0.0, 12.0, 12.5, 30.0, 30.5, seconds], [0, 0, -4, -4, 0, 0])
    return x * 10 ** (env_db / 20)[:, None]


@pytest.mark.parametrize("genre", ["pop", "edm"])
def test_the_return_after_a_quieter_passage_is_not_played_hot(params, genre):
    """At intensity 1 the loud return, once the 3 s window has seen it
    (34-40 s), comes out no hotter against the opening (7-12 s) than it
    went in (integrated loudness of each stretch, pyloudnorm; 0.6 LU
    allowed: the reference's 0.5 LU dead band, and 0.1): the reference the quieter passage drew down (its lift) climbs
    back with the programme.  Before, it climbed back at the genre's pace
    and the return played hot for seconds (here +1.4 dB over 34-40 s;
    fb_intro, pop: LRA 3.1 -> 3.5 LU at intensity 1)."""
    import pyloudnorm
    x = _sections()
    meter = pyloudnorm.Meter(FS)

    def rise(y):
        part = lambda a, b: meter.integrated_loudness(y[int(a * FS):int(b * FS)])  # noqa: E731
        return part(34.0, 40.0) - part(7.0, 12.0)

    y = Chain(FS, params(genre, 1.0)).process(x.astype(np.float32)).astype(np.float64)
    assert rise(y) <= rise(x) + 0.6, (rise(x), rise(y))


def test_the_loud_master_is_loud(material):
    """The test material is what it claims: PLR under 11 dB."""
    import pyloudnorm
    y = material["loud_master"][int(SKIP_S * FS):]
    assert _true_peak_db(y) - pyloudnorm.Meter(FS).integrated_loudness(y) < 11.0
