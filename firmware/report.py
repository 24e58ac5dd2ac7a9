"""The before/after picture of a render (``masterbox render --report PNG``)."""
from __future__ import annotations

import numpy as np

from masterbox.dsp.design import OCTAVE_CENTRES_HZ

from .errors import InputError

MATPLOTLIB_MISSING = ("--report needs matplotlib, which is not installed: "
                      "pip install 'masterbox[report]' (or pip install matplotlib)")


def check_report_path(png_path: str, *inputs: str) -> None:
    """Refuse a report path that cannot be written or names another file of
    this run, and a missing matplotlib, before any work is done."""
    import os

    from .render import check_output, same_file
    if os.path.splitext(png_path)[1].lower() != ".png":
        raise InputError(f"{png_path}: the report is a PNG picture; give a name ending in .png")
    for other in inputs:
        if same_file(png_path, other) or os.path.abspath(png_path) == os.path.abspath(other):
            raise InputError(f"{png_path}: is also the audio {other}; give the report its own name")
    check_output(inputs[0], png_path, what="report")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError(MATPLOTLIB_MISSING) from None


def write_report(result, png_path: str, title: str, target_lufs: float, ceiling_dbtp: float,
                 genre_target_db) -> None:
    """Draw the picture into a temporary file next to ``png_path``, then
    rename it; InputError (one line) when it cannot be written."""
    from .render import AtomicOutput, check_output
    try:
        import matplotlib
    except ImportError:
        raise InputError(MATPLOTLIB_MISSING) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    check_output("", png_path, what="report")
    fig = _draw(plt, result, title, target_lufs, ceiling_dbtp, genre_target_db)
    try:
        with AtomicOutput(png_path) as tmp:
            try:
                with open(tmp.fd, "wb", closefd=False) as f:
                    fig.savefig(f, dpi=90, format="png")
                tmp.commit()
            except OSError as e:
                raise InputError(f"{png_path}: cannot write: {e.strerror or e}") from None
    finally:
        plt.close(fig)


def _draw(plt, result, title, target_lufs, ceiling_dbtp, genre_target_db):

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
    return fig
