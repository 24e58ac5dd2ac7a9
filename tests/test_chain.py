"""The whole chain: transparency, block-size independence, bad input,
click-free changes, latency."""
import numpy as np
import pytest
from scipy import signal

from conftest import true_peak_8x_dbtp
from masterbox.dsp import Chain
from masterbox.dsp import params as P

FS = 48000


def noise(seconds, level=0.1, seed=0, fs=FS):
    return (level * np.random.default_rng(seed).standard_normal((int(seconds * fs), 2))).astype(np.float32)


def run_blocks(chain, x, sizes):
    out = np.empty_like(x)
    s = 0
    k = 0
    while s < len(x):
        n = min(int(sizes[k % len(sizes)]), len(x) - s)
        chain.process_into(x[s:s + n], out[s:s + n])
        s += n
        k += 1
    return out


def test_latency_is_fixed_small_and_reported(params):
    ch = Chain(FS, params(intensity=0.0))
    assert ch.latency_samples / FS * 1000 <= 2.0
    assert ch.latency_ms == pytest.approx(1000 * ch.latency_samples / FS)
    x = np.zeros((1000, 2), dtype=np.float32)
    x[100] = 0.5
    y = ch.process(x)
    assert np.argmax(np.abs(y[:, 0])) == 100 + ch.latency_samples


@pytest.mark.parametrize("fs", [44100, 48000, 88200, 96000])
def test_intensity_zero_is_bit_exact_delay(params, fs):
    x = noise(1.0, level=0.5, fs=fs)
    x[1000:1100] = 1.5        # even above full scale: untouched
    ch = Chain(fs, params(intensity=0.0))
    y = ch.process(x)
    lat = ch.latency_samples
    np.testing.assert_array_equal(y[lat:], x[:-lat])
    assert np.all(y[:lat] == 0)


def test_streaming_equals_batch_for_random_block_sizes(params):
    x = noise(4.0, level=0.3, seed=1)
    x[FS:FS + 2000] *= 8          # drive the limiter and compressor
    one = Chain(FS, params("edm", 8.0)).process(x)
    sizes = np.random.default_rng(2).integers(1, 4097, size=64)
    many = run_blocks(Chain(FS, params("edm", 8.0)), x, sizes)
    np.testing.assert_array_equal(many, one)
    ones = run_blocks(Chain(FS, params("edm", 8.0)), x[:20000], [1])
    np.testing.assert_array_equal(ones, one[:20000])


def test_nan_inf_input_gives_finite_output_under_ceiling(params):
    x = noise(2.0, level=0.3, seed=3)
    x[5000:5100, 0] = np.nan
    x[9000, 1] = np.inf
    x[9001, 1] = -np.inf
    x[20000:] = np.nan
    ch = Chain(FS, params())
    y = ch.process(x)
    assert np.all(np.isfinite(y))
    assert true_peak_8x_dbtp(y) <= -1.0 + 0.05
    assert ch.snapshot().nonfinite_samples == 100 + 2 + 2 * (len(x) - 20000)
    # and the chain recovers: good audio after the bad stretch is processed
    y2 = ch.process(noise(2.0, level=0.3, seed=4))
    assert np.all(np.isfinite(y2)) and np.std(y2[FS:]) > 0.01


def test_silence_stays_silent_and_noise_floor_is_not_lifted(params):
    ch = Chain(FS, params(intensity=10.0))
    y = ch.process(np.zeros((FS * 2, 2), dtype=np.float32))
    assert np.all(y == 0)
    floor = noise(12.0, level=10 ** (-80 / 20), seed=5)      # -80 dBFS
    ch = Chain(FS, params(intensity=10.0))
    y = ch.process(floor)
    assert ch.snapshot().leveler_gain_db == 0.0               # the leveler froze
    # what remains is the tonal EQ (shelves doubled at intensity 10): < 4 dB
    gain_db = 20 * np.log10(np.std(y[6 * FS:]) / np.std(floor[6 * FS:]))
    assert gain_db < 4.0


