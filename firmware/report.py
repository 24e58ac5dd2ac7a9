"""The before/after picture of a render (``masterbox render --report PNG``)."""
from __future__ import annotations

import numpy as np

from dsp.design import OCTAVE_CENTRES_HZ


def write_report(result, png_path: str, title: str, target_lufs: float, ceiling_dbtp: float,
                 genre_target_db) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(9, 10), constrained_layout=True)
    ax = axes[0]
    t = result.t_s
    ax.plot(t, np.where(np.isfinite(result.in_short_lufs), result.in_short_lufs, np.nan),
            label="input", color="0.55")
    ax.plot(t, np.where(np.isfinite(result.out_short_lufs), result.out_short_lufs, np.nan),
            label="output", color="C0")
    ax.axhline(target_lufs, color="C3", ls="--", label=f"target {target_lufs:g} LUFS")
    ax.set(xlabel="time (s)", ylabel="short-term loudness (LUFS)",
           title=f"{title}: in {result.in_integrated_lufs:.1f} -> out "
                 f"{result.out_integrated_lufs:.1f} LUFS integrated, true peak "
                 f"{result.out_true_peak_dbtp:.2f} dBTP (ceiling {ceiling_dbtp:g})")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)

    ax = axes[1]
    x = np.arange(len(OCTAVE_CENTRES_HZ))
    norm = lambda v: v - np.mean(v)  # noqa: E731  shape only, level removed
    ax.plot(x, norm(result.in_octaves_db), "o-", color="0.55", label="input")
    ax.plot(x, norm(result.out_octaves_db), "o-", color="C0", label="output")
    ax.plot(x, norm(np.asarray(genre_target_db, dtype=float)), "s--", color="C3",
            label="genre target")
    ax.set_xticks(x, [f"{f:g}" for f in OCTAVE_CENTRES_HZ])
    ax.set(xlabel="octave band (Hz)", ylabel="level re. mean (dB)", title="tonal balance")
    ax.legend()
    ax.grid(alpha=0.3)

    ax = axes[2]
    ax.plot(t, result.leveler_gain_db, label="leveler gain", color="C2")
    ax.plot(t, -result.comp_gr_db, label="multiband GR (max band)", color="C1")
    ax.plot(t, -result.limiter_gr_db, label="limiter GR", color="C3")
    ax.set(xlabel="time (s)", ylabel="dB", title="gain over time")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.savefig(png_path, dpi=90)
    plt.close(fig)
