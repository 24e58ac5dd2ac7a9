"""Tonal EQ: subsonic high-pass, four preset slots and a slow adaptive
correction toward the genre's octave-band target.

The octave analysis runs on the mid signal of the EQ *input*, so the
correction is open-loop (it cannot oscillate).  Sections: subsonic HP,
low shelf, peak, peak, high shelf, adaptive 400 Hz peak, adaptive 2.5 kHz
peak.  Filters (re)design from the smoothed parameters at control rate.
"""
from __future__ import annotations

import math

from .. import params as P
from .._jit import helper, kernel
from ..biquad import CR, amount, biquad_tick, one_pole_coef, smooth_params
from ..design import (OCTAVE_CENTRES_HZ, SQRT1_2, design_bandpass, design_highpass,
                      design_highshelf, design_lowshelf, design_peak)
from ..layout import Region, region

SECTIONS = 7
N_OCTAVES = 10
ADAPT_PERIOD = 1024         # samples between adaptive-EQ updates (global grid)
ADAPT_LOWMID_HZ = 400.0
ADAPT_PRESENCE_HZ = 2500.0
ADAPT_LIMIT_DB = 3.0
ANALYSIS_TAU_S = 3.0        # octave power averaging
ADAPT_TAU_S = 6.0           # adaptive gains' time constant
SILENCE_POWER = 1e-8        # below about -80 dBFS: nothing to learn from

# regions
CUR, SOS, Z, ANA_SOS, ANA_Z, ANA_POW, ADAPT, K = range(8)
# ADAPT slots: gains (dB) of the low shelf, 400 Hz, 2.5 kHz, high shelf
A_LOW, A_LOWMID, A_PRESENCE, A_HIGH = range(4)
# K slots: per-tick parameter glide, per-sample octave power, per-update adapt
K_SMOOTH, K_POW, K_ADAPT = range(3)


def regions(fs_hz: int):
    return [Region("cur", P.N_PARAMS), Region("sos", SECTIONS * 5), Region("z", SECTIONS * 4),
            Region("ana_sos", N_OCTAVES * 5), Region("ana_z", N_OCTAVES * 2),
            Region("ana_pow", N_OCTAVES), Region("adapt", 4), Region("k", 3)]


def init(v, fs_hz: int, tgt, k_smooth: float) -> None:
    fs = float(fs_hz)
    v("cur")[:] = tgt
    v("k")[:] = [k_smooth, one_pole_coef(ANALYSIS_TAU_S, fs), one_pole_coef(ADAPT_TAU_S, fs, ADAPT_PERIOD)]
    ana = v("ana_sos")
    for b, fc in enumerate(OCTAVE_CENTRES_HZ):
        design_bandpass(ana[5 * b:5 * b + 5], fs, min(fc, 0.45 * fs), math.sqrt(2.0))
    design(fs, v("cur"), v("adapt"), v("sos"))


@kernel
def design(fs, cur, adapt, sos):
    """(Re)design the cascade from smoothed params and adaptive gains."""
    amt = amount(cur[P.INTENSITY])
    design_highpass(sos[0:5], fs, cur[P.SUBSONIC_HZ], SQRT1_2)
    b = P.EQ_BASE
    design_lowshelf(sos[5:10], fs, cur[b], cur[b + 1] * amt + adapt[A_LOW], cur[b + 2])
    design_peak(sos[10:15], fs, cur[b + 3], cur[b + 4] * amt, cur[b + 5])
    design_peak(sos[15:20], fs, cur[b + 6], cur[b + 7] * amt, cur[b + 8])
    design_highshelf(sos[20:25], fs, cur[b + 9], cur[b + 10] * amt + adapt[A_HIGH], cur[b + 11])
    design_peak(sos[25:30], fs, ADAPT_LOWMID_HZ, adapt[A_LOWMID], 0.7)
    design_peak(sos[30:35], fs, ADAPT_PRESENCE_HZ, adapt[A_PRESENCE], 0.7)


