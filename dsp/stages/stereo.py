"""Stereo: mid/side width, mono bass, correlation guard.

Mono bass: the side signal is high-passed (LR4 at ``mono_below_hz``) and
the mid gets the matching all-pass, so M and S stay phase-aligned.  The
width glides per control tick; widening fades out as the correlation falls
toward 0 and clearly out-of-phase material is narrowed (mono safety).
"""
from __future__ import annotations

import math

from .. import params as P
from .._jit import kernel
from ..biquad import CR, amount, one_pole_coef, smooth_params
from ..design import SQRT1_2, design_allpass, design_highpass
from ..layout import Region, region
from ..regstate import biquad_step

MIN_CORNER_HZ = 10.0
MAX_WIDTH = 2.0
CORR_TAU_S = 0.3            # correlation meter averaging
WIDTH_TAU_S = 0.05          # width glide
GUARD_CORR = 0.3            # full widening only above this correlation

# regions
CUR, SOS, Z, ST, K = range(5)
# SOS rows: side HP, side HP, mid AP; Z: their mono states
HP1, HP2, AP = range(3)
# ST slots
E_LR, E_LL, E_RR, W_START, W_END, CORR = range(6)
N_ST = 6
# K slots
K_SMOOTH, K_CORR, K_WIDTH = range(3)


def regions(fs_hz: int):
    return [Region("cur", P.N_PARAMS), Region("sos", 15), Region("z", 6),
            Region("st", N_ST), Region("k", 3)]


def init(v, fs_hz: int, tgt, k_smooth: float) -> None:
    fs = float(fs_hz)
    v("cur")[:] = tgt
    v("k")[:] = [k_smooth, one_pole_coef(CORR_TAU_S, fs), one_pole_coef(WIDTH_TAU_S, fs, CR)]
    design(fs, v("cur"), v("sos"))
    v("st")[W_START:W_END + 1] = wanted_width(tgt)


def wanted_width(p) -> float:
    """Side gain the parameters ask for (before the correlation guard)."""
    return min(max(1.0 + (p[P.WIDTH] - 1.0) * p[P.INTENSITY] / 5.0, 0.0), MAX_WIDTH)


@kernel
def design(fs, cur, sos):
    f = max(cur[P.MONO_BELOW_HZ], MIN_CORNER_HZ)
    design_highpass(sos[0:5], fs, f, SQRT1_2)
    design_highpass(sos[5:10], fs, f, SQRT1_2)
    design_allpass(sos[10:15], fs, f, SQRT1_2)


@kernel
def control_tick(cur, st, k_w):
    w = 1.0 + (cur[P.WIDTH] - 1.0) * amount(cur[P.INTENSITY])
    w = min(max(w, 0.0), MAX_WIDTH)
    corr = st[E_LR] / math.sqrt(st[E_LL] * st[E_RR] + 1e-30)
    st[CORR] = corr
    if st[E_LL] + st[E_RR] > 1e-10:
        guard = min(max(corr / GUARD_CORR, 0.0), 1.0)
        if w > 1.0:
            w = 1.0 + (w - 1.0) * guard
        if corr < 0.0:
            w *= 1.0 + 0.5 * max(corr, -1.0)
    st[W_START] = st[W_END]
    st[W_END] += k_w * (w - st[W_END])


@kernel
def block(buf, n, n0, fs, tgt, a, lay, base):
    """Filter states and coefficients, the correlation sums and the width
    ramp stay in locals over the sample loop (see ``regstate``); they go
    through the arena around the control tick, which reads and redesigns
    them."""
    cur = region(a, lay, base + CUR)
    sos = region(a, lay, base + SOS)
    z = region(a, lay, base + Z)
    st = region(a, lay, base + ST)
    k = region(a, lay, base + K)
    k_smooth = k[K_SMOOTH]
    k_corr = k[K_CORR]
    k_w = k[K_WIDTH]
    h0, h1, h2, h3, h4 = sos[5 * HP1], sos[5 * HP1 + 1], sos[5 * HP1 + 2], sos[5 * HP1 + 3], sos[5 * HP1 + 4]
    q0, q1, q2, q3, q4 = sos[5 * HP2], sos[5 * HP2 + 1], sos[5 * HP2 + 2], sos[5 * HP2 + 3], sos[5 * HP2 + 4]
    p0, p1, p2, p3, p4 = sos[5 * AP], sos[5 * AP + 1], sos[5 * AP + 2], sos[5 * AP + 3], sos[5 * AP + 4]
    zh0, zh1 = z[2 * HP1], z[2 * HP1 + 1]
    zq0, zq1 = z[2 * HP2], z[2 * HP2 + 1]
    zp0, zp1 = z[2 * AP], z[2 * AP + 1]
    e_lr = st[E_LR]
    e_ll = st[E_LL]
    e_rr = st[E_RR]
    w_start = st[W_START]
    w_end = st[W_END]
    for i in range(n):
        g = n0 + i
        if g % CR == 0:
            st[E_LR] = e_lr
            st[E_LL] = e_ll
            st[E_RR] = e_rr
            if smooth_params(tgt, cur, k_smooth):
                design(fs, cur, sos)
                h0, h1, h2, h3, h4 = (sos[5 * HP1], sos[5 * HP1 + 1], sos[5 * HP1 + 2],
                                      sos[5 * HP1 + 3], sos[5 * HP1 + 4])
                q0, q1, q2, q3, q4 = (sos[5 * HP2], sos[5 * HP2 + 1], sos[5 * HP2 + 2],
                                      sos[5 * HP2 + 3], sos[5 * HP2 + 4])
                p0, p1, p2, p3, p4 = (sos[5 * AP], sos[5 * AP + 1], sos[5 * AP + 2],
                                      sos[5 * AP + 3], sos[5 * AP + 4])
            control_tick(cur, st, k_w)
            w_start = st[W_START]
            w_end = st[W_END]
        frac = ((g % CR) + 1.0) / CR
        w_now = w_start + (w_end - w_start) * frac
        m = 0.5 * (buf[i, 0] + buf[i, 1])
        s = 0.5 * (buf[i, 0] - buf[i, 1])
        m, zp0, zp1 = biquad_step(p0, p1, p2, p3, p4, zp0, zp1, m)
        s, zh0, zh1 = biquad_step(h0, h1, h2, h3, h4, zh0, zh1, s)
        s, zq0, zq1 = biquad_step(q0, q1, q2, q3, q4, zq0, zq1, s)
        s = s * w_now
        l = m + s
        r = m - s
        buf[i, 0] = l
        buf[i, 1] = r
        e_lr += k_corr * (l * r - e_lr)
        e_ll += k_corr * (l * l - e_ll)
        e_rr += k_corr * (r * r - e_rr)
    z[2 * HP1], z[2 * HP1 + 1] = zh0, zh1
    z[2 * HP2], z[2 * HP2 + 1] = zq0, zq1
    z[2 * AP], z[2 * AP + 1] = zp0, zp1
    st[E_LR] = e_lr
    st[E_LL] = e_ll
    st[E_RR] = e_rr


def read(v) -> dict:
    st = v("st")
    return {"correlation": float(st[CORR]), "width": float(st[W_END])}
