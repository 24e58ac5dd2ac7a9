"""Integer output (--pcm, FLAC): TPDF dither, then rounded to the integer
grid by us, not truncated by libsndfile (issue 10, item 6).  Measured
against the float render of the same chain (bit-identical before dither)."""
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

FS = 48000


def mb(*args):
    return subprocess.run([sys.executable, "-m", "masterbox.firmware.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("subtype,bits", [("PCM_16", 16), ("PCM_24", 24)])
def test_dithered_integer_output_has_zero_mean_error_and_tpdf_noise(tmp_path, subtype, bits):
    x = 0.05 * np.random.default_rng(3).standard_normal((6 * FS, 2))
    src = tmp_path / "in.wav"
    sf.write(src, x, FS, subtype=subtype)
    r1 = mb("render", src, tmp_path / "float.wav", "--genre", "pop", "--intensity", 5)
    r2 = mb("render", src, tmp_path / "int.wav", "--genre", "pop", "--intensity", 5, "--pcm")
    assert r1.returncode == 0 and r2.returncode == 0, r1.stderr + r2.stderr
    y_float, _ = sf.read(tmp_path / "float.wav", dtype="float64")
    y_int, _ = sf.read(tmp_path / "int.wav", dtype="float64")
    assert sf.info(str(tmp_path / "int.wav")).subtype == subtype
    lsb = 2.0 ** (1 - bits)
    err = (y_int - y_float) / lsb            # in LSB
    # codes on the grid: every sample an integer number of LSB
    np.testing.assert_allclose(y_int / lsb, np.rint(y_int / lsb), atol=1e-6)
    assert abs(err.mean()) < 0.05, err.mean()
    # TPDF of +-1 LSB peak (variance 1/6) plus rounding (1/12): 1/4 LSB^2
    noise_db = 10 * np.log10(err.var() / 0.25)
    assert abs(noise_db) < 0.5, noise_db