@kernel
def _octave_deviation(cur, ana_pow, b):
    """Genre target minus programme level in octave b, dB."""
    return cur[P.TARGET_SPECTRUM + b] - 10.0 * math.log10(ana_pow[b] + 1e-20)


@kernel
def _group_want(cur, ana_pow, lo, hi, mean, scale):
    """Wanted correction for octaves lo..hi-1: mean deviation, scaled, bounded."""
    g = 0.0
    for b in range(lo, hi):
        g += _octave_deviation(cur, ana_pow, b) - mean
    return min(max(scale * g / (hi - lo), -ADAPT_LIMIT_DB), ADAPT_LIMIT_DB)


@kernel
def adapt_update(cur, ana_pow, adapt, k_adapt):
    """Move the 4 adaptive gains toward (genre target - programme spectrum).

    Octave levels are compared after removing their means (only the *shape*
    matters; loudness is the leveler's job).  Groups: 31.5-125 Hz -> low
    shelf, 250-500 Hz -> 400 Hz peak, 2-4 kHz -> presence peak, 8-16 kHz ->
    high shelf.  Bounded; frozen when the programme is near silence.
    """
    total = 0.0
    for b in range(N_OCTAVES):
        total += ana_pow[b]
    if total < SILENCE_POWER:
        return
    mean = 0.0
    for b in range(N_OCTAVES):
        mean += _octave_deviation(cur, ana_pow, b)
    mean /= N_OCTAVES
    scale = cur[P.ADAPT_AMOUNT] * 0.5 * amount(cur[P.INTENSITY])
    want0 = _group_want(cur, ana_pow, 0, 3, mean, scale)
    want1 = _group_want(cur, ana_pow, 3, 5, mean, scale)
    want2 = _group_want(cur, ana_pow, 6, 8, mean, scale)
    want3 = _group_want(cur, ana_pow, 8, 10, mean, scale)
    adapt[A_LOW] += k_adapt * (want0 - adapt[A_LOW])
    adapt[A_LOWMID] += k_adapt * (want1 - adapt[A_LOWMID])
    adapt[A_PRESENCE] += k_adapt * (want2 - adapt[A_PRESENCE])
    adapt[A_HIGH] += k_adapt * (want3 - adapt[A_HIGH])


@helper
def analyse_tick(m, ana_sos, ana_z, ana_pow, k_pow):
    """One mid sample into the octave-band power averages."""
    for b in range(N_OCTAVES):
        y = biquad_tick(ana_sos, 5 * b, ana_z, 2 * b, m)
        ana_pow[b] += k_pow * (y * y - ana_pow[b])


@kernel
def block(buf, n, n0, fs, tgt, a, lay, base):
    cur = region(a, lay, base + CUR)
    sos = region(a, lay, base + SOS)
    z = region(a, lay, base + Z)
    ana_sos = region(a, lay, base + ANA_SOS)
    ana_z = region(a, lay, base + ANA_Z)
    ana_pow = region(a, lay, base + ANA_POW)
    adapt = region(a, lay, base + ADAPT)
    k = region(a, lay, base + K)
    k_smooth = k[K_SMOOTH]
    k_pow = k[K_POW]
    k_adapt = k[K_ADAPT]
    for i in range(n):
        g = n0 + i
        redesign = False
        if g % CR == 0:
            if smooth_params(tgt, cur, k_smooth):
                redesign = True
        if g % ADAPT_PERIOD == 0:
            adapt_update(cur, ana_pow, adapt, k_adapt)
            redesign = True
        if redesign:
            design(fs, cur, adapt, sos)
        analyse_tick(0.5 * (buf[i, 0] + buf[i, 1]), ana_sos, ana_z, ana_pow, k_pow)
        for ch in range(2):
            x = buf[i, ch]
            for s in range(SECTIONS):
                x = biquad_tick(sos, 5 * s, z, 4 * s + 2 * ch, x)
            buf[i, ch] = x


def read(v) -> dict:
    return {"adaptive_eq_db": tuple(float(x) for x in v("adapt"))}
