"""Streaming loudness and true-peak meters (ITU-R BS.1770-4, EBU R128).

* momentary (400 ms) and short-term (3 s) loudness from 100 ms sub-blocks
  of K-weighted power, on the global sample grid;
* integrated loudness: every 100 ms the momentary block (400 ms, 75 %
  overlap, BS.1770-4 §2.8) goes into a 0.05 LU histogram that also keeps
  the blocks' summed power, so the gated mean is exact up to the bin
  holding the relative gate (libebur128's histogram mode does the same);
* loudness range: short-term values every 100 ms into a second histogram,
  gates and percentiles as EBU Tech 3342;
* true peak: the BS.1770-4 Annex 2 4x interpolator, plus sample peak.

The per-block kernel runs in the audio path; the gated summaries are
computed on request from the histograms (cheap, off the audio thread).
"""
from __future__ import annotations

import math

import numpy as np

from ._jit import kernel
from .design import TRUE_PEAK_FIR, k_weighting
from .kernels import biquad_tick, oversample_block, oversample_commit

HIST_MIN_LUFS = -70.0
HIST_STEP_LU = 0.05
HIST_BINS = 1700           # -70 .. +15 LUFS
SUB_BLOCKS = 30            # ring of 100 ms sub-blocks: 3 s
MAX_BLOCK = 4096

# meter state indices
M_ACC = 0
M_POS = 1
M_FILLED = 2
M_MOMENTARY = 3
M_SHORT = 4
M_TP_MAX = 5        # since reset, linear
M_TP_RECENT = 6     # max over the last completed 100 ms, linear
M_TP_RUN = 7        # running max of the current 100 ms
M_SAMPLE_PEAK = 8
M_SUBBLOCKS = 9     # total sub-blocks measured
M_SIZE = 16

NEG_INF_LUFS = -200.0


@kernel
def _hist_bin(lufs):
    b = int((lufs - HIST_MIN_LUFS) / HIST_STEP_LU)
    return min(max(b, 0), HIST_BINS - 1)


@kernel
def meter_block(x, n, n0, sub_n, kw_sos, kw_z, st, ring, h_int, h_lra, fir, xs, us):
    """Meter ``x[:n]`` (N, 2), any float dtype.  Mutates st, ring, h_int, h_lra, xs, us.

    h_int, h_lra: (2, HIST_BINS) -> [0] block count, [1] summed block power.
    """
    oversample_block(x, n, fir, xs, us)
    sub_pos = n0 % sub_n          # position in the 100 ms sub-block (global grid)
    for i in range(n):
        xl = np.float64(x[i, 0])
        xr = np.float64(x[i, 1])
        yl = xl
        yr = xr
        for s in range(2):
            yl = biquad_tick(kw_sos[s], kw_z[s, 0], yl)
            yr = biquad_tick(kw_sos[s], kw_z[s, 1], yr)
        st[M_ACC] += yl * yl + yr * yr
        # true peak (BS.1770-4 Annex 2): max |.| of the 4x values and the sample
        pk = max(abs(xl), abs(xr))
        if pk > st[M_SAMPLE_PEAK]:
            st[M_SAMPLE_PEAK] = pk
        for ch in range(2):
            for ph in range(4):
                v = abs(us[ch, ph, i])
                if v > pk:
                    pk = v
        if pk > st[M_TP_RUN]:
            st[M_TP_RUN] = pk
        sub_pos += 1
        if sub_pos == sub_n:
            sub_pos = 0
            pos = int(st[M_POS])
            ring[pos] = st[M_ACC] / sub_n
            st[M_POS] = (pos + 1) % SUB_BLOCKS
            st[M_ACC] = 0.0
            if st[M_FILLED] < SUB_BLOCKS:
                st[M_FILLED] += 1.0
            st[M_SUBBLOCKS] += 1.0
            if st[M_TP_RUN] > st[M_TP_MAX]:
                st[M_TP_MAX] = st[M_TP_RUN]
            st[M_TP_RECENT] = st[M_TP_RUN]
            st[M_TP_RUN] = 0.0
            filled = int(st[M_FILLED])
            if filled >= 4:
                acc = 0.0
                for j in range(4):
                    acc += ring[(pos - j) % SUB_BLOCKS]
                pw = acc / 4.0
                lufs = -0.691 + 10.0 * math.log10(pw + 1e-30)
                st[M_MOMENTARY] = lufs
                if lufs > HIST_MIN_LUFS:           # absolute gate, BS.1770-4 §2.8
                    b = _hist_bin(lufs)
                    h_int[0, b] += 1.0
                    h_int[1, b] += pw
            if filled >= SUB_BLOCKS:
                acc = 0.0
                for j in range(SUB_BLOCKS):
                    acc += ring[j]
                pw = acc / SUB_BLOCKS
                lufs = -0.691 + 10.0 * math.log10(pw + 1e-30)
                st[M_SHORT] = lufs
                if lufs > HIST_MIN_LUFS:           # EBU Tech 3342 absolute gate
                    b = _hist_bin(lufs)
                    h_lra[0, b] += 1.0
                    h_lra[1, b] += pw
    oversample_commit(xs, n)


