"""Genre tone and the intensity knob, measured on the development music
(issue 10, items 2 and 3).

For each track x preset x intensity 0..10 the chain renders the track
(as ``masterbox render`` does) and the output is measured by independent
tools: octave-band levels by FFT (Hann, 8192, summed per band, mean
removed), distance to the preset's target = RMS over the 10 bands of
(level - target), both shapes mean-removed; peak-to-loudness ratio =
8x-oversampled true peak (scipy) - integrated loudness (pyloudnorm); crest
factor = sample peak / RMS; LRA (EBU 3342, our meter, checked against the
EBU tables in tests/test_meters.py); stereo side/mid energy ratio, full
band (it moves with the tone: the side's spectrum is not the mid's) and
the stereo treatment proper: side/mid per octave band (an EQ acting alike
on both channels leaves it alone), averaged in dB over the octaves wholly
below the preset's low crossover (mono bass acts there) and over those
wholly above twice it (the width acts there).  The first 15 s are skipped
(the adaptive EQ's and the leveler's settling).

    python bench/tone.py [--music DIR] [--out docs/quality-report] [--quick]

Writes ``tone.json`` and ``tone.md`` (table) and one figure per track
(``intensity-<track>.png``: each measure over intensity 0..10).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GENRES = ("pop", "rock", "edm", "hiphop", "jazz", "acoustic", "classical")
SKIP_S = 15.0


def octave_levels(y, fs):
    """FFT octave-band levels, mean removed: the quality report's measure."""
    from report import octaves
    return octaves(y, fs)


def tp8_db(y):
    from scipy.signal import resample_poly
    up = resample_poly(y, 8, 1, axis=0, window=("kaiser", 10.0))
    return 20 * np.log10(np.abs(up).max() + 1e-30)


def side_mid_bands(seg, fs, xo_hz):
    """(low, high): side/mid (dB) per octave band, averaged over the octaves
    below ``xo_hz`` and over those above 2 x ``xo_hz`` (Welch, Hann 8192)."""
    from scipy import signal
    from masterbox.dsp.design import OCTAVE_CENTRES_HZ
    mid = 0.5 * (seg[:, 0] + seg[:, 1])
    side = 0.5 * (seg[:, 0] - seg[:, 1])
    f, pm = signal.welch(mid, fs, nperseg=8192)
    _, ps = signal.welch(side, fs, nperseg=8192)
    low, high = [], []
    for c in OCTAVE_CENTRES_HZ:
        lo, hi = c / 2 ** 0.5, c * 2 ** 0.5
        sel = (f >= lo) & (f < hi)
        r = 10 * np.log10((ps[sel].sum() + 1e-30) / (pm[sel].sum() + 1e-30))
        if hi <= xo_hz:
            low.append(r)
        elif lo >= 2 * xo_hz and hi <= 0.45 * fs:
            high.append(r)
    return float(np.mean(low)), float(np.mean(high))


def measure(y, fs, target, xo_hz=120.0):
    import pyloudnorm
    from masterbox.dsp import LoudnessMeter
    seg = y[int(SKIP_S * fs):].astype(np.float64)
    oct_db = octave_levels(seg, fs)
    t = np.asarray(target) - np.mean(target)
    lufs = pyloudnorm.Meter(fs).integrated_loudness(seg)
    m = LoudnessMeter(fs)
    m.process(seg.astype(np.float32))
    mid = 0.5 * (seg[:, 0] + seg[:, 1])
    side = 0.5 * (seg[:, 0] - seg[:, 1])
    return {
        "octaves_db": [round(float(v), 2) for v in oct_db],
        "distance_db": float(np.sqrt(np.mean((oct_db - t) ** 2))),
        "band_error_db": [round(float(v), 2) for v in oct_db - t],
        "plr_db": float(tp8_db(seg) - lufs),
        "crest_db": float(20 * np.log10(np.abs(seg).max() / np.sqrt(np.mean(seg ** 2)))),
        "lra_lu": float(m.lra_lu),
        "side_mid_db": float(10 * np.log10(np.mean(side ** 2) / (np.mean(mid ** 2) + 1e-30) + 1e-30)),
        "lufs": float(lufs),
        **dict(zip(("side_low_db", "side_high_db"), side_mid_bands(seg, fs, xo_hz))),
    }


