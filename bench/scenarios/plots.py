"""One PNG per scenario: loudness in/out, leveler gain, gain reduction, events."""
from __future__ import annotations

import numpy as np


def _finite(v, floor):
    v = np.asarray(v, dtype=float).copy()
    v[~np.isfinite(v)] = np.nan
    v[v < floor] = np.nan            # below the plot floor: leave a gap, not a cliff
    return v


def plot_scenario(res, bars, target_lufs: float, path, dpi: int = 100, before=None) -> None:
    """``before``: optional traces of an earlier run of the same scenario
    (``run.load_before_traces``), drawn dashed: output short-term and leveler gain."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m_in, m_out, r = res.m_in, res.m_out, res.r
    fig, (ax_l, ax_g, ax_r) = plt.subplots(3, 1, figsize=(10, 7), sharex=True,
                                           gridspec_kw={"height_ratios": [3, 1.3, 1.3]})
    lo = max(-80.0, min(np.nanmin(_finite(m_in.short_term_lufs, -80)),
                        np.nanmin(_finite(m_out.short_term_lufs, -80))) - 6.0)
    ax_l.plot(m_in.t_s, _finite(m_in.momentary_lufs, lo), color="0.75", lw=0.7, label="in momentary")
    ax_l.plot(m_in.t_s, _finite(m_in.short_term_lufs, lo), color="0.35", lw=1.4, label="in short-term")
    ax_l.plot(m_out.t_s, _finite(m_out.momentary_lufs, lo), color="#8fb8e8", lw=0.7,
              label="out momentary")
    ax_l.plot(m_out.t_s, _finite(m_out.short_term_lufs, lo), color="#1f5fbf", lw=1.6,
              label="out short-term")
    if before is not None:
        ax_l.plot(before["t_s"], _finite(before["out_short_term_lufs"], lo), color="#7b3fa0", lw=1.1,
                  ls="--", label="before: out short-term", zorder=1.9)   # under today's line
    ax_l.axhline(target_lufs, color="#c0392b", ls="--", lw=1.0, label=f"target {target_lufs:g}")
    ax_l.set_ylim(lo, max(-3.0, np.nanmax(_finite(m_out.momentary_lufs, lo)) + 2.0))
    ax_l.set_ylabel("loudness (LUFS)")
    ax_l.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=7, ncol=6, frameon=False)
    ax_l.grid(alpha=0.3)

    ax_g.plot(r.t_s, r.leveler_gain_db, color="#2e8b57", lw=1.4, label="leveler gain")
    if before is not None:
        ax_g.plot(before["t_s"], before["leveler_gain_db"], color="#7b3fa0", lw=1.0, ls="--",
                  label="before", zorder=1.9)
        ax_g.legend(loc="upper right", fontsize=7)
    ax_g.set_ylabel("leveler\ngain (dB)")
    ax_g.grid(alpha=0.3)

    ax_r.plot(r.t_s, r.limiter_gr_max_db, color="#c0392b", lw=1.0, label="limiter (max per 100 ms)")
    if r.comp_gr_db.size:
        ax_r.plot(r.t_s, r.comp_gr_db.max(axis=1), color="#e69f00", lw=1.0,
                  label="multiband comp (max band)")
    ax_r.set_ylabel("gain\nreduction (dB)")
    ax_r.set_xlabel("time (s)")
    ax_r.legend(loc="upper right", fontsize=7)
    ax_r.grid(alpha=0.3)

    events = [(name, t) for name, t in res.sc.marks.items() if name != "end"]
    for k, (name, t) in enumerate(events):
        for ax in (ax_l, ax_g, ax_r):
            ax.axvline(t, color="k", ls=":", lw=0.9)
        # alternate label heights: events a second or two apart stay legible
        ax_l.annotate(name, (t, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -10 - 11 * (k % 2)),
                      textcoords="offset points", fontsize=8)
    n_ok = sum(b.ok for b in bars)
    fig.suptitle(f"{res.sc.title}  [{res.sc.genre}, intensity {res.intensity:g}]  "
                 f"bars passed {n_ok}/{len(bars)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    _shrink_png(path)


def _shrink_png(path, colors: int = 256) -> None:
    """A 256-colour palette looks the same for line plots and is 40 % of the
    size: these PNGs are committed."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as im:
        q = im.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    q.save(path, optimize=True)
