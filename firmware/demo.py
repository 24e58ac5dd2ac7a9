"""`make demo`: master a synthesized mix at three settings; no hardware, no downloads.

The mix is made in code (drums, bass, chords, a voice-like lead), mixed the
way an unmastered rehearsal recording arrives: quiet (about -24 LUFS), dull
and with loose dynamics.
"""
from __future__ import annotations

import argparse
import os

import numpy as np


def synth_mix(fs: int = 48000, seconds: float = 24.0, seed: int = 7) -> np.ndarray:
    """A stereo multi-instrument mix, float32 (N, 2)."""
    rng = np.random.default_rng(seed)
    n = int(fs * seconds)
    t = np.arange(n) / fs
    out = np.zeros((n, 2))
    bpm = 120.0
    beat = 60.0 / bpm
    # drums: kick (pitch-swept sine), snare (noise + tone), hats (high noise)
    for k in range(int(seconds / beat)):
        s = int(k * beat * fs)
        m = min(n - s, int(0.4 * fs))
        tt = np.arange(m) / fs
        kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-tt * 30)) * tt) * np.exp(-tt * 8)
        out[s:s + m] += 0.5 * kick[:, None]
        if k % 2 == 1:
            sn = (0.3 * rng.standard_normal(m) + 0.2 * np.sin(2 * np.pi * 190 * tt)) * np.exp(-tt * 18)
            out[s:s + m, 0] += 0.35 * sn
            out[s:s + m, 1] += 0.3 * sn
        for h in (0, 1):
            hs = s + int(h * beat / 2 * fs)
            hm = min(n - hs, int(0.05 * fs))
            if hm > 0:
                hat = np.diff(rng.standard_normal(hm + 1)) * np.exp(-np.arange(hm) / fs * 80)
                out[hs:hs + hm, 1] += 0.05 * hat
                out[hs:hs + hm, 0] += 0.03 * hat
    # bass: saw-ish, following a 4-bar progression
    roots = [55.0, 43.65, 49.0, 41.2]
    bar = 4 * beat
    idx = (t // bar).astype(int) % 4
    f_bass = np.take(roots, idx)
    ph = np.cumsum(f_bass) / fs
    saw = 2 * (ph % 1.0) - 1
    bass = np.convolve(saw, np.ones(24) / 24, mode="same")
    out += 0.25 * bass[:, None]
    # chords: detuned triads, slow attack, panned
    for j, ratio in enumerate((1.0, 1.26, 1.5)):
        for det, pan in ((0.997, 0.3), (1.003, 0.7)):
            f = np.take(roots, idx) * 4 * ratio * det
            pad = np.sin(2 * np.pi * np.cumsum(f) / fs)
            env = np.minimum(1.0, (t % bar) / 0.3)
            out[:, 0] += 0.04 * pad * env * (1 - pan)
            out[:, 1] += 0.04 * pad * env * pan
    # lead: pulse through two formant resonances, vibrato, phrases
    vib = 1 + 0.006 * np.sin(2 * np.pi * 5.5 * t)
    melody = np.take([220.0, 246.9, 261.6, 293.7, 329.6, 293.7, 261.6, 246.9],
                     (t // (beat * 2)).astype(int) % 8)
    ph = np.cumsum(melody * vib) / fs
    pulse = (ph % 1.0 < 0.2).astype(float) - 0.2
    from scipy.signal import lfilter
    voice = np.zeros(n)
    for fc, bw in ((700.0, 130.0), (1200.0, 180.0)):
        r = np.exp(-np.pi * bw / fs)
        voice += lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * fc / fs), r * r], pulse)
    phrase = (np.sin(2 * np.pi * t / (8 * beat)) > -0.3).astype(float)
    phrase = np.convolve(phrase, np.ones(int(0.05 * fs)) / int(0.05 * fs), mode="same")
    out += 0.4 * (voice * phrase)[:, None]
    # the second half is played louder, as bands do
    out[n // 2:] *= 1.6
    out *= 10 ** (-20 / 20)     # about -24 LUFS: an unmastered feed
    return out.astype(np.float32)


SETTINGS = [("pop", 5.0, "stream"), ("edm", 8.0, "club"), ("acoustic", 3.0, "apple")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="demo-out")
    ap.add_argument("--seconds", type=float, default=24.0)
    a = ap.parse_args(argv)
    import soundfile as sf

    from masterbox import dsp

    from .cli import main as cli_main
    os.makedirs(a.out, exist_ok=True)
    src = os.path.join(a.out, "demo-mix.wav")
    sf.write(src, synth_mix(48000, a.seconds), 48000, subtype="FLOAT")
    print(f"synthesized {src} ({a.seconds:g} s: drums, bass, chords, voice-like lead)")
    print(f"compiling kernels ... {dsp.warmup():.1f} s")
    for genre, intensity, target in SETTINGS:
        stem = os.path.join(a.out, f"demo-{genre}-{intensity:g}")
        rc = cli_main(["render", src, stem + ".wav", "--genre", genre, "--intensity", str(intensity),
                       "--target", target, "--report", stem + ".png"])
        if rc != 0:
            return rc
    print(f"done: listen to {a.out}/*.wav, look at {a.out}/*.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
