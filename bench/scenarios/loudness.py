"""Offline loudness measurement for the scenarios, with the project's own
BS.1770-4 / EBU R128 meter (``dsp.meters.LoudnessMeter``, a separate
instance per signal, never the chain's internal output meter) and pyloudnorm
as the independent cross-check of integrated loudness.

Time stamps: a momentary / short-term value at ``t_s`` is the loudness of the
400 ms / 3 s window *ending* at ``t_s``; values come every 100 ms.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

HOP_S = 0.1


@dataclass
class MeterTrace:
    t_s: np.ndarray               # window end times, s
    momentary_lufs: np.ndarray    # -inf until 400 ms have been measured
    short_term_lufs: np.ndarray   # -inf until 3 s have been measured
    integrated_lufs: float
    lra_lu: float
    true_peak_dbtp: float         # the meter's 4x estimate


def _meter(fs: int):
    from masterbox.dsp.meters import LoudnessMeter     # lazy: importing this module stays cheap
    return LoudnessMeter(fs)


def meter_trace(x: np.ndarray, fs: int) -> MeterTrace:
    """Momentary and short-term loudness every 100 ms, plus the summaries."""
    m = _meter(fs)
    hop = int(round(fs * HOP_S))
    mom, st = [], []
    for s in range(0, len(x) - hop + 1, hop):
        m.process(np.ascontiguousarray(x[s:s + hop]))
        mom.append(m.momentary_lufs)
        st.append(m.short_term_lufs)
    t = (np.arange(len(mom)) + 1) * HOP_S
    return MeterTrace(t, np.array(mom), np.array(st), m.integrated_lufs, m.lra_lu, m.true_peak_dbtp)


def integrated_lufs(x: np.ndarray, fs: int) -> float:
    """Gated integrated loudness (BS.1770-4) with the project's meter."""
    m = _meter(fs)
    m.process(np.ascontiguousarray(x))
    return float(m.integrated_lufs)


def lra_lu(x: np.ndarray, fs: int) -> float:
    m = _meter(fs)
    m.process(np.ascontiguousarray(x))
    return float(m.lra_lu)


def pyloudnorm_lufs(x: np.ndarray, fs: int) -> float:
    """Integrated loudness by pyloudnorm: the independent cross-check."""
    import warnings

    import pyloudnorm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # it warns on silent input; -inf says it all
        return float(pyloudnorm.Meter(fs).integrated_loudness(np.asarray(x, dtype=np.float64)))


def set_lufs(x: np.ndarray, fs: int, lufs: float) -> np.ndarray:
    """``x`` scaled so that its integrated loudness (our meter) is ``lufs``."""
    now = integrated_lufs(x, fs)
    if not math.isfinite(now):
        raise ValueError("cannot set the loudness of a silent signal")
    return (x * np.float32(10.0 ** ((lufs - now) / 20.0))).astype(np.float32)


def seg(x: np.ndarray, fs: int, t0_s: float, t1_s: float) -> np.ndarray:
    """The part of ``x`` between two times (s)."""
    return x[int(round(t0_s * fs)):int(round(t1_s * fs))]


def true_peak_8x_dbtp(y: np.ndarray, block: int = 480000, margin: int = 256) -> float:
    """True peak by an 8x polyphase resampler (independent of the chain's 4x FIR).

    In 10 s blocks with ``margin`` samples of context either side (the
    resampler's filter is 160 taps at the input rate), so a 70 s file does not
    need half a gigabyte of 8x samples; outside the file counts as silence.
    """
    from scipy.signal import resample_poly
    y = np.asarray(y, dtype=np.float64)
    pk = 0.0
    for s in range(0, len(y), block):
        a, b = max(0, s - margin), min(len(y), s + block + margin)
        part = np.vstack([np.zeros((margin, y.shape[1])) if a == 0 else np.zeros((0, y.shape[1])),
                          y[a:b],
                          np.zeros((margin, y.shape[1])) if b == len(y) else np.zeros((0, y.shape[1]))])
        lead = margin if a == 0 else s - a          # context frames before s in ``part``
        up = resample_poly(part, 8, 1, axis=0, window=("kaiser", 10.0))
        n = min(block, len(y) - s)
        pk = max(pk, float(np.abs(up[8 * lead:8 * (lead + n)]).max()))
    return 20.0 * math.log10(pk) if pk > 0 else -math.inf


class CrossCheck:
    """Collects (project meter, pyloudnorm) pairs of integrated loudness."""

    def __init__(self):
        self.rows = []      # (label, ours_lufs, pyloudnorm_lufs)

    def compare(self, label: str, x: np.ndarray, fs: int) -> float:
        ours = integrated_lufs(x, fs)
        ref = pyloudnorm_lufs(x, fs)
        self.rows.append((label, ours, ref))
        return ours

    def max_abs_diff_lu(self) -> float:
        d = [abs(a - b) for _, a, b in self.rows if math.isfinite(a) and math.isfinite(b)]
        return max(d) if d else 0.0

    def disagreements(self) -> list:
        """Pairs where one meter says silence and the other does not."""
        return [r for r in self.rows if math.isfinite(r[1]) != math.isfinite(r[2])]


def rms_window_db(x: np.ndarray, fs: int, t0_s: float, t1_s: float) -> float:
    """RMS level (dBFS, both channels) of ``x`` between two times."""
    p = float(np.mean(np.asarray(seg(x, fs, t0_s, t1_s), dtype=np.float64) ** 2))
    return 10.0 * math.log10(p) if p > 0 else -math.inf
