"""`make report`: quality on real music, against peers, as markdown + PNG.

Renders the development music (``unmastered/`` copies at about -20 LUFS, as
``../shared/material/get-dev-music.sh`` fetches them) with Masterbox at several
genres and intensities, and the same files with two peers.  ``../shared`` is
optional: without the music and without that script, the report says so in
one line and is made from the synthesized demo mix instead (a fresh clone
alone runs ``make report``).  Peers:
  * ffmpeg ``loudnorm`` (EBU R128 normaliser, single pass: what a live
    chain can do), I=-14, TP=-1;
  * a pedalboard chain (HighpassFilter -> Compressor -> Gain +6 dB ->
    Limiter -1 dB): a typical fixed plug-in chain; the +6 dB is the gain these
    -20 LUFS inputs need, which a live box could not know in advance.
Measured independently of our meters: integrated loudness with pyloudnorm
(after the first 10 s), true peak with an 8x scipy resampler, LRA with our
EBU Tech 3342 meter (the same for every processor), octave balance by FFT.

    python bench/report.py --out report [--music DIR]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GENRES = ("pop", "rock", "edm", "acoustic")
INTENSITIES = (3.0, 5.0, 8.0)
TARGET, CEILING = -14.0, -1.0
DEMO_SECONDS = 40.0      # without the development music (loudness is measured after 10 s)


def tp8(y):
    from scipy.signal import resample_poly
    up = resample_poly(np.vstack([np.zeros((64, 2)), y, np.zeros((64, 2))]), 8, 1, axis=0,
                       window=("kaiser", 10.0))
    return 20 * np.log10(np.abs(up).max() + 1e-30)


def octaves(y, fs):
    from masterbox.dsp.design import OCTAVE_CENTRES_HZ
    m = y.mean(axis=1)
    n = 8192
    win = np.hanning(n)
    psd = np.zeros(n // 2 + 1)
    for s in range(0, len(m) - n, n // 2):
        psd += np.abs(np.fft.rfft(win * m[s:s + n])) ** 2
    f = np.fft.rfftfreq(n, 1 / fs)
    lv = np.array([10 * np.log10(psd[(f >= c / 2 ** 0.5) & (f < c * 2 ** 0.5)].sum() + 1e-20)
                   for c in OCTAVE_CENTRES_HZ])
    return lv - lv.mean()


def measure(y, fs, name):
    import pyloudnorm
    from masterbox.dsp import LoudnessMeter
    m = LoudnessMeter(fs)
    m.process(y)
    return {"name": name, "lufs": pyloudnorm.Meter(fs).integrated_loudness(y[10 * fs:]),
            "tp": tp8(y), "lra": m.lra_lu, "oct": octaves(y, fs)}


def ffmpeg_loudnorm(path, fs):
    import soundfile as sf
    out = Path(tempfile.mkdtemp()) / "ln.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(path), "-af",
                    f"loudnorm=I={TARGET}:TP={CEILING}:LRA=11", "-ar", str(fs), "-c:a", "pcm_f32le",
                    str(out)], check=True)
    y, _ = sf.read(out)
    return y


def pedalboard_chain(x, fs):
    import pedalboard
    board = pedalboard.Pedalboard([
        pedalboard.HighpassFilter(cutoff_frequency_hz=25),
        pedalboard.Compressor(threshold_db=-24, ratio=2.5, attack_ms=10, release_ms=150),
        pedalboard.Gain(gain_db=6),
        pedalboard.Limiter(threshold_db=CEILING, release_ms=80)])
    return board(np.ascontiguousarray(x.T), fs).T.astype(np.float64)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="report")
    ap.add_argument("--music", default=os.path.expanduser("~/.cache/masterbox-music"))
    a = ap.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import soundfile as sf

    from masterbox import dsp
    from masterbox.firmware import presets as pr
    music = Path(a.music) / "unmastered"
    script = ROOT.parent / "shared" / "material" / "get-dev-music.sh"     # optional (../shared)
    if not music.is_dir() and script.exists():
        subprocess.run(["bash", str(script), a.music], check=True)
    files = sorted(music.glob("*.wav"))
    source = f"{len(files)} tracks from the development set (unmastered copies, about -20 LUFS"
    if not files:
        from masterbox.firmware.demo import synth_mix
        why = "" if script.exists() else f" and no {script} (../shared is optional)"
        print(f"report: no music in {music}{why}: made from the synthesized demo mix instead",
              file=sys.stderr)
        demo = Path(tempfile.mkdtemp()) / "demo-mix.wav"
        sf.write(demo, synth_mix(48000, DEMO_SECONDS), 48000, subtype="FLOAT")
        files = [demo]
        source = (f"The synthesized demo mix ({DEMO_SECONDS:g} s; no development music here: "
                  "it comes from the optional ../shared/material/get-dev-music.sh")
    presets = pr.load_presets()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []          # (processor, track, measures)
    lra_in = {}
    for f in files:
        x, fs = sf.read(f, dtype="float32")
        lra_in[f.stem] = measure(x.astype(np.float64), fs, "in")
        for g in GENRES:
            for i in INTENSITIES:
                y = dsp.Chain(fs, pr.chain_params(presets[g], i, TARGET, CEILING)).process(x)
                rows.append((f"masterbox {g} @ {i:g}", f.stem, measure(y.astype(np.float64), fs, g)))
        if shutil.which("ffmpeg"):
            rows.append(("ffmpeg loudnorm", f.stem, measure(ffmpeg_loudnorm(f, fs), fs, "")))
        rows.append(("pedalboard chain", f.stem, measure(pedalboard_chain(x, fs), fs, "")))
    procs = list(dict.fromkeys(r[0] for r in rows))
    table = []
    for p in procs:
        ms = [r[2] for r in rows if r[0] == p]
        err = np.array([m["lufs"] - TARGET for m in ms])
        tps = np.array([m["tp"] for m in ms])
        table.append((p, np.abs(err).mean(), np.abs(err).max(), tps.max(), int((tps > CEILING + 0.05).sum()),
                      np.mean([m["lra"] for m in ms]), len(ms)))
    mean_lra_in = np.mean([m["lra"] for m in lra_in.values()])
    # -- plots
    fig, ax = plt.subplots(figsize=(10, 5), constrained_layout=True)
    for k, p in enumerate(procs):
        errs = [r[2]["lufs"] - TARGET for r in rows if r[0] == p]
        ax.scatter(np.full(len(errs), k), errs, s=18)
    ax.axhspan(-1, 1, color="C2", alpha=0.15, label="+-1 LU")
    ax.set_xticks(range(len(procs)), procs, rotation=60, ha="right")
    ax.set(ylabel="integrated loudness - target (LU)", title="Loudness error, target -14 LUFS")
    ax.legend()
    fig.savefig(out / "loudness_error.png", dpi=90)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(10, 5), constrained_layout=True)
    for k, p in enumerate(procs):
        tps = [r[2]["tp"] for r in rows if r[0] == p]
        ax.scatter(np.full(len(tps), k), tps, s=18)
    ax.axhline(CEILING, color="C3", ls="--", label="ceiling -1 dBTP")
    ax.set_xticks(range(len(procs)), procs, rotation=60, ha="right")
    ax.set(ylabel="max true peak, 8x (dBTP)", title="True peak of every output")
    ax.legend()
    fig.savefig(out / "true_peak.png", dpi=90)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 5), constrained_layout=True)
    for p in ("masterbox pop @ 5", "masterbox pop @ 8", "ffmpeg loudnorm", "pedalboard chain"):
        pts = [(lra_in[r[1]]["lra"], r[2]["lra"]) for r in rows if r[0] == p]
        if pts:
            ax.scatter(*zip(*pts), label=p)
    lim = [0, max(m["lra"] for m in lra_in.values()) + 2]
    ax.plot(lim, lim, "k:", lw=1)
    ax.set(xlabel="LRA in (LU)", ylabel="LRA out (LU)", title="Loudness range in -> out")
    ax.legend()
    fig.savefig(out / "lra.png", dpi=90)
    plt.close(fig)
    from masterbox.dsp.design import OCTAVE_CENTRES_HZ
    fig, axes = plt.subplots(1, len(GENRES), figsize=(14, 4), constrained_layout=True, sharey=True)
    for ax, g in zip(axes, GENRES):
        tgt = np.array(presets[g].data["adaptive"]["target_db"], dtype=float)
        tgt -= tgt.mean()
        x = np.arange(len(OCTAVE_CENTRES_HZ))
        ax.plot(x, tgt, "s--", color="C3", label="genre target")
        ax.plot(x, np.mean([m["oct"] for m in lra_in.values()], axis=0), "o-", color="0.6",
                label="input (mean)")
        ax.plot(x, np.mean([r[2]["oct"] for r in rows if r[0] == f"masterbox {g} @ 8"], axis=0),
                "o-", label=f"{g} @ 8 (mean)")
        ax.plot(x, np.mean([r[2]["oct"] for r in rows if r[0] == "pedalboard chain"], axis=0),
                ".:", label="pedalboard")
        ax.set_xticks(x[::2], [f"{c:g}" for c in OCTAVE_CENTRES_HZ[::2]])
        ax.set(title=g, xlabel="octave (Hz)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("level re. mean (dB)")
    axes[0].legend(fontsize=7)
    fig.savefig(out / "spectral_balance.png", dpi=90)
    plt.close(fig)
    # -- markdown
    lines = ["# Masterbox quality report", "",
             f"{source}, mean LRA {mean_lra_in:.1f} LU), target {TARGET:g} LUFS, ceiling {CEILING:g} dBTP. "
             "Loudness by pyloudnorm after the first 10 s; true peak by an 8x scipy resampler.", "",
             "| processor | mean abs. error (LU) | max abs. error (LU) | max true peak (dBTP) | "
             "outputs over ceiling | mean LRA out (LU) | outputs |",
             "|---|---|---|---|---|---|---|"]
    for p, mae, mx, tp, over, lra, n in table:
        lines.append(f"| {p} | {mae:.2f} | {mx:.2f} | {tp:.2f} | {over} | {lra:.1f} | {n} |")
    lines += ["", "![loudness error](loudness_error.png)", "", "![true peak](true_peak.png)", "",
              "![LRA](lra.png)", "", "![spectral balance](spectral_balance.png)", "",
              "Regenerate: `make report`."]
    (out / "README.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:len(table) + 6]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
