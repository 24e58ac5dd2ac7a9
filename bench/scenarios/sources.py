"""Raw material for the scenarios: development music, espeak-ng speech and
synthetic signals (pink noise, tone bursts, kicks).  Everything is stereo
(N, 2) float32 at the caller's sample rate.  Nothing here touches the chain.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

DEFAULT_MUSIC_DIR = Path(os.environ.get("MASTERBOX_MUSIC",
                                        Path.home() / ".cache" / "masterbox-music"))
class MissingMaterial(RuntimeError):
    """The development music or espeak-ng is not there (says how to get it)."""


DEV_TRACKS = ("fb_duo", "fb_intro", "fb_main", "lincity_01", "lincity_02", "lincity_03")

# What the talk segments say.  Plain streamer chatter: sentences with the
# natural pauses between them, so the speech has the gaps real talk has.
TALK_TEXTS = (
    "Hello everybody, and welcome back to the stream. Thanks for joining tonight. "
    "I will play a few songs from the new record in a minute. Before that, a quick "
    "word about the next show. We are playing on Saturday, doors open at eight. "
    "Tickets are still available at the usual place.",
    "Okay, that was the first one. I hope you liked it as much as we do. "
    "Let me read a couple of messages from the chat. Someone asks which guitar "
    "that was. It is the old one, with the broken tuner. Another one wants the "
    "slow song next. All right, let us see what we can do.",
)


# ---------------------------------------------------------------- helpers
def stereo(x: np.ndarray) -> np.ndarray:
    """(N,) or (N, 1) or (N, 2) -> contiguous (N, 2) float32."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[1] == 1:
        x = np.repeat(x, 2, axis=1)
    return np.ascontiguousarray(x[:, :2])


def frames(dur_s: float, fs: int) -> int:
    return int(round(dur_s * fs))


def excerpt(src: np.ndarray, fs: int, start_s: float, dur_s: float) -> np.ndarray:
    """``dur_s`` of ``src`` from ``start_s``, looping the source if it is too short
    (a loop join is a 10 ms fade out and in, so it does not click)."""
    src = stereo(src)
    n = frames(dur_s, fs)
    s0 = frames(start_s, fs) % len(src)
    out = np.empty((n, 2), dtype=np.float32)
    pos = 0
    cur = s0
    xf = min(frames(0.01, fs), len(src) // 4)
    while pos < n:
        take = min(n - pos, len(src) - cur)
        out[pos:pos + take] = src[cur:cur + take]
        if pos > 0 and xf > 0:       # smooth the loop join
            ramp = np.linspace(0.0, 1.0, xf, dtype=np.float32)[:, None]
            k = min(xf, take)
            out[pos:pos + k] *= ramp[:k]
        pos += take
        cur = 0
        if pos < n and xf > 0:
            ramp = np.linspace(1.0, 0.0, xf, dtype=np.float32)[:, None]
            k = min(xf, pos)
            out[pos - k:pos] *= ramp[xf - k:]
    return out


def fit(src: np.ndarray, fs: int, dur_s: float) -> np.ndarray:
    """Exactly ``dur_s``: cut, or padded with digital silence (a talk that ends
    before its slot ends in a pause, not in a repeated sentence)."""
    src = stereo(src)
    n = frames(dur_s, fs)
    out = np.zeros((n, 2), dtype=np.float32)
    out[:min(n, len(src))] = src[:n]
    return out


def fade(x: np.ndarray, fs: int, in_s: float = 0.0, out_s: float = 0.0) -> np.ndarray:
    """Raised-cosine fade in / out (seconds)."""
    y = stereo(x).copy()
    for dur_s, rising in ((in_s, True), (out_s, False)):
        k = min(frames(dur_s, fs), len(y))
        if k <= 0:
            continue
        r = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, k))).astype(np.float32)[:, None]
        if rising:
            y[:k] *= r
        else:
            y[-k:] *= r[::-1]
    return y


def gain_ramp_db(x: np.ndarray, start_db: float, end_db: float) -> np.ndarray:
    """A gain ramp linear in dB over the whole of ``x``: a crescendo or a build-up."""
    g_db = np.linspace(start_db, end_db, len(x))
    return (stereo(x) * (10.0 ** (g_db / 20.0)).astype(np.float32)[:, None]).astype(np.float32)


def crossfade(a: np.ndarray, b: np.ndarray, fs: int, fade_s: float) -> np.ndarray:
    """DJ-style equal-power crossfade: the last ``fade_s`` of ``a`` overlaps the
    first ``fade_s`` of ``b``."""
    a = stereo(a)
    b = stereo(b)
    k = frames(fade_s, fs)
    th = np.linspace(0.0, np.pi / 2, k)
    mixed = a[-k:] * np.cos(th).astype(np.float32)[:, None] + b[:k] * np.sin(th).astype(np.float32)[:, None]
    return np.concatenate([a[:-k], mixed, b[k:]]).astype(np.float32)