def test_genre_change_settles_between_50_and_500_ms(params):
    ch = Chain(FS, params("pop"))
    x = noise(1.0, seed=6)
    ch.process(x[:FS // 2])
    ch.targets[:] = params("speech")
    goal = params("speech")
    moved = []
    for k in range(10):                       # 10 x 50 ms
        ch.process(x[:FS // 20])
        cur = ch.inspect("eq", "cur")
        moved.append(abs(cur[P.SUBSONIC_HZ] - goal[P.SUBSONIC_HZ]))
    start = abs(params("pop")[P.SUBSONIC_HZ] - goal[P.SUBSONIC_HZ])
    assert moved[0] > 0.05 * start            # not a jump (still moving after 50 ms)
    assert moved[-1] < 0.01 * start           # settled by 500 ms


def hf_energy(y, fs=FS, win=480):
    sos = signal.butter(8, 12000, "highpass", fs=fs, output="sos")
    h = signal.sosfilt(sos, y.astype(np.float64), axis=0)
    e = (h ** 2).sum(axis=1)
    return np.add.reduceat(e, np.arange(0, len(e), win))


@pytest.mark.parametrize("change", ["genre", "intensity", "target", "bypass", "ceiling"])
def test_parameter_changes_are_click_free(params, change):
    """Input band-limited below 3 kHz: a step or click in the output would
    show as energy above 12 kHz.  Around the change there is no more of it
    than in steady state, and no sample-to-sample jump beyond the programme's."""
    rng = np.random.default_rng(7)
    lp = signal.butter(8, 3000, fs=FS, output="sos")
    x = signal.sosfilt(lp, 0.2 * rng.standard_normal((FS * 8, 2)), axis=0).astype(np.float32)
    ch = Chain(FS, params("pop", 5.0))
    t_change = 6 * FS
    y1 = ch.process(x[:t_change])
    new = {"genre": params("edm", 5.0), "intensity": params("pop", 9.0),
           "target": params("pop", 5.0, target=-9.0), "ceiling": params("pop", 5.0, ceiling=-3.0),
           "bypass": params("pop", 5.0)}[change]
    if change == "bypass":
        new[P.BYPASS] = 1.0
    ch.targets[:] = new
    y2 = ch.process(x[t_change:])
    y = np.vstack([y1, y2])
    e = hf_energy(y)
    programme = np.add.reduceat((y.astype(np.float64) ** 2).sum(axis=1), np.arange(0, len(y), 480))
    i0 = t_change // 480
    steady = np.median(e[i0 - 80:i0 - 5])
    around = e[i0 - 2:i0 + 60]               # 20 ms before .. 600 ms after
    # a click from a coefficient or gain step sits 20-40 dB below the
    # programme; allow nothing above -70 dB re. programme (or steady state)
    assert np.max(around) <= max(10 * steady, 1e-7 * np.median(programme[i0 - 80:i0 + 60]))
    d = np.abs(np.diff(y, axis=0)).max(axis=1)
    assert d[t_change - 200:t_change + FS // 2].max() <= 1.5 * d[FS:t_change - 200].max()


def test_bypass_is_latency_matched_and_crossfaded(params):
    x = noise(1.0, seed=8)
    ch = Chain(FS, params())
    ch.targets[P.BYPASS] = 1.0
    y = ch.process(x)
    lat = ch.latency_samples
    # the compensator's run-in, two crossfades and its morph (stages.mix),
    # then bit exact
    from masterbox.dsp.stages import mix
    ramp = int((mix.WARM_MS + 2 * mix.RAMP_MS + mix.MORPH_MS) * 1e-3 * FS) + 2 * 32
    np.testing.assert_array_equal(y[lat + ramp:], x[ramp:-lat])


def test_target_and_intensity_move_loudness(params):
    import pyloudnorm
    x = noise(20.0, level=0.03, seed=9)
    out = {}
    for t in (-23.0, -16.0, -12.0):
        y = Chain(FS, params(target=t)).process(x)
        out[t] = pyloudnorm.Meter(FS).integrated_loudness(y[10 * FS:].astype(np.float64))
        assert out[t] == pytest.approx(t, abs=1.0)


def test_unsupported_rate_rejected(params):
    with pytest.raises(ValueError, match="unsupported sample rate"):
        Chain(22050, params())


def test_loudness_holds_on_a_long_steady_programme(params):
    """60 s of steady noise: once settled (40-50 s and 50-60 s) the output
    loudness (pyloudnorm) is on target within 1 LU and the two windows
    differ by less than 0.5 LU: the leveler's feedback trim settles instead
    of wandering off (its long-term output power must converge).  (Today
    the trim overshoots by ~1 LU around 20-30 s before settling; issue 9.)"""
    import pyloudnorm
    x = noise(60.0, level=0.03, seed=11)
    y = Chain(FS, params(target=-16.0)).process(x).astype(np.float64)
    m = pyloudnorm.Meter(FS)
    a = m.integrated_loudness(y[40 * FS:50 * FS])
    b = m.integrated_loudness(y[50 * FS:])
    assert a == pytest.approx(-16.0, abs=1.0)
    assert b == pytest.approx(-16.0, abs=1.0)
    assert abs(b - a) < 0.5, (a, b)