def run_one(args):
    path, genre, intensity = args
    import soundfile as sf
    from masterbox.dsp.chain import Chain
    from masterbox.firmware.presets import chain_params, load_presets
    x, fs = sf.read(path, dtype="float32", always_2d=True)
    p = chain_params(load_presets()[genre], intensity, -14.0, -1.0)
    from masterbox.dsp import params as P
    target = p[P.TARGET_SPECTRUM:P.TARGET_SPECTRUM + 10].copy()
    y = Chain(fs, p).process(x)
    r = measure(y, fs, target, float(p[P.XOVER_HZ]))
    r.update(track=Path(path).stem, genre=genre, intensity=intensity)
    return r


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--music", default=os.path.expanduser("~/.cache/masterbox-music/unmastered"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "quality-report"))
    ap.add_argument("--quick", action="store_true", help="intensities 0, 5, 10 only")
    ap.add_argument("--genres", default=",".join(GENRES))
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    tracks = sorted(Path(a.music).glob("*.wav"))
    if not tracks:
        print(f"no development music in {a.music}: run ../shared/material/get-dev-music.sh "
              "(../shared is optional: without it this table cannot be made)", file=sys.stderr)
        return 2
    inten = [0.0, 5.0, 10.0] if a.quick else [float(i) for i in range(11)]
    jobs = [(str(t), g, i) for t in tracks for g in a.genres.split(",") for i in inten]
    with ProcessPoolExecutor(a.jobs) as ex:
        rows = list(ex.map(run_one, jobs))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tone.json").write_text(json.dumps(rows, indent=1))
    report(rows, out, inten)
    return 0


def report(rows, out, inten):
    by = {(r["track"], r["genre"], r["intensity"]): r for r in rows}
    tracks = sorted({r["track"] for r in rows})
    genres = [g for g in GENRES if any(r["genre"] == g for r in rows)]
    lines = ["# Tone and intensity on the development music", "",
             "Octave-band distance to the genre target (dB RMS over 10 bands, shapes "
             "mean-removed) at intensity 0 (= the input) and the share it shrinks by at "
             "5 and 10; worst band overshoot past the target; measured by bench/tone.py.", "",
             "| track | genre | distance in | shrink @5 | shrink @10 | grows at | overshoot dB |",
             "|---|---|---|---|---|---|---|"]
    for t in tracks:
        for g in genres:
            d0 = by[(t, g, 0.0)]["distance_db"]
            sh = {i: 1 - by[(t, g, i)]["distance_db"] / d0 for i in inten if i > 0}
            grows = [i for i in inten if i > 0 and by[(t, g, i)]["distance_db"] > d0 + 0.05]
            e0 = np.array(by[(t, g, 0.0)]["band_error_db"])
            over = 0.0
            for i in inten:
                e = np.array(by[(t, g, i)]["band_error_db"])
                crossed = np.sign(e) != np.sign(e0)
                if crossed.any():
                    over = max(over, float(np.abs(e[crossed]).max()))
            lines.append(f"| {t} | {g} | {d0:.2f} | {100 * sh.get(5.0, float('nan')):.0f} % | "
                         f"{100 * sh.get(10.0, float('nan')):.0f} % | "
                         f"{','.join(f'{i:g}' for i in grows) or '-'} | {over:.2f} |")
    lines += ["", "## Intensity: each measure over 0..10", "",
              "| track | genre | PLR dB | crest dB | LRA LU | distance dB | side/mid dB | "
              "side/mid below xo dB | side/mid above 2 xo dB |",
              "|---|---|---|---|---|---|---|---|---|"]
    for t in tracks:
        for g in genres:
            seq = [by[(t, g, i)] for i in inten]
            cell = lambda k: " ".join(f"{r[k]:.1f}" for r in seq)  # noqa: E731
            lines.append(f"| {t} | {g} | {cell('plr_db')} | {cell('crest_db')} | {cell('lra_lu')} | "
                         f"{cell('distance_db')} | {cell('side_mid_db')} | {cell('side_low_db')} | "
                         f"{cell('side_high_db')} |")
    (out / "tone.md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    keys = [("plr_db", "PLR (dB)"), ("crest_db", "crest (dB)"), ("lra_lu", "LRA (LU)"),
            ("distance_db", "tonal distance (dB)"), ("side_low_db", "side/mid below xo (dB)"),
            ("side_high_db", "side/mid above 2 xo (dB)")]
    for t in tracks:
        fig, axs = plt.subplots(1, len(keys), figsize=(18, 3.4))
        for ax, (k, label) in zip(axs, keys):
            for g in genres:
                ax.plot(inten, [by[(t, g, i)][k] for i in inten], "o-", ms=3, label=g)
            ax.set(title=label, xlabel="intensity")
        axs[0].legend(fontsize=7)
        fig.suptitle(t)
        fig.tight_layout()
        fig.savefig(out / f"intensity-{t}.png", dpi=80)
        plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
