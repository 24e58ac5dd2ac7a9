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
wholly above twice it (the width acts there), over the whole excerpt and
as the median over 2 s windows.  The two differ where a track's width
changes between passages: the whole-excerpt figure is energy-weighted, so
levelling, which changes the passages' weights, moves it although the
side at each moment moved with the width (fb_intro: whole -8.55 dB at
intensity 0, -9.22 at 1 on rock, while the median of its windows rose
from -18.49 to -18.37); the windowed one is the stereo treatment.  The
first 15 s are skipped (the adaptive EQ's and the leveler's settling).

    python bench/tone.py [--music DIR] [--out docs/quality-report] [--quick] [--report-only]

Writes ``tone.json`` (every row), ``tone.meta.json`` (commit and date),
``tone.md`` (issue 10's bars counted from the rows, with every failing
pair, then the tables) and one figure per track (``intensity-<track>.png``:
each measure over intensity 0..10).  ``--report-only`` re-makes tone.md and
the figures from an existing tone.json.
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


WINDOW_S = 2.0
QUIET_DBFS = -70.0          # windows whose mid is quieter hold no stereo to measure


def side_mid_windowed(seg, fs, xo_hz):
    """(low, high) as ``side_mid_bands``, per WINDOW_S window, median over
    the windows (the treatment at each moment, not energy-weighted)."""
    n = int(WINDOW_S * fs)
    lows, highs = [], []
    for s in range(0, len(seg) - n + 1, n):
        w = seg[s:s + n]
        mid = 0.5 * (w[:, 0] + w[:, 1])
        if 10 * np.log10(np.mean(mid ** 2) + 1e-30) < QUIET_DBFS:
            continue
        lo, hi = side_mid_bands(w, fs, xo_hz)
        lows.append(lo)
        highs.append(hi)
    if not lows:
        return float("nan"), float("nan")
    return float(np.median(lows)), float(np.median(highs))


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
        **dict(zip(("side_low_win_db", "side_high_win_db"), side_mid_windowed(seg, fs, xo_hz))),
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
    ap.add_argument("--report-only", action="store_true",
                    help="re-make tone.md and the figures from an existing tone.json")
    a = ap.parse_args(argv)
    out = Path(a.out)
    if a.report_only:
        try:
            rows = json.loads((out / "tone.json").read_text())
        except (OSError, ValueError) as e:
            print(f"cannot read {out / 'tone.json'}: {e}", file=sys.stderr)
            return 2
        try:
            report(rows, out, sorted({r["intensity"] for r in rows}))
        except (KeyError, TypeError) as e:
            print(f"{out / 'tone.json'} is not bench/tone.py's rows (missing {e})", file=sys.stderr)
            return 2
        return 0
    tracks = sorted(Path(a.music).glob("*.wav"))
    if not tracks:
        print(f"no development music in {a.music}: run ../shared/material/get-dev-music.sh "
              "(../shared is optional: without it this table cannot be made)", file=sys.stderr)
        return 2
    inten = [0.0, 5.0, 10.0] if a.quick else [float(i) for i in range(11)]
    jobs = [(str(t), g, i) for t in tracks for g in a.genres.split(",") for i in inten]
    with ProcessPoolExecutor(a.jobs) as ex:
        rows = list(ex.map(run_one, jobs))
    out.mkdir(parents=True, exist_ok=True)
    (out / "tone.json").write_text(json.dumps(rows, indent=1))
    (out / "tone.meta.json").write_text(json.dumps(run_meta(), indent=1))
    report(rows, out, inten)
    return 0


def run_meta() -> dict:
    """When and on what the rows were rendered: the commit (with "+dirty"
    when the tree had changes) and the date."""
    import datetime
    import subprocess

    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no", "--", "dsp", "firmware/presets"):
        commit += "+dirty"
    return {"commit": commit, "date": datetime.date.today().isoformat()}


NOISE = 0.2             # dB / LU of measurement noise the issue allows
EPS = 1e-9              # LRA comes in 0.05 LU steps: a 0.2 rise is allowed


def rise(seq, up_is_worse=True):
    """How far a value moves the wrong way past an earlier one: the largest
    rise above the minimum so far (or fall below the maximum so far)."""
    worst = 0.0
    for j in range(1, len(seq)):
        if up_is_worse:
            worst = max(worst, seq[j] - min(seq[:j]))
        else:
            worst = max(worst, max(seq[:j]) - seq[j])
    return worst


def overshoot(by, t, g, inten):
    """The furthest any band ends up past the target on the side it did
    not start on (dB; 0 when none crosses), over the intensities."""
    e0 = np.array(by[(t, g, 0.0)]["band_error_db"])
    over = 0.0
    for i in inten:
        e = np.array(by[(t, g, i)]["band_error_db"])
        crossed = np.sign(e) != np.sign(e0)
        if crossed.any():
            over = max(over, float(np.abs(e[crossed]).max()))
    return over


def lowest_band_away(by, t, g, inten):
    """How much further from the target the lowest octave ends up than it
    started (dB; issue 10: the subsonic filter and mono bass once pulled
    31.5 Hz from -12.0 to -17.5 dB re target), over the intensities."""
    e0 = abs(by[(t, g, 0.0)]["band_error_db"][0])
    return max(abs(by[(t, g, i)]["band_error_db"][0]) - e0 for i in inten)


