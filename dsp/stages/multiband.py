"""4-band linked-stereo compressor on Linkwitz-Riley bands, mono bass.

Band tree (f1 < f2 < f3)::

    x -+- LP4(f2) - AP2(f3) -+-  LP2(f1) -> band 0   (mono bass: its side
       |                     +- -HP2(f1) -> band 1    scaled toward 0)
       +- HP4(f2) - AP1(f1) -+-  LP4(f3) -> band 2
                             +-  HP4(f3) -> band 3

Each branch gets the all-pass of the split it does not take part in, so all
four bands share one phase response and sum to an all-pass (flat
magnitude).  The low split is 2nd order (LR2), the others 4th order: the
low split's all-pass dominates the chain's bass group delay, and an LR2
pair has half an LR4 pair's (at 50 Hz, 120 Hz split: 2.3 ms against
4.3 ms), which is what keeps a kick's body within 5 ms of its click
(issue 10, item 4).  The upper splits keep LR4's 24 dB/octave, where the
bands' compressors must stay apart (sibilance, cymbals).

Mono bass shares the low split: band 0's side is scaled by
1 - mono_bass x min(intensity / 5, 1) and, because the bands stay
phase-aligned, mid and side stay aligned too; a separate LR4 mono-bass
split on the side (with the matching all-pass on the mid) cost another
5 ms at 50 Hz.  The price: the mono corner is the low crossover, and the
side below it falls at 12 dB/octave (-24 dB two octaves down).

Coefficient rows: split 1 (LR2) at 0: LP, -HP, AP1; splits 2 and 3 (LR4)
at 3 and 8: LP, LP, HP, HP, AP (``design.design_lr2``, ``design_lr4``).
Gain computer and detector: Giannoulis, Massberg & Reiss, JAES 2012.
"""
from __future__ import annotations

import math

from .. import params as P
from .._jit import helper, kernel
from ..biquad import CR, amount, biquad_tick, smooth_params, tick_coef
from ..design import design_lr2, design_lr4
from ..layout import Region, region

N_BANDS = P.N_BANDS
XO_ROWS = 13
# filter states (each 2 channels x 2): the tree's 12 biquads, in the order
# split_tick runs them
XO_STATES = 12
MAX_SLOPE = 0.95            # ratio 20:1 at most, whatever intensity asks

# regions
CUR, XO, XO_Z, ST, K = range(5)
# ST slots (each N_BANDS wide)
PEAK = 0                    # |band| max over the running control segment
GR_DB = 4                   # smoothed gain reduction, dB
G_START = 8                 # linear gain at the segment's start ...
G_END = 12                  # ... and end (interpolated per sample)
N_ST = 16
# K slots
K_SMOOTH = 0

# the crossover rows each band passes
_LP1, _HP1, _AP1 = 0, 1, 2          # LR2: one row each
_LP2, _HP2, _AP2 = 3, 5, 7          # LR4: two rows per filter
_LP3, _HP3, _AP3 = 8, 10, 12


def regions(fs_hz: int):
    return [Region("cur", P.N_PARAMS), Region("xo", XO_ROWS * 5), Region("xo_z", XO_STATES * 4),
            Region("st", N_ST), Region("k", 1)]


def init(v, fs_hz: int, tgt, k_smooth: float) -> None:
    v("cur")[:] = tgt
    v("k")[K_SMOOTH] = k_smooth
    design(float(fs_hz), v("cur"), v("xo"))
    v("st")[G_START:G_START + N_BANDS] = 1.0
    v("st")[G_END:G_END + N_BANDS] = 1.0


@kernel
def design(fs, cur, xo):
    design_lr2(xo[0:15], fs, cur[P.XOVER_HZ])
    design_lr4(xo[15:40], fs, cur[P.XOVER_HZ + 1])
    design_lr4(xo[40:65], fs, cur[P.XOVER_HZ + 2])


@helper
def _bq2(xo, row_a, z, state_a, ch, x):
    """Two cascaded biquads (rows row_a, row_a + 1; states state_a, +1)."""
    y = biquad_tick(xo, 5 * row_a, z, 4 * state_a + 2 * ch, x)
    return biquad_tick(xo, 5 * (row_a + 1), z, 4 * (state_a + 1) + 2 * ch, y)


@helper
def split_tick(xo, z, ch, x):
    """One sample of channel ``ch`` through the band tree -> 4 bands."""
    lo = _bq2(xo, _LP2, z, 0, ch, x)
    hi = _bq2(xo, _HP2, z, 2, ch, x)
    lo = biquad_tick(xo, 5 * _AP3, z, 4 * 4 + 2 * ch, lo)
    b0 = biquad_tick(xo, 5 * _LP1, z, 4 * 5 + 2 * ch, lo)
    b1 = biquad_tick(xo, 5 * _HP1, z, 4 * 6 + 2 * ch, lo)
    hi = biquad_tick(xo, 5 * _AP1, z, 4 * 7 + 2 * ch, hi)
    b2 = _bq2(xo, _LP3, z, 8, ch, hi)
    b3 = _bq2(xo, _HP3, z, 10, ch, hi)
    return b0, b1, b2, b3


