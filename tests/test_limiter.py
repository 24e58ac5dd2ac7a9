"""The true-peak promise: on any input, with intensity > 0, the output's
true peak (independent 8x meter) never exceeds the ceiling (+0.05 dB)."""
import numpy as np
import pytest
import soundfile as sf

from conftest import music_files, true_peak_8x_dbtp
from masterbox.dsp import Chain


def sig(name, fs):
    rng = np.random.default_rng(11)
    n = fs * 3
    t = np.arange(n) / fs
    if name == "fs4_sine_45deg_0dbfs":
        v = np.sqrt(2) * np.sin(2 * np.pi * fs / 4 * t + np.pi / 4)    # samples at +-1.0
        return np.stack([v, v], 1)
    if name == "full_scale_square":
        v = np.sign(np.sin(2 * np.pi * 1000 * t))
        return np.stack([v, -v], 1)
    if name == "square_near_nyquist":
        v = np.sign(np.sin(2 * np.pi * (fs / 2 - 500) * t + 0.3))
        return np.stack([v, v], 1)
    if name == "white_noise_-6dbfs":
        return 0.5 * rng.standard_normal((n, 2))
    if name == "dc_offset":
        return np.full((n, 2), 0.9) + 0.05 * rng.standard_normal((n, 2))
    if name == "single_impulse":
        x = np.zeros((n, 2))
        x[fs] = 1.0
        return x
    if name == "level_jumps_-40_to_0":
        x = 0.01 * rng.standard_normal((n, 2))
        x[fs:2 * fs] *= 100
        x[2 * fs + 100:2 * fs + 200] = 1.0
        return x
    if name == "hot_sine_+6dbfs":
        v = 2.0 * np.sin(2 * np.pi * 997 * t)
        return np.stack([v, v], 1)
    raise KeyError(name)


SIGNALS = ["fs4_sine_45deg_0dbfs", "full_scale_square", "square_near_nyquist", "white_noise_-6dbfs",
           "dc_offset", "single_impulse", "level_jumps_-40_to_0", "hot_sine_+6dbfs"]


@pytest.mark.parametrize("fs", [48000, 44100])
@pytest.mark.parametrize("name", SIGNALS)
def test_adversarial_signals_stay_under_ceiling(params, name, fs):
    x = sig(name, fs).astype(np.float32)
    for intensity, ceiling in ((5.0, -1.0), (0.5, -1.0), (10.0, -0.1)):
        y = Chain(fs, params("edm", intensity, ceiling=ceiling)).process(x)
        assert true_peak_8x_dbtp(y) <= ceiling + 0.05, (name, intensity, ceiling)


@pytest.mark.parametrize("genre,target", [("pop", -14.0), ("edm", -9.0), ("classical", -23.0)])
def test_music_stays_under_ceiling(params, genre, target):
    files = music_files()
    if not files:
        # no dev music on this machine: a synthetic mix stands in
        from masterbox.firmware.demo import synth_mix
        mixes = [(synth_mix(48000, 20.0), 48000)]
    else:
        mixes = [sf.read(f, dtype="float32") for f in files[:3]]
    for x, fs in mixes:
        y = Chain(fs, params(genre, 5.0, target=target)).process(x)
        assert true_peak_8x_dbtp(y) <= -1.0 + 0.05


def test_limiter_reports_gain_reduction(params):
    x = sig("hot_sine_+6dbfs", 48000).astype(np.float32)
    ch = Chain(48000, params(intensity=5.0))
    panel, status = ch.gr_reader(), ch.gr_reader()
    ch.process(x[:48000])
    a, b = ch.snapshot(), ch.snapshot()
    assert a.limiter_gr_max_db > 1.0
    assert a == b                                  # reading changes nothing
    # each reader sees the GR since *its* last read, whoever read before
    first = panel.max_since_last_read_db()
    assert first > 1.0
    assert status.max_since_last_read_db() == first
    ch.process(np.zeros((48000, 2), dtype=np.float32))   # silence: no GR
    # 1 s later the window still holds the tail of the sine's limiting for
    # the snapshot, but a reader's "since my last read" restarts
    assert panel.max_since_last_read_db() < first
    assert status.max_since_last_read_db() < first