def stereo_directions(genre):
    """The way the preset's stereo treatment moves each side/mid measure as
    intensity rises: (low, high), each +1 (grows), -1 (falls) or 0 (the
    preset does not treat it: no direction to hold)."""
    from masterbox.firmware.presets import load_presets
    st = load_presets()[genre].data["stereo"]
    low = -1 if st["mono_bass"] > 0 else 0
    high = 1 if st["width"] > 1 else (-1 if st["width"] < 1 else 0)
    return low, high


def bars(by, tracks, genres, inten):
    """Issue 10's bars, counted from the rows: one line per bar, with every
    pair that fails and by how much."""
    out = []
    pairs = [(t, g) for t in tracks for g in genres]

    def tally(name, fails, of):
        # fails: (track, genre) -> (sort key, text)
        worst = ", ".join(f"{g} {t} {txt}" for (t, g), (_, txt) in
                          sorted(fails.items(), key=lambda kv: -kv[1][0]))
        out.append(f"- {name}: holds on {of - len(fails)} of {of}" + (f"; fails on {worst}" if fails else ""))

    for key, label in (("distance_db", "tonal distance never grows"),
                       ("plr_db", "PLR non-increasing"), ("crest_db", "crest factor non-increasing"),
                       ("lra_lu", "LRA non-increasing")):
        fails = {}
        for t, g in pairs:
            r = rise([by[(t, g, i)][key] for i in inten])
            if r > NOISE + EPS:
                fails[(t, g)] = (r, f"{r:+.2f}")
        tally(f"{label} (0..10)", fails, len(pairs))
    fails = {}
    for t, g in pairs:
        r = rise([by[(t, g, i)]["lra_lu"] for i in inten if i >= 1])
        if r > NOISE + EPS:
            fails[(t, g)] = (r, f"{r:+.2f}")
    tally("LRA non-increasing from intensity 1 up", fails, len(pairs))
    fails = {}
    for t, g in pairs:
        over = overshoot(by, t, g, inten)
        if over > 1.0:
            fails[(t, g)] = (over, f"{over:.2f}")
    tally("no band past its target by more than 1 dB", fails, len(pairs))
    fails = {}
    for t, g in pairs:
        away = lowest_band_away(by, t, g, inten)
        if away > NOISE + EPS:
            fails[(t, g)] = (away, f"{away:+.2f}")
    tally("the lowest octave (31.5 Hz) does not move away from its target", fails, len(pairs))
    fails = {}
    n = 0
    for t, g in pairs:
        d0 = by[(t, g, 0.0)]["distance_db"]
        if d0 <= 3.0 or (t, g, 5.0) not in by or (t, g, 10.0) not in by:
            continue
        n += 1
        s5 = 1 - by[(t, g, 5.0)]["distance_db"] / d0
        s10 = 1 - by[(t, g, 10.0)]["distance_db"] / d0
        if s5 < 0.25 or s10 < 0.5:
            fails[(t, g)] = (-min(s5, s10), f"{100 * s5:.0f} / {100 * s10:.0f} %")
    tally("shrink >= 25 % at 5 and >= 50 % at 10, where the distance in exceeds 3 dB "
          "(failing pairs: shrink at 5 / 10)", fails, n)
    for key, idx, label in (
            ("side_low_db", 0, "side/mid below the low crossover falls (mono bass)"),
            ("side_low_win_db", 0, "the same, median over 2 s windows"),
            ("side_high_win_db", 1, "side/mid above twice it moves with the width, "
                                    "median over 2 s windows (the treatment at each moment)"),
            ("side_high_db", 1, "the same over the whole excerpt (energy-weighted: levelling "
                                "reweights passages of different width)")):
        if not all(key in by[(t, g, i)] for t, g in pairs for i in inten):
            out.append(f"- {label}: not measured in these rows")
            continue
        fails = {}
        n = 0
        for t, g in pairs:
            d = stereo_directions(g)[idx]
            if d == 0:
                continue
            n += 1
            r = rise([by[(t, g, i)][key] for i in inten], up_is_worse=d < 0)
            if r > NOISE + EPS:
                fails[(t, g)] = (r, f"{r:+.2f}")
        tally(f"{label} (pairs whose preset sets it)", fails, n)
    return out


def report(rows, out, inten):
    by = {(r["track"], r["genre"], r["intensity"]): r for r in rows}
    tracks = sorted({r["track"] for r in rows})
    genres = [g for g in GENRES if any(r["genre"] == g for r in rows)]
    try:
        meta = json.loads((out / "tone.meta.json").read_text())
        made = f"Rendered at commit {meta['commit']} on {meta['date']}"
    except (OSError, ValueError, KeyError):
        made = "Rendered at an unrecorded commit"
    lines = ["# Tone and intensity on the development music", "",
             f"{made} for {len(genres)} presets x {len(tracks)} tracks at intensities "
             f"{', '.join(f'{i:g}' for i in inten)} (`python bench/tone.py --out "
             "docs/quality-report`; `--report-only` re-makes this page from tone.json). "
             "The side/mid columns below and above the crossover are per octave band (the "
             "stereo treatment; the full-band figure moves with the tone).", "",
             "Issue 10's bars, counted from tone.json by bench/tone.py (a value may not "
             "move the wrong way past an earlier one by more than "
             f"{NOISE} dB/LU; each failing pair with its worst excursion):", ""]
    lines += bars(by, tracks, genres, inten)
    lines += ["",
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
            over = overshoot(by, t, g, inten)
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