@kernel
def split_block(x, n, xo, z, bands):
    """The production band split on mono ``x[:n]`` -> ``bands[:n, 4]`` (for
    measurement; state ``z`` as in the stage, channel 0)."""
    for i in range(n):
        b0, b1, b2, b3 = split_tick(xo, z, 0, x[i])
        bands[i, 0] = b0
        bands[i, 1] = b1
        bands[i, 2] = b2
        bands[i, 3] = b3


@kernel
def gain_computer_db(level_db, thr_db, knee_db, slope):
    """Static curve with soft knee (ibid., eq. 4): the requested gain
    *reduction* in dB (>= 0); ``slope`` is 1 - 1/ratio (times the depth)."""
    d = level_db - thr_db
    if 2.0 * d < -knee_db:
        return 0.0
    if knee_db > 0.0 and 2.0 * abs(d) <= knee_db:
        t = d + 0.5 * knee_db
        return slope * t * t / (2.0 * knee_db)
    return slope * d


@kernel
def compressor_tick(gr_db, level_lin, thr_db, knee_db, slope, a_att, a_rel):
    """One control tick of a band: smoothed GR (dB) from the segment's peak.

    Smooth branching detector in the log domain (ibid., eq. 17): attack
    coefficient while the requested reduction rises, release otherwise; so
    the GR follows a step with exactly the set time constants.
    """
    level_db = 20.0 * math.log10(max(level_lin, 1e-10))
    want = gain_computer_db(level_db, thr_db, knee_db, slope)
    a = a_att if want > gr_db else a_rel
    return a * gr_db + (1.0 - a) * want


@kernel
def control_tick(fs, cur, st):
    """Every CR samples: new per-band gains from the segment's peaks."""
    depth = amount(cur[P.INTENSITY])
    for b in range(N_BANDS):
        o = P.BAND_BASE + b * P.BAND_STRIDE
        ratio = max(cur[o + 1], 1.0)
        slope = min((1.0 - 1.0 / ratio) * depth, MAX_SLOPE)
        gr = compressor_tick(st[GR_DB + b], st[PEAK + b], cur[P.TARGET_LUFS] + cur[o],
                             cur[o + 2], slope, tick_coef(cur[o + 3], fs),
                             tick_coef(cur[o + 4], fs))
        st[GR_DB + b] = gr
        st[G_START + b] = st[G_END + b]
        st[G_END + b] = 10.0 ** (-gr / 20.0)
        st[PEAK + b] = 0.0


@helper
def low_band_side_gain(cur):
    """Band 0's side gain: mono bass grows with intensity up to 5, then stays."""
    return 1.0 - min(max(cur[P.MONO_BASS], 0.0), 1.0) * min(amount(cur[P.INTENSITY]), 1.0)


@kernel
def block(buf, n, n0, fs, tgt, a, lay, base):
    cur = region(a, lay, base + CUR)
    xo = region(a, lay, base + XO)
    z = region(a, lay, base + XO_Z)
    st = region(a, lay, base + ST)
    k_smooth = region(a, lay, base + K)[K_SMOOTH]
    side0 = low_band_side_gain(cur)
    for i in range(n):
        g = n0 + i
        if g % CR == 0:
            if smooth_params(tgt, cur, k_smooth):
                design(fs, cur, xo)
            control_tick(fs, cur, st)
            side0 = low_band_side_gain(cur)
        frac = ((g % CR) + 1.0) / CR
        g0 = st[G_START] + (st[G_END] - st[G_START]) * frac
        g1 = st[G_START + 1] + (st[G_END + 1] - st[G_START + 1]) * frac
        g2 = st[G_START + 2] + (st[G_END + 2] - st[G_START + 2]) * frac
        g3 = st[G_START + 3] + (st[G_END + 3] - st[G_START + 3]) * frac
        l0, l1, l2, l3 = split_tick(xo, z, 0, buf[i, 0])
        r0, r1, r2, r3 = split_tick(xo, z, 1, buf[i, 1])
        if side0 != 1.0:
            m0 = 0.5 * (l0 + r0)
            s0 = 0.5 * (l0 - r0) * side0
            l0 = m0 + s0
            r0 = m0 - s0
        st[PEAK] = max(st[PEAK], abs(l0), abs(r0))
        st[PEAK + 1] = max(st[PEAK + 1], abs(l1), abs(r1))
        st[PEAK + 2] = max(st[PEAK + 2], abs(l2), abs(r2))
        st[PEAK + 3] = max(st[PEAK + 3], abs(l3), abs(r3))
        buf[i, 0] = g0 * l0 + g1 * l1 + g2 * l2 + g3 * l3
        buf[i, 1] = g0 * r0 + g1 * r1 + g2 * r2 + g3 * r3


def read(v) -> dict:
    st = v("st")
    return {"comp_gr_db": tuple(float(x) for x in st[GR_DB:GR_DB + N_BANDS])}