def concat(*parts: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.concatenate([stereo(p) for p in parts]), dtype=np.float32)


def rms_dbfs(x: np.ndarray) -> float:
    """RMS over both channels, dB re full-scale amplitude 1.0 (a full-scale
    square wave reads 0 dBFS)."""
    p = float(np.mean(np.asarray(x, dtype=np.float64) ** 2))
    return 10.0 * np.log10(p) if p > 0 else -np.inf


# ---------------------------------------------------------------- synthetic
def pink_noise(dur_s: float, fs: int, level_dbfs: float = -20.0, seed: int = 0) -> np.ndarray:
    """Stereo pink noise (1/f power, independent channels); ``level_dbfs`` is its RMS."""
    n = frames(dur_s, fs)
    rng = np.random.default_rng(seed)
    spec = rng.standard_normal((n // 2 + 1, 2)) + 1j * rng.standard_normal((n // 2 + 1, 2))
    f = np.fft.rfftfreq(n, 1.0 / fs)
    shape = np.zeros_like(f)
    shape[1:] = 1.0 / np.sqrt(f[1:])
    shape[f < 20.0] = 0.0            # nothing below the audio band (no DC drift)
    x = np.fft.irfft(spec * shape[:, None], n=n, axis=0)
    x *= 10.0 ** (level_dbfs / 20.0) / np.sqrt(np.mean(x ** 2))
    return x.astype(np.float32)


def tone_bursts(dur_s: float, fs: int, freq_hz: float = 1000.0, on_s: float = 0.5,
                off_s: float = 0.5, peak_dbfs: float = -12.0) -> np.ndarray:
    """A sine switched on and off (5 ms ramps): a synthetic stand-in for speech
    with gaps, or a gated test signal."""
    n = frames(dur_s, fs)
    t = np.arange(n) / fs
    period = on_s + off_s
    env = ((t % period) < on_s).astype(np.float64)
    k = max(1, frames(0.005, fs))
    env = np.convolve(env, np.ones(k) / k, mode="same")
    x = 10.0 ** (peak_dbfs / 20.0) * env * np.sin(2 * np.pi * freq_hz * t)
    return stereo(x)


def kick(fs: int, peak_dbfs: float = -6.0) -> np.ndarray:
    """One electronic kick: a 150 -> 45 Hz exponential sweep with a 60 ms decay."""
    n = frames(0.3, fs)
    t = np.arange(n) / fs
    f_hz = 45.0 + 105.0 * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(f_hz) / fs
    x = np.sin(phase) * np.exp(-t / 0.06)
    x *= 10.0 ** (peak_dbfs / 20.0) / np.abs(x).max()
    return stereo(x)


def kick_train(dur_s: float, fs: int, period_s: float = 0.5, peak_dbfs: float = -6.0) -> np.ndarray:
    """A kick every ``period_s`` (120 BPM at 0.5 s), first one at t = 0."""
    n = frames(dur_s, fs)
    out = np.zeros((n, 2), dtype=np.float32)
    k = kick(fs, peak_dbfs)
    step = frames(period_s, fs)
    for s in range(0, n, step):
        e = min(n, s + len(k))
        out[s:e] += k[:e - s]
    return out


# ---------------------------------------------------------------- real material
def load_dev_music(music_dir=None, fs: int = 48000) -> dict:
    """{'mastered/NAME': x, 'unmastered/NAME': x} from get-dev-music.sh's directory.

    Raises MissingMaterial naming the script when the music is missing.
    """
    import soundfile as sf
    d = Path(music_dir) if music_dir else DEFAULT_MUSIC_DIR
    out = {}
    for kind in ("mastered", "unmastered"):
        for name in DEV_TRACKS:
            p = d / kind / f"{name}.wav"
            if not p.is_file():
                raise MissingMaterial(f"{p} missing: run ../shared/material/get-dev-music.sh {d} "
                                      "(../shared is optional: or put that music there some other way)")
            x, sr = sf.read(p, dtype="float32", always_2d=True)
            if sr != fs:
                raise ValueError(f"{p}: {sr} Hz, expected {fs}")
            out[f"{kind}/{name}"] = stereo(x)
    return out


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak_speech(text: str, fs: int, voice: str = "en-us", wpm: int = 160) -> np.ndarray:
    """Render ``text`` with espeak-ng and resample it to ``fs`` (dual mono)."""
    import soundfile as sf
    from scipy.signal import resample_poly
    if not have_espeak():
        raise MissingMaterial("espeak-ng not found: apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(wav), text],
                       check=True, capture_output=True)
        x, sr = sf.read(wav, dtype="float64", always_2d=True)
    g = np.gcd(int(fs), int(sr))
    y = resample_poly(x[:, 0], fs // g, sr // g)
    return stereo(y)