@kernel
def integrated_from_hist(h_int):
    """Gated integrated loudness (BS.1770-4 §2.8), LUFS; NEG_INF_LUFS if none."""
    cnt = 0.0
    pw = 0.0
    for b in range(HIST_BINS):
        cnt += h_int[0, b]
        pw += h_int[1, b]
    if cnt == 0.0:
        return NEG_INF_LUFS
    gate = -0.691 + 10.0 * math.log10(pw / cnt) - 10.0
    cnt = 0.0
    pw = 0.0
    for b in range(HIST_BINS):
        # a bin takes part when its centre is above the relative gate
        centre = HIST_MIN_LUFS + (b + 0.5) * HIST_STEP_LU
        if centre > gate:
            cnt += h_int[0, b]
            pw += h_int[1, b]
    if cnt == 0.0:
        return NEG_INF_LUFS
    return -0.691 + 10.0 * math.log10(pw / cnt)


@kernel
def lra_from_hist(h_lra):
    """Loudness range (EBU Tech 3342): 95th - 10th percentile of the
    short-term values above -70 LUFS and above (their mean - 20 LU)."""
    cnt = 0.0
    pw = 0.0
    for b in range(HIST_BINS):
        cnt += h_lra[0, b]
        pw += h_lra[1, b]
    if cnt == 0.0:
        return 0.0
    gate = -0.691 + 10.0 * math.log10(pw / cnt) - 20.0
    first = 0
    total = 0.0
    for b in range(HIST_BINS):
        centre = HIST_MIN_LUFS + (b + 0.5) * HIST_STEP_LU
        if centre > gate:
            total += h_lra[0, b]
        else:
            first = b + 1
    if total == 0.0:
        return 0.0
    lo = 0.0
    hi = 0.0
    have_lo = False
    run = 0.0
    for b in range(first, HIST_BINS):
        run += h_lra[0, b]
        if not have_lo and run >= 0.10 * total:
            lo = HIST_MIN_LUFS + (b + 0.5) * HIST_STEP_LU
            have_lo = True
        if run >= 0.95 * total:
            hi = HIST_MIN_LUFS + (b + 0.5) * HIST_STEP_LU
            break
    return hi - lo


def lin_to_db(v: float) -> float:
    return 20.0 * math.log10(v) if v > 0.0 else -math.inf


class LoudnessMeter:
    """BS.1770-4 / R128 meter with its own state; ``process`` any block size."""

    def __init__(self, fs_hz: float):
        self.fs_hz = float(fs_hz)
        self.sub_n = int(round(self.fs_hz / 10.0))
        self.kw_sos = k_weighting(self.fs_hz)
        self.fir = TRUE_PEAK_FIR
        self.reset()

    def reset(self) -> None:
        self.kw_z = np.zeros((2, 2, 2))
        self.state = np.zeros(M_SIZE)
        self.state[M_MOMENTARY] = NEG_INF_LUFS
        self.state[M_SHORT] = NEG_INF_LUFS
        self.ring = np.zeros(SUB_BLOCKS)
        self.h_int = np.zeros((2, HIST_BINS))
        self.h_lra = np.zeros((2, HIST_BINS))
        self.xs = np.zeros((2, 12 + MAX_BLOCK))
        self.us = np.zeros((2, 4, MAX_BLOCK))
        self.n_done = 0

    def process(self, x: np.ndarray) -> None:
        """Meter ``x`` (N, 2) float32/float64, any length.  Mono: pass dual mono."""
        x = np.ascontiguousarray(x)
        for s in range(0, x.shape[0], MAX_BLOCK):
            blk = x[s:s + MAX_BLOCK]
            n = blk.shape[0]
            meter_block(blk, n, self.n_done, self.sub_n, self.kw_sos, self.kw_z, self.state,
                        self.ring, self.h_int, self.h_lra, self.fir, self.xs, self.us)
            self.n_done += n

    @property
    def momentary_lufs(self) -> float:
        return self.state[M_MOMENTARY] if self.state[M_FILLED] >= 4 else -math.inf

    @property
    def short_term_lufs(self) -> float:
        return self.state[M_SHORT] if self.state[M_FILLED] >= SUB_BLOCKS else -math.inf

    @property
    def integrated_lufs(self) -> float:
        v = integrated_from_hist(self.h_int)
        return v if v > NEG_INF_LUFS else -math.inf

    @property
    def lra_lu(self) -> float:
        return float(lra_from_hist(self.h_lra))

    @property
    def true_peak_dbtp(self) -> float:
        return lin_to_db(max(self.state[M_TP_MAX], self.state[M_TP_RUN]))

    @property
    def sample_peak_dbfs(self) -> float:
        return lin_to_db(self.state[M_SAMPLE_PEAK])
