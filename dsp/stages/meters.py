"""Output meters (ITU-R BS.1770-4, EBU R128, EBU Tech 3342).

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

from .._jit import kernel
from ..design import k_weighting
from ..layout import Region, region
from ..regstate import biquad_step
from ..truepeak import oversample_block, oversample_commit, scratch_sizes, upsampled
from ..units import NEG_INF_LUFS, power_to_lufs

HIST_MIN_LUFS = -70.0       # BS.1770-4 §2.8 / Tech 3342 absolute gate
HIST_STEP_LU = 0.05
HIST_BINS = 1700            # -70 .. +15 LUFS
SUB_BLOCKS = 30             # ring of 100 ms sub-blocks: 3 s
MOMENTARY_SUB_BLOCKS = 4    # 400 ms
REL_GATE_INTEGRATED_LU = -10.0   # BS.1770-4 §2.8
REL_GATE_LRA_LU = -20.0          # EBU Tech 3342
LRA_LOW_PCT = 0.10
LRA_HIGH_PCT = 0.95

# regions
KW_SOS, KW_Z, ST, RING, H_INT, H_LRA, XS, US = range(8)
# ST slots
ACC = 0
POS = 1
FILLED = 2
MOMENTARY = 3
SHORT = 4
TP_MAX = 5          # since start, linear
TP_RECENT = 6       # max over the last completed 100 ms, linear
TP_RUN = 7          # running max of the current 100 ms
SAMPLE_PEAK = 8
N_ST = 9
# histogram layout: [0:HIST_BINS] block counts, [HIST_BINS:2*HIST_BINS] summed power
H_COUNT = 0
H_POWER = HIST_BINS


def regions(fs_hz: int):
    xs, us = scratch_sizes()
    return [Region("kw_sos", 10), Region("kw_z", 8), Region("st", N_ST), Region("ring", SUB_BLOCKS),
            Region("h_int", 2 * HIST_BINS), Region("h_lra", 2 * HIST_BINS),
            Region("xs", xs), Region("us", us)]


def init(v, fs_hz: int) -> None:
    v("kw_sos")[:] = k_weighting(float(fs_hz)).ravel()
    st = v("st")
    st[MOMENTARY] = st[SHORT] = NEG_INF_LUFS


@kernel
def _hist_bin(lufs):
    b = int((lufs - HIST_MIN_LUFS) / HIST_STEP_LU)
    return min(max(b, 0), HIST_BINS - 1)


@kernel
def _hist_add(h, lufs, pw):
    b = _hist_bin(lufs)
    h[H_COUNT + b] += 1.0
    h[H_POWER + b] += pw


@kernel
def block(x, n, n0, sub_n, fir, a, lay, base):
    """Meter ``x[:n]`` (N, 2), any float dtype.  The K-weighting state, the
    power sum and the peaks stay in locals over the sample loop (see
    ``regstate``) and are stored once per block."""
    kw_sos = region(a, lay, base + KW_SOS)
    kw_z = region(a, lay, base + KW_Z)
    st = region(a, lay, base + ST)
    ring = region(a, lay, base + RING)
    h_int = region(a, lay, base + H_INT)
    h_lra = region(a, lay, base + H_LRA)
    xs = region(a, lay, base + XS)
    us = region(a, lay, base + US)
    oversample_block(x, n, fir, xs, us)
    sub_pos = n0 % sub_n          # position in the 100 ms sub-block (global grid)
    # K-weighting: section s, channel ch has state kw_z[4 s + 2 ch : + 2]
    a0, a1, a2, a3, a4 = kw_sos[0], kw_sos[1], kw_sos[2], kw_sos[3], kw_sos[4]
    b0, b1, b2, b3, b4 = kw_sos[5], kw_sos[6], kw_sos[7], kw_sos[8], kw_sos[9]
    zl00, zl01, zr00, zr01 = kw_z[0], kw_z[1], kw_z[2], kw_z[3]
    zl10, zl11, zr10, zr11 = kw_z[4], kw_z[5], kw_z[6], kw_z[7]
    acc = st[ACC]
    sample_peak = st[SAMPLE_PEAK]
    tp_run = st[TP_RUN]
    for i in range(n):
        xl = np.float64(x[i, 0])
        xr = np.float64(x[i, 1])
        yl, zl00, zl01 = biquad_step(a0, a1, a2, a3, a4, zl00, zl01, xl)
        yr, zr00, zr01 = biquad_step(a0, a1, a2, a3, a4, zr00, zr01, xr)
        yl, zl10, zl11 = biquad_step(b0, b1, b2, b3, b4, zl10, zl11, yl)
        yr, zr10, zr11 = biquad_step(b0, b1, b2, b3, b4, zr10, zr11, yr)
        acc += yl * yl + yr * yr
        # true peak (BS.1770-4 Annex 2): max |.| of the 4x values and the sample
        pk = max(abs(xl), abs(xr))
        if pk > sample_peak:
            sample_peak = pk
        for ch in range(2):
            for ph in range(4):
                v = abs(upsampled(us, ch, ph, i))
                if v > pk:
                    pk = v
        if pk > tp_run:
            tp_run = pk
        sub_pos += 1
        if sub_pos == sub_n:
            sub_pos = 0
            pos = int(st[POS])
            ring[pos] = acc / sub_n
            st[POS] = (pos + 1) % SUB_BLOCKS
            acc = 0.0
            if st[FILLED] < SUB_BLOCKS:
                st[FILLED] += 1.0
            if tp_run > st[TP_MAX]:
                st[TP_MAX] = tp_run
            st[TP_RECENT] = tp_run
            tp_run = 0.0
            filled = int(st[FILLED])
            if filled >= MOMENTARY_SUB_BLOCKS:
                acc_m = 0.0
                for j in range(MOMENTARY_SUB_BLOCKS):
                    acc_m += ring[(pos - j) % SUB_BLOCKS]
                pw = acc_m / MOMENTARY_SUB_BLOCKS
                lufs = power_to_lufs(pw + 1e-30)
                st[MOMENTARY] = lufs
                if lufs > HIST_MIN_LUFS:           # absolute gate, BS.1770-4 §2.8
                    _hist_add(h_int, lufs, pw)
            if filled >= SUB_BLOCKS:
                acc_s = 0.0
                for j in range(SUB_BLOCKS):
                    acc_s += ring[j]
                pw = acc_s / SUB_BLOCKS
                lufs = power_to_lufs(pw + 1e-30)
                st[SHORT] = lufs
                if lufs > HIST_MIN_LUFS:           # EBU Tech 3342 absolute gate
                    _hist_add(h_lra, lufs, pw)
    kw_z[0], kw_z[1], kw_z[2], kw_z[3] = zl00, zl01, zr00, zr01
    kw_z[4], kw_z[5], kw_z[6], kw_z[7] = zl10, zl11, zr10, zr11
    st[ACC] = acc
    st[SAMPLE_PEAK] = sample_peak
    st[TP_RUN] = tp_run
    oversample_commit(xs, n)


@kernel
def last_subblock_power(a, lay, base):
    """K-weighted mean-square power of the last completed 100 ms sub-block
    of the output (0 before the first); what the leveler's trim compares
    its own output with."""
    st = region(a, lay, base + ST)
    if st[FILLED] < 1.0:
        return 0.0
    ring = region(a, lay, base + RING)
    return ring[(int(st[POS]) - 1) % SUB_BLOCKS]


@kernel
def _bin_centre(b):
    return HIST_MIN_LUFS + (b + 0.5) * HIST_STEP_LU


@kernel
def _relative_gate(h, rel_lu):
    """The energy mean of the histogram's blocks, in LUFS, plus ``rel_lu``
    (a relative gate); NEG_INF_LUFS when it holds no block."""
    cnt = 0.0
    pw = 0.0
    for b in range(HIST_BINS):
        cnt += h[H_COUNT + b]
        pw += h[H_POWER + b]
    if cnt == 0.0:
        return NEG_INF_LUFS
    return power_to_lufs(pw / cnt) + rel_lu


@kernel
def integrated_from_hist(h):
    """Gated integrated loudness (BS.1770-4 §2.8), LUFS; NEG_INF_LUFS if none."""
    gate = _relative_gate(h, REL_GATE_INTEGRATED_LU)
    if gate <= NEG_INF_LUFS:
        return NEG_INF_LUFS
    cnt = 0.0
    pw = 0.0
    for b in range(HIST_BINS):
        # a bin takes part when its centre is above the relative gate
        if _bin_centre(b) > gate:
            cnt += h[H_COUNT + b]
            pw += h[H_POWER + b]
    if cnt == 0.0:
        return NEG_INF_LUFS
    return power_to_lufs(pw / cnt)


@kernel
def lra_from_hist(h):
    """Loudness range (EBU Tech 3342): 95th - 10th percentile of the
    short-term values above -70 LUFS and above (their mean - 20 LU)."""
    gate = _relative_gate(h, REL_GATE_LRA_LU)
    if gate <= NEG_INF_LUFS:
        return 0.0
    first = 0
    total = 0.0
    for b in range(HIST_BINS):
        if _bin_centre(b) > gate:
            total += h[H_COUNT + b]
        else:
            first = b + 1
    if total == 0.0:
        return 0.0
    lo = 0.0
    hi = 0.0
    have_lo = False
    run = 0.0
    for b in range(first, HIST_BINS):
        run += h[H_COUNT + b]
        if not have_lo and run >= LRA_LOW_PCT * total:
            lo = _bin_centre(b)
            have_lo = True
        if run >= LRA_HIGH_PCT * total:
            hi = _bin_centre(b)
            break
    return hi - lo


def _db(v: float) -> float:
    return 20.0 * math.log10(v) if v > 0.0 else -math.inf


def read(v) -> dict:
    """Meter values for a snapshot; -inf where nothing has been measured."""
    st = v("st")
    filled = st[FILLED]
    integ = integrated_from_hist(v("h_int"))
    return {
        "momentary_lufs": float(st[MOMENTARY]) if filled >= MOMENTARY_SUB_BLOCKS else -math.inf,
        "short_term_lufs": float(st[SHORT]) if filled >= SUB_BLOCKS else -math.inf,
        "integrated_lufs": float(integ) if integ > NEG_INF_LUFS else -math.inf,
        "lra_lu": float(lra_from_hist(v("h_lra"))),
        "true_peak_dbtp": _db(max(st[TP_MAX], st[TP_RUN])),
        "true_peak_recent_dbtp": _db(st[TP_RECENT]),
        "sample_peak_dbfs": _db(st[SAMPLE_PEAK]),
    }
