"""Golden renders: the safety net under every restructuring of dsp/.

A matrix of inputs x every built-in preset x intensities 0/3/5/10 x 44.1 and
48 kHz is rendered through ``dsp.Chain`` and each output's float32 bytes are
hashed.  ``tests/test_golden_dsp.py`` re-renders with several block sizes
and compares: a refactor must keep every hash; a deliberate change of sound
regenerates them in its own commit, saying why::

    .venv/bin/python tests/golden_dsp.py --write     # after a deliberate change

Inputs are built without transcendental numpy kernels whose last bit may
differ between numpy builds (SIMD ``np.sin``): Python's ``math`` and an IIR
filter run in plain float64.  Their own hashes are stored too, so a changed
*input* is reported as such, not as a changed chain.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HASH_FILE = HERE / "golden" / "dsp_hashes.json"
MUSIC_DIR = HERE / "golden" / "music"

RATES_HZ = (44100, 48000)
INTENSITIES = (0.0, 3.0, 5.0, 10.0)
TARGET_LUFS = -14.0
CEILING_DBTP = -1.0
# block sizes the test renders with; block 1 costs ~5 us of Python per frame,
# so it runs on the short signals only (SHORT_SIGNALS)
BLOCKS = (4096, 64)
SHORT_SIGNALS = ("step", "isp")


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.float32).tobytes()).hexdigest()[:20]


def _tone(fs, seconds, f_hz, amp, phase=0.0):
    n = int(round(seconds * fs))
    w = 2.0 * math.pi * f_hz / fs
    return np.array([amp * math.sin(w * i + phase) for i in range(n)])


def _pink(fs, seconds, seed):
    """White noise through Kellet's economy pinking filter (float64 loop)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((int(round(seconds * fs)), 2))
    out = np.empty_like(w)
    for ch in range(2):
        b0 = b1 = b2 = 0.0
        for i in range(w.shape[0]):
            v = w[i, ch]
            b0 = 0.99765 * b0 + v * 0.0990460
            b1 = 0.96300 * b1 + v * 0.2965164
            b2 = 0.57000 * b2 + v * 1.0526913
            out[i, ch] = b0 + b1 + b2 + v * 0.1848
    return out


def _sweep(fs, seconds, f0=20.0, f1=20000.0, amp=0.5):
    """Exponential sine sweep, L leading R by 90 degrees (a stereo signal)."""
    n = int(round(seconds * fs))
    k = math.log(f1 / f0)
    t_s = seconds
    x = np.empty((n, 2))
    for i in range(n):
        ph = 2.0 * math.pi * f0 * t_s / k * (math.exp(k * (i / fs) / t_s) - 1.0)
        x[i, 0] = amp * math.sin(ph)
        x[i, 1] = amp * math.cos(ph)
    return x


def _music(name: str):
    import soundfile as sf
    x, _ = sf.read(str(MUSIC_DIR / name), dtype="float32", always_2d=True)
    return x


def signals(fs: int) -> dict:
    """name -> float32 (N, 2) input at ``fs`` (music is taken sample for
    sample at either rate: the chain does not care where it came from)."""
    pink = _pink(fs, 4.0, seed=7)
    pink *= 0.1 / math.sqrt(np.mean(pink ** 2))            # -20 dBFS RMS
    # two tones stepping -30 -> -10 -> -30 dBFS (0.5 s each): compressor and
    # leveler attack/release, limiter onset
    lo = _tone(fs, 1.5, 100.0, 1.0)
    hi = _tone(fs, 1.5, 1000.0, 1.0, 0.3)
    env = np.full(lo.shape, 10 ** (-30 / 20))
    h = int(round(0.5 * fs))
    env[h:2 * h] = 10 ** (-10 / 20)
    step = np.stack([0.5 * env * (lo + hi), 0.5 * env * (lo - 0.7 * hi)], axis=1)
    # full-scale fs/4 tone at 45 degrees: +3 dB inter-sample peaks; then a
    # clipped square: the true-peak limiter's worst cases
    isp_tone = _tone(fs, 0.25, fs / 4.0, 1.0, math.pi / 4)
    sq = np.sign(_tone(fs, 0.25, 997.0, 1.0)) * 0.999
    isp = np.concatenate([np.stack([isp_tone, -isp_tone], 1), np.stack([sq, sq], 1)])
    out = {
        "music_mastered": _music("fb_main_mastered_6s.flac"),
        "music_quiet": _music("lincity_01_unmastered_6s.flac"),
        "pink": pink,
        "sweep": _sweep(fs, 4.0),
        "step": step,
        "isp": isp,
        "silence": np.zeros((fs, 2)),
    }
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def preset_params(presets, genre: str, intensity: float) -> np.ndarray:
    from masterbox.firmware import presets as pr
    return pr.chain_params(presets[genre], intensity, TARGET_LUFS, CEILING_DBTP)


def render(fs: int, params: np.ndarray, x: np.ndarray, block: int) -> np.ndarray:
    from masterbox.dsp import Chain
    ch = Chain(fs, params)
    out = np.empty_like(x)
    for s in range(0, x.shape[0], block):
        ch.process_into(x[s:s + block], out[s:s + block])
    return out


def key(sig: str, genre: str, intensity: float, fs: int) -> str:
    return f"{sig}|{genre}|{intensity:g}|{fs}"


def compute(block: int = 4096) -> dict:
    from masterbox.firmware import presets as pr
    presets = pr.load_presets()
    res = {"inputs": {}, "outputs": {}}
    for fs in RATES_HZ:
        for sig, x in signals(fs).items():
            res["inputs"][f"{sig}|{fs}"] = _digest(x)
            for genre in sorted(presets):
                for inten in INTENSITIES:
                    y = render(fs, preset_params(presets, genre, inten), x, block)
                    res["outputs"][key(sig, genre, inten, fs)] = _digest(y)
    return res


if __name__ == "__main__":
    if "--write" not in sys.argv:
        print(__doc__)
        sys.exit(2)
    os.environ.setdefault("NUMBA_CACHE_DIR", "/tmp/masterbox-test-numba")
    res = compute()
    HASH_FILE.write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(res['outputs'])} output hashes to {HASH_FILE}")
