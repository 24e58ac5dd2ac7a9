"""Stereo: mid/side width above the low crossover, deeper mono bass, and
a correlation guard.

The side passes two first-order shelves (one-pole low-passes ``LP_f``,
bilinear, pre-warped; ``f_x`` the preset's low crossover)::

    a   = s + (w - 1) x (s - LP_2f_x(s))         width, above 2 f_x
    out = a - (1 - w_low) x LP_f_x/2(a)           mono bass, below f_x / 2

so the side gain is ``w`` (the width) well above twice the crossover and
``w_low`` well below half of it.  Why not one broadband gain: what the
multiband's mono bass cannot reach under the crossover is the next band's
LR2 skirt (12 dB/octave), and a broadband width widened that leak again
(issue 10: the side under the crossover rose by up to 2.2 dB from
intensity 5 to 10 on edm, 1.3 dB of it the width); widening the bass is
also what mastering avoids (mono and vinyl compatibility, club systems).
Why first order: ``|1 + j g f/f_c| / |1 + j f/f_c|`` (and its low-shelf
twin) grows with its gain at every frequency, so turning the knob can
never make a cancellation (a 2nd-order high-pass's term crosses 90
degrees below its corner and partly cancels the rest: measured, the side
an octave down rose 5 dB from intensity 9 to 10).  The same holds in an
A/B ramp against the dry side.  Why the corners sit an octave either
side of the crossover: a first-order shelf moves about two octaves, so
with both at the crossover the width still reached under it (on the
demo mix the side below the crossover rose 0.8 dB from intensity 5 to
10) and the mono shelf took 3 dB of the side at the crossover (the side
above it fell from 5 to 8, against the width); an octave apart, each
moves the other's side of the crossover by at most 1 dB.  The width is
then partial from the crossover to about 4 x it (1.7 of 2.9 dB at
2 x, 2.5 dB at 4 x, for edm's 1.4 at intensity 10): the low mids widen
less, as a mastering engineer's width does.

``w_low`` is 1 up to intensity 5; from 5 to 10 it falls to
``1 - mono_bass``: the mono bass the multiband stage completes at 5 keeps
deepening (at 10 with full mono bass the shelf is a first-order high-pass
at half the crossover, on top of the low band's).  At intensity 0 both
gains are exactly 1 and the side passes bit-exact (``s + 0 x ...``).

The width glides per control tick; widening fades out as the correlation
falls toward 0 and clearly out-of-phase material is narrowed (mono
safety).  The mono bass of intensity 0..5 lives in the multiband stage's
low band (it shares the low crossover, so it adds no phase shift).
"""
from __future__ import annotations

import math

from .. import params as P
from .._jit import helper, kernel
from ..biquad import CR, amount, one_pole_coef, smooth_params
from ..layout import Region, region

MAX_WIDTH = 2.0
CORR_TAU_S = 0.3            # correlation meter averaging
WIDTH_TAU_S = 0.05          # width glide
GUARD_CORR = 0.3            # full widening only above this correlation

# regions
CUR, ST, K, LP, LP_Z = range(5)
# ST slots: correlation energies, width (side gain above the crossover) and
# w_low (below it) at the control segment's start and end, correlation
E_LR, E_LL, E_RR, W_START, W_END, CORR, WL_START, WL_END = range(8)
N_ST = 8
# K slots
K_SMOOTH, K_CORR, K_WIDTH = range(3)
# LP slots: each one-pole's b (= b0 = b1) and a1, the width shelf's then
# the mono shelf's; LP_Z: their states
LP_B, LP_A1 = range(2)
MONO_LP = 2
WIDTH_CORNER = 2.0          # x the low crossover
MONO_CORNER = 0.5           # x the low crossover


def regions(fs_hz: int):
    return [Region("cur", P.N_PARAMS), Region("st", N_ST), Region("k", 3),
            Region("lp", 4), Region("lp_z", 2)]


def init(v, fs_hz: int, tgt, k_smooth: float) -> None:
    fs = float(fs_hz)
    v("cur")[:] = tgt
    v("k")[:] = [k_smooth, one_pole_coef(CORR_TAU_S, fs), one_pole_coef(WIDTH_TAU_S, fs, CR)]
    v("st")[W_START:W_END + 1] = wanted_width(tgt)
    v("st")[WL_START:WL_END + 1] = low_side_gain(tgt)
    design_shelves(v("lp"), fs, float(tgt[P.XOVER_HZ]))
    v("lp_z")[:] = 0.0


@kernel
def design_one_pole(lp, o, fs, f_hz):
    """First-order Butterworth low-pass into ``lp[o:o+2]`` by the bilinear
    transform with the corner pre-warped (scipy.signal.butter(1, f_hz, fs=fs))."""
    k = math.tan(math.pi * min(f_hz, 0.45 * fs) / fs)
    lp[o + LP_B] = k / (1.0 + k)
    lp[o + LP_A1] = (k - 1.0) / (k + 1.0)


@kernel
def design_shelves(lp, fs, xover_hz):
    design_one_pole(lp, 0, fs, WIDTH_CORNER * xover_hz)
    design_one_pole(lp, MONO_LP, fs, MONO_CORNER * xover_hz)


def wanted_width(p) -> float:
    """Side gain the parameters ask for above the crossover (before the
    correlation guard)."""
    return min(max(1.0 + (p[P.WIDTH] - 1.0) * p[P.INTENSITY] / 5.0, 0.0), MAX_WIDTH)


@helper
def low_side_gain(p):
    """Side gain below the crossover (``w_low``): 1 up to intensity 5, then
    falling to 1 - mono_bass at 10."""
    deeper = min(max(amount(p[P.INTENSITY]) - 1.0, 0.0), 1.0)
    return 1.0 - min(max(p[P.MONO_BASS], 0.0), 1.0) * deeper


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
    st[WL_START] = st[WL_END]
    st[WL_END] += k_w * (low_side_gain(cur) - st[WL_END])


@kernel
def block(buf, n, n0, fs, tgt, a, lay, base):
    cur = region(a, lay, base + CUR)
    st = region(a, lay, base + ST)
    k = region(a, lay, base + K)
    lp = region(a, lay, base + LP)
    z = region(a, lay, base + LP_Z)
    k_smooth = k[K_SMOOTH]
    k_corr = k[K_CORR]
    k_w = k[K_WIDTH]
    for i in range(n):
        g = n0 + i
        if g % CR == 0:
            if smooth_params(tgt, cur, k_smooth):
                design_shelves(lp, fs, cur[P.XOVER_HZ])
            control_tick(cur, st, k_w)
        frac = ((g % CR) + 1.0) / CR
        w_now = st[W_START] + (st[W_END] - st[W_START]) * frac
        wl_now = st[WL_START] + (st[WL_END] - st[WL_START]) * frac
        m = 0.5 * (buf[i, 0] + buf[i, 1])
        s = 0.5 * (buf[i, 0] - buf[i, 1])
        # the two shelves (TDF-II one-poles: y = b x + z, z = b x - a1 y),
        # written as s + (gain - 1) x part so that gains of exactly 1 give
        # back s exactly
        lo = lp[LP_B] * s + z[0]
        z[0] = lp[LP_B] * s - lp[LP_A1] * lo
        s = s + (w_now - 1.0) * (s - lo)
        lo = lp[MONO_LP + LP_B] * s + z[1]
        z[1] = lp[MONO_LP + LP_B] * s - lp[MONO_LP + LP_A1] * lo
        s = s - (1.0 - wl_now) * lo
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
