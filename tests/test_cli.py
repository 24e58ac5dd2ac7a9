"""The command line, through a real subprocess: good and bad input."""
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from conftest import true_peak_8x_dbtp


def mb(*args):
    return subprocess.run([sys.executable, "-m", "masterbox.firmware.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    from masterbox.firmware.demo import synth_mix
    d = tmp_path_factory.mktemp("cli")
    p = d / "mix.wav"
    sf.write(p, synth_mix(48000, 12.0), 48000, subtype="FLOAT")
    return p


def test_render_aligns_and_keeps_length_bit_exact_at_intensity_0(music, tmp_path):
    out = tmp_path / "o.wav"
    r = mb("render", music, out, "--intensity", 0)
    assert r.returncode == 0, r.stderr
    x, _ = sf.read(music, dtype="float32")
    y, _ = sf.read(out, dtype="float32")
    np.testing.assert_array_equal(y, x)          # same length, sample-aligned, untouched


def test_render_masters_and_prints_summary(music, tmp_path):
    out = tmp_path / "o.wav"
    png = tmp_path / "r.png"
    r = mb("render", music, out, "--genre", "rock", "--intensity", 6.5, "--target", "loud",
           "--report", png)
    assert r.returncode == 0, r.stderr
    assert "LUFS" in r.stdout and "dBTP" in r.stdout and "latency" in r.stdout
    y, fs = sf.read(out)
    assert true_peak_8x_dbtp(y) <= -1.0 + 0.05
    assert png.stat().st_size > 10000


def test_render_is_block_size_independent(music, tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    assert mb("render", music, a, "--block", 64).returncode == 0
    assert mb("render", music, b, "--block", 4096).returncode == 0
    np.testing.assert_array_equal(sf.read(a)[0], sf.read(b)[0])


def test_mono_and_pcm16_with_dither(tmp_path):
    from masterbox.firmware.demo import synth_mix
    src = tmp_path / "m.wav"
    sf.write(src, synth_mix(44100, 8.0)[:, 0], 44100, subtype="PCM_16")
    out = tmp_path / "o.wav"
    r = mb("render", src, out, "--pcm")
    assert r.returncode == 0, r.stderr
    info = sf.info(out)
    assert info.channels == 2 and info.subtype == "PCM_16" and info.frames == sf.info(src).frames
    y, _ = sf.read(out)
    assert true_peak_8x_dbtp(y) <= -1.0 + 0.05


def test_nan_content_is_processed_safely(tmp_path):
    x = (0.1 * np.random.default_rng(0).standard_normal((48000 * 3, 2))).astype(np.float32)
    x[1000:2000] = np.nan
    x[5000, 1] = np.inf
    src = tmp_path / "nan.wav"
    sf.write(src, x, 48000, subtype="FLOAT")
    out = tmp_path / "o.wav"
    r = mb("render", src, out)
    assert r.returncode == 0, r.stderr
    y, _ = sf.read(out)
    assert np.all(np.isfinite(y)) and true_peak_8x_dbtp(y) <= -1.0 + 0.05
    assert "NaN/Inf" in r.stdout


def _write(path, data, fs, **kw):
    sf.write(path, data, fs, **kw)
    return path


@pytest.mark.parametrize("case,expect", [
    ("missing", "no such file"),
    ("rate", "sample rate 22050 Hz is not supported"),
    ("channels", "3 channels"),
    ("empty", "no audio"),
    ("genre", "did you mean 'rock'"),
    ("target", "did you mean 'club'"),
    ("intensity", "intensity 11 is out of range"),
    ("notaudio", "cannot read audio"),
])
def test_bad_input_one_clear_line_exit_2(tmp_path, case, expect):
    good = _write(tmp_path / "g.wav", np.zeros((4800, 2)), 48000)
    args = {
        "missing": [tmp_path / "nope.wav"],
        "rate": [_write(tmp_path / "r.wav", np.zeros((2205, 2)), 22050)],
        "channels": [_write(tmp_path / "c.wav", np.zeros((4800, 3)), 48000)],
        "empty": [_write(tmp_path / "e.wav", np.zeros((0, 2)), 48000)],
        "genre": [good, "--genre", "rok"],
        "target": [good, "--target", "clubb"],
        "intensity": [good, "--intensity", "11"],
        "notaudio": [tmp_path / "t.wav"],
    }[case]
    if case == "notaudio":
        (tmp_path / "t.wav").write_text("hello")
    src, *rest = args
    r = mb("render", src, tmp_path / "o.wav", *rest)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0] and "Traceback" not in r.stderr


def test_presets_list_and_check(tmp_path):
    r = mb("presets")
    assert r.returncode == 0
    for g in ("pop", "hiphop", "edm", "rock", "acoustic", "jazz", "classical", "speech"):
        assert g in r.stdout
    d = tmp_path / "p"
    d.mkdir()
    (d / "mine.yaml").write_text("inherit: pop\nname: mine\nstereo:\n  width: 1.3\n")
    ok = mb("presets", "--check", d)
    assert ok.returncode == 0, ok.stderr
    (d / "bad.yaml").write_text("inherit: pop\nname: bad\nlimiter:\n  relase_ms: 50\n")
    bad = mb("presets", "--check", d)
    assert bad.returncode == 2 and "bad.yaml:4" in bad.stderr and "release_ms" in bad.stderr
