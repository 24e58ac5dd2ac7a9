"""Stereo: mid/side width and correlation guard.

The width glides per control tick; widening fades out as the correlation
falls toward 0 and clearly out-of-phase material is narrowed (mono
safety).  Mono bass lives in the multiband stage's low band (it shares the
low crossover, so it adds no phase shift of its own).
"""
from __future__ import annotations

import math

from .. import params as P
from .._jit import kernel
from ..biquad import CR, amount, one_pole_coef, smooth_params
from ..layout import Region, region

MAX_WIDTH = 2.0
CORR_TAU_S = 0.3            # correlation meter averaging
WIDTH_TAU_S = 0.05          # width glide
GUARD_CORR = 0.3            # full widening only above this correlation

# regions
CUR, ST, K = range(3)
# ST slots
E_LR, E_LL, E_RR, W_START, W_END, CORR = range(6)
N_ST = 6
# K slots
K_SMOOTH, K_CORR, K_WIDTH = range(3)


def regions(fs_hz: int):
    return [Region("cur", P.N_PARAMS), Region("st", N_ST), Region("k", 3)]


def init(v, fs_hz: int, tgt, k_smooth: float) -> None:
    fs = float(fs_hz)
    v("cur")[:] = tgt
    v("k")[:] = [k_smooth, one_pole_coef(CORR_TAU_S, fs), one_pole_coef(WIDTH_TAU_S, fs, CR)]
    v("st")[W_START:W_END + 1] = wanted_width(tgt)


def wanted_width(p) -> float:
    """Side gain the parameters ask for (before the correlation guard)."""
    return min(max(1.0 + (p[P.WIDTH] - 1.0) * p[P.INTENSITY] / 5.0, 0.0), MAX_WIDTH)


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
    cur = region(a, lay, base + CUR)
    st = region(a, lay, base + ST)
    k = region(a, lay, base + K)
    k_smooth = k[K_SMOOTH]
    k_corr = k[K_CORR]
    k_w = k[K_WIDTH]
    for i in range(n):
        g = n0 + i
        if g % CR == 0:
            smooth_params(tgt, cur, k_smooth)
            control_tick(cur, st, k_w)
        frac = ((g % CR) + 1.0) / CR
        w_now = st[W_START] + (st[W_END] - st[W_START]) * frac
        m = 0.5 * (buf[i, 0] + buf[i, 1])
        s = 0.5 * (buf[i, 0] - buf[i, 1])
        s = s * w_now
        l = m + s
        r = m - s
        buf[i, 0] = l
        buf[i, 1] = r
        st[E_LR] += k_corr * (l * r - st[E_LR])
        st[E_LL] += k_corr * (l * l - st[E_LL])
        st[E_RR] += k_corr * (r * r - st[E_RR])


def read(v) -> dict:
    st = v("st")
    return {"correlation": float(st[CORR]), "width": float(st[W_END])}
