"""Tonal EQ: the subsonic high-pass and the preset's four sections (low
shelf, peak, peak, high shelf): the genre's character, scaled by
intensity.  Filters (re)design from the smoothed parameters at control
rate, and while they move the coefficients glide per sample from the
last design to the new one (a step every 32 samples zippered a bass tone
at -49 dBc while the intensity knob turned, or the A/B switch went to
intensity 0).  The adaptive correction toward the genre's target is ``tone`` (after
the compressor)."""
from __future__ import annotations

from .. import params as P
from .._jit import helper, kernel
from ..biquad import CR, amount, biquad_tick, smooth_params
from ..design import SQRT1_2, design_highpass, design_highshelf, design_lowshelf, design_peak
from ..layout import Region, region

SECTIONS = 5                # subsonic HP, low shelf, peak, peak, high shelf

# regions
CUR, SOS, SOS0, Z, K = range(5)
K_SMOOTH, K_MOVING = range(2)


def regions(fs_hz: int):
    return [Region("cur", P.N_PARAMS), Region("sos", SECTIONS * 5), Region("sos0", SECTIONS * 5),
            Region("z", SECTIONS * 4), Region("k", 2)]


def init(v, fs_hz: int, tgt, k_smooth: float) -> None:
    v("cur")[:] = tgt
    v("k")[:] = [k_smooth, 0.0]
    design(float(fs_hz), v("cur"), v("sos"))
    v("sos0")[:] = v("sos")


@kernel
def design(fs, cur, sos):
    """(Re)design the preset's sections from the smoothed params."""
    amt = amount(cur[P.INTENSITY])
    design_highpass(sos[0:5], fs, cur[P.SUBSONIC_HZ], SQRT1_2)
    b = P.EQ_BASE
    design_lowshelf(sos[5:10], fs, cur[b], cur[b + 1] * amt, cur[b + 2])
    design_peak(sos[10:15], fs, cur[b + 3], cur[b + 4] * amt, cur[b + 5])
    design_peak(sos[15:20], fs, cur[b + 6], cur[b + 7] * amt, cur[b + 8])
    design_highshelf(sos[20:25], fs, cur[b + 9], cur[b + 10] * amt, cur[b + 11])


@helper
def _glide_tick(c0, c1, o, frac, z, zo, x):
    """A biquad whose coefficients move linearly c0[o:o+5] -> c1[o:o+5]."""
    b0 = c0[o] + frac * (c1[o] - c0[o])
    b1 = c0[o + 1] + frac * (c1[o + 1] - c0[o + 1])
    b2 = c0[o + 2] + frac * (c1[o + 2] - c0[o + 2])
    a1 = c0[o + 3] + frac * (c1[o + 3] - c0[o + 3])
    a2 = c0[o + 4] + frac * (c1[o + 4] - c0[o + 4])
    y = b0 * x + z[zo]
    z[zo] = b1 * x - a1 * y + z[zo + 1]
    z[zo + 1] = b2 * x - a2 * y
    return y


@kernel
def block(buf, n, n0, fs, tgt, a, lay, base):
    cur = region(a, lay, base + CUR)
    sos = region(a, lay, base + SOS)
    sos0 = region(a, lay, base + SOS0)
    z = region(a, lay, base + Z)
    k = region(a, lay, base + K)
    k_smooth = k[K_SMOOTH]
    for i in range(n):
        g = n0 + i
        if g % CR == 0:
            if k[K_MOVING] != 0.0:
                sos0[:] = sos
                k[K_MOVING] = 0.0
            if smooth_params(tgt, cur, k_smooth):
                design(fs, cur, sos)
                k[K_MOVING] = 1.0
        if k[K_MOVING] != 0.0:
            frac = ((g % CR) + 1.0) / CR
            for ch in range(2):
                x = buf[i, ch]
                for s in range(SECTIONS):
                    x = _glide_tick(sos0, sos, 5 * s, frac, z, 4 * s + 2 * ch, x)
                buf[i, ch] = x
        else:
            for ch in range(2):
                x = buf[i, ch]
                for s in range(SECTIONS):
                    x = biquad_tick(sos, 5 * s, z, 4 * s + 2 * ch, x)
                buf[i, ch] = x


def read(v) -> dict:
    return {}
