"""Allocation-free numba kernels: one small loop nest each, caller-owned state.

Every kernel processes ``buf[:n]`` (float64, shape (N, 2), stereo) in place
and mutates only the state arrays it is given.  ``n0`` is the global index of
``buf[0]``: control-rate work happens when ``(n0 + i) % CONTROL_PERIOD == 0``
so the result does not depend on how the stream is cut into blocks
(streaming == one-shot, bit for bit).

Biquads are transposed direct form II; coefficient rows ``[b0,b1,b2,a1,a2]``;
state ``z[section, channel, 0:2]``.
"""
from __future__ import annotations

import math

import numpy as np

from . import params as P
from ._jit import kernel
from .design import (design_allpass, design_bandpass, design_highpass,
                     design_highshelf, design_lowshelf, design_lr4, design_peak,
                     SQRT1_2)

CR = P.CONTROL_PERIOD


# ---------------------------------------------------------------- primitives

@kernel
def biquad_tick(c, z, x):
    """One sample through one TDF-II biquad ``c`` with state ``z`` (2,)."""
    y = c[0] * x + z[0]
    z[0] = c[1] * x - c[3] * y + z[1]
    z[1] = c[2] * x - c[4] * y
    return y


@kernel
def biquad_cascade(buf, n, sos, z):
    """Run ``buf[:n]`` (N, 2) through the cascade ``sos`` (S, 5), state ``z`` (S, 2, 2)."""
    ns = sos.shape[0]
    for i in range(n):
        for ch in range(2):
            x = buf[i, ch]
            for s in range(ns):
                x = biquad_tick(sos[s], z[s, ch], x)
            buf[i, ch] = x


@kernel
def smooth_params(tgt, cur, k):
    """Glide ``cur`` toward ``tgt`` (one-pole, coefficient ``k``); snap when close.

    Returns True while any value is still moving (filters need re-design).
    """
    moving = False
    for j in range(tgt.shape[0]):
        d = tgt[j] - cur[j]
        if d != 0.0:
            if abs(d) <= 1e-6 * (1.0 + abs(tgt[j])):
                cur[j] = tgt[j]
            else:
                cur[j] += k * d
            moving = True
    return moving


@kernel
def amount(intensity):
    """Macro depth for the stages: 0 at intensity 0, 1 at 5 (the preset's
    nominal setting), 2 at 10."""
    return min(max(intensity, 0.0), 10.0) / 5.0


# ---------------------------------------------------------------- input guard

@kernel
def guard_sample(v):
    """NaN/Inf -> 0; finite values clamped to +-1000 (+60 dBFS).  The wet
    and the dry path both use it, so intensity 0 stays bit exact."""
    if not math.isfinite(v):
        return 0.0
    return min(max(v, -1000.0), 1000.0)


@kernel
def guard_block(x_in, buf, n, counters):
    """Copy float32 input into the float64 work buffer; NaN/Inf -> 0.

    Finite samples are clamped to +-1000 (+60 dBFS) so no later square can
    overflow.  ``counters[0]`` accumulates the number of non-finite samples.
    """
    bad = 0
    for i in range(n):
        for ch in range(2):
            v = np.float64(x_in[i, ch])
            if not math.isfinite(v):
                bad += 1
            buf[i, ch] = guard_sample(v)
    counters[0] += bad


# ---------------------------------------------------------------- tonal EQ

EQ_SECTIONS = 7        # subsonic HP, lowshelf, peak, peak, highshelf, adapt 400 Hz, adapt 2.5 kHz
N_OCTAVES = 10
ADAPT_PERIOD = 1024    # samples between adaptive-EQ updates (global grid)
ADAPT_LOWMID_HZ = 400.0
ADAPT_PRESENCE_HZ = 2500.0


@kernel
def eq_design(fs, cur, adapt, sos):
    """(Re)design the EQ cascade from smoothed params and adaptive gains."""
    amt = amount(cur[P.INTENSITY])
    design_highpass(sos[0], fs, cur[P.SUBSONIC_HZ], SQRT1_2)
    b = P.EQ_BASE
    design_lowshelf(sos[1], fs, cur[b], cur[b + 1] * amt + adapt[0], cur[b + 2])
    design_peak(sos[2], fs, cur[b + 3], cur[b + 4] * amt, cur[b + 5])
    design_peak(sos[3], fs, cur[b + 6], cur[b + 7] * amt, cur[b + 8])
    design_highshelf(sos[4], fs, cur[b + 9], cur[b + 10] * amt + adapt[3], cur[b + 11])
    design_peak(sos[5], fs, ADAPT_LOWMID_HZ, adapt[1], 0.7)
    design_peak(sos[6], fs, ADAPT_PRESENCE_HZ, adapt[2], 0.7)


@kernel
def _octave_deviation(cur, ana_pow, b):
    """Genre target minus programme level in octave b, dB."""
    return cur[P.TARGET_SPECTRUM + b] - 10.0 * math.log10(ana_pow[b] + 1e-20)


@kernel
def _group_want(cur, ana_pow, lo, hi, mean, scale):
    """Wanted correction for octaves lo..hi-1: mean deviation, scaled, +-3 dB."""
    g = 0.0
    for b in range(lo, hi):
        g += _octave_deviation(cur, ana_pow, b) - mean
    return min(max(scale * g / (hi - lo), -3.0), 3.0)


@kernel
def adapt_update(cur, ana_pow, adapt, k_adapt):
    """Move the 4 adaptive gains toward (genre target - programme spectrum).

    Octave levels are compared after removing their means (only the *shape*
    matters; loudness is the leveler's job).  Groups: 31.5-125 Hz -> low
    shelf, 250-500 Hz -> 400 Hz peak, 2-4 kHz -> presence peak, 8-16 kHz ->
    high shelf.  Bounded to +-3 dB; frozen when the programme is near silence.
    """
    total = 0.0
    for b in range(N_OCTAVES):
        total += ana_pow[b]
    if total < 1e-8:          # below about -80 dBFS: nothing to learn from
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
    adapt[0] += k_adapt * (want0 - adapt[0])
    adapt[1] += k_adapt * (want1 - adapt[1])
    adapt[2] += k_adapt * (want2 - adapt[2])
    adapt[3] += k_adapt * (want3 - adapt[3])


@kernel
def eq_block(buf, n, n0, fs, tgt, cur, sos, z, ana_sos, ana_z, ana_pow, adapt, consts):
    """Tonal EQ: subsonic HP + 4 preset slots + slow adaptive correction.

    consts: [k_smooth (per tick), k_pow (per sample, ~3 s), k_adapt (per update)]
    The octave analysis runs on the mid signal of the EQ *input*, so the
    correction is open-loop (cannot oscillate).
    """
    k_smooth = consts[0]
    k_pow = consts[1]
    k_adapt = consts[2]
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
            eq_design(fs, cur, adapt, sos)
        m = 0.5 * (buf[i, 0] + buf[i, 1])
        for b in range(N_OCTAVES):
            y = biquad_tick(ana_sos[b], ana_z[b], m)
            ana_pow[b] += k_pow * (y * y - ana_pow[b])
        for ch in range(2):
            x = buf[i, ch]
            for s in range(EQ_SECTIONS):
                x = biquad_tick(sos[s], z[s, ch], x)
            buf[i, ch] = x


# ---------------------------------------------------------------- multiband compressor
#
#   x -+- LP4(f2) - AP(f3) -+- LP4(f1) -> band 0
#      |                    +- HP4(f1) -> band 1
#      +- HP4(f2) - AP(f1) -+- LP4(f3) -> band 2
#                           +- HP4(f3) -> band 3
#
# Each branch gets the all-pass of the split it does not take part in, so
# all four bands share one phase response and sum to an all-pass (flat
# magnitude).  xo_sos rows: split k (f1, f2, f3) at 5k: LP, LP, HP, HP, AP.

XO_ROWS = 15
XO_STATES = 14


@kernel
def gain_computer_db(level_db, thr_db, knee_db, slope):
    """Static curve, soft knee (Giannoulis, Massberg & Reiss, JAES 2012, eq. 4).

    Returns the requested gain *reduction* in dB (>= 0).  ``slope`` is
    1 - 1/ratio (scaled by the intensity depth).
    """
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
def tick_coef(time_ms, fs):
    """One-pole coefficient for a time constant sampled once per control tick."""
    return math.exp(-CR / (max(time_ms, 0.01) * 1e-3 * fs))


@kernel
def multiband_block(buf, n, n0, fs, tgt, cur, xo_sos, xo_z, st, consts):
    """4-band linked-stereo compressor on Linkwitz–Riley 4 bands.

    st: [0:4] segment peak, [4:8] GR dB, [8:12] gain at segment start,
        [12:16] gain at segment end, [16] max GR dB since read.
    consts: [k_smooth]
    """
    k_smooth = consts[0]
    for i in range(n):
        g = n0 + i
        if g % CR == 0:
            if smooth_params(tgt, cur, k_smooth):
                design_lr4(xo_sos, 0, fs, cur[P.XOVER_HZ])
                design_lr4(xo_sos, 5, fs, cur[P.XOVER_HZ + 1])
                design_lr4(xo_sos, 10, fs, cur[P.XOVER_HZ + 2])
            depth = amount(cur[P.INTENSITY])
            for b in range(P.N_BANDS):
                o = P.BAND_BASE + b * P.BAND_STRIDE
                ratio = max(cur[o + 1], 1.0)
                slope = min((1.0 - 1.0 / ratio) * depth, 0.95)
                gr = compressor_tick(st[4 + b], st[b], cur[P.TARGET_LUFS] + cur[o],
                                     cur[o + 2], slope, tick_coef(cur[o + 3], fs),
                                     tick_coef(cur[o + 4], fs))
                st[4 + b] = gr
                st[8 + b] = st[12 + b]
                st[12 + b] = 10.0 ** (-gr / 20.0)
                st[b] = 0.0
                if gr > st[16]:
                    st[16] = gr
        frac = ((g % CR) + 1.0) / CR
        g0 = st[8] + (st[12] - st[8]) * frac
        g1 = st[9] + (st[13] - st[9]) * frac
        g2 = st[10] + (st[14] - st[10]) * frac
        g3 = st[11] + (st[15] - st[11]) * frac
        for ch in range(2):
            x = buf[i, ch]
            lo = biquad_tick(xo_sos[6], xo_z[1, ch], biquad_tick(xo_sos[5], xo_z[0, ch], x))
            hi = biquad_tick(xo_sos[8], xo_z[3, ch], biquad_tick(xo_sos[7], xo_z[2, ch], x))
            lo = biquad_tick(xo_sos[14], xo_z[4, ch], lo)
            b0 = biquad_tick(xo_sos[1], xo_z[6, ch], biquad_tick(xo_sos[0], xo_z[5, ch], lo))
            b1 = biquad_tick(xo_sos[3], xo_z[8, ch], biquad_tick(xo_sos[2], xo_z[7, ch], lo))
            hi = biquad_tick(xo_sos[4], xo_z[9, ch], hi)
            b2 = biquad_tick(xo_sos[11], xo_z[11, ch], biquad_tick(xo_sos[10], xo_z[10, ch], hi))
            b3 = biquad_tick(xo_sos[13], xo_z[13, ch], biquad_tick(xo_sos[12], xo_z[12, ch], hi))
            st[0] = max(st[0], abs(b0))
            st[1] = max(st[1], abs(b1))
            st[2] = max(st[2], abs(b2))
            st[3] = max(st[3], abs(b3))
            buf[i, ch] = g0 * b0 + g1 * b1 + g2 * b2 + g3 * b3


@kernel
def crossover_split(x, n, xo_sos, xo_z, bands):
    """The band split alone (for tests): mono ``x[:n]`` -> ``bands[:n, 4]``."""
    for i in range(n):
        v = x[i]
        lo = biquad_tick(xo_sos[6], xo_z[1, 0], biquad_tick(xo_sos[5], xo_z[0, 0], v))
        hi = biquad_tick(xo_sos[8], xo_z[3, 0], biquad_tick(xo_sos[7], xo_z[2, 0], v))
        lo = biquad_tick(xo_sos[14], xo_z[4, 0], lo)
        bands[i, 0] = biquad_tick(xo_sos[1], xo_z[6, 0], biquad_tick(xo_sos[0], xo_z[5, 0], lo))
        bands[i, 1] = biquad_tick(xo_sos[3], xo_z[8, 0], biquad_tick(xo_sos[2], xo_z[7, 0], lo))
        hi = biquad_tick(xo_sos[4], xo_z[9, 0], hi)
        bands[i, 2] = biquad_tick(xo_sos[11], xo_z[11, 0], biquad_tick(xo_sos[10], xo_z[10, 0], hi))
        bands[i, 3] = biquad_tick(xo_sos[13], xo_z[13, 0], biquad_tick(xo_sos[12], xo_z[12, 0], hi))


# ---------------------------------------------------------------- stereo

@kernel
def stereo_block(buf, n, n0, fs, tgt, cur, sos, z, st, consts):
    """Mid/side width, mono bass (side high-passed, LR4, mid given the
    matching all-pass so M and S stay phase-aligned), correlation guard.

    sos rows: HP, HP (side), AP (mid).  z (3, 2): mono states.
    st: [0] E[LR], [1] E[L^2], [2] E[R^2], [3] width at segment start,
        [4] width at segment end, [5] correlation.
    consts: [k_smooth, k_corr (per sample, ~300 ms), k_width (per tick)]
    """
    k_smooth = consts[0]
    k_corr = consts[1]
    k_w = consts[2]
    for i in range(n):
        g = n0 + i
        if g % CR == 0:
            if smooth_params(tgt, cur, k_smooth):
                f = max(cur[P.MONO_BELOW_HZ], 10.0)
                design_highpass(sos[0], fs, f, SQRT1_2)
                design_highpass(sos[1], fs, f, SQRT1_2)
                design_allpass(sos[2], fs, f, SQRT1_2)
            w = 1.0 + (cur[P.WIDTH] - 1.0) * amount(cur[P.INTENSITY])
            w = min(max(w, 0.0), 2.0)
            corr = st[0] / math.sqrt(st[1] * st[2] + 1e-30)
            st[5] = corr
            if st[1] + st[2] > 1e-10:
                # Guard: widening fades out as correlation falls toward 0;
                # clearly out-of-phase material is narrowed (mono safety).
                guard = min(max(corr / 0.3, 0.0), 1.0)
                if w > 1.0:
                    w = 1.0 + (w - 1.0) * guard
                if corr < 0.0:
                    w *= 1.0 + 0.5 * max(corr, -1.0)
            st[3] = st[4]
            st[4] += k_w * (w - st[4])
        frac = ((g % CR) + 1.0) / CR
        w_now = st[3] + (st[4] - st[3]) * frac
        m = 0.5 * (buf[i, 0] + buf[i, 1])
        s = 0.5 * (buf[i, 0] - buf[i, 1])
        m = biquad_tick(sos[2], z[2], m)
        s = biquad_tick(sos[1], z[1], biquad_tick(sos[0], z[0], s)) * w_now
        l = m + s
        r = m - s
        buf[i, 0] = l
        buf[i, 1] = r
        st[0] += k_corr * (l * r - st[0])
        st[1] += k_corr * (l * l - st[1])
        st[2] += k_corr * (r * r - st[2])


# ---------------------------------------------------------------- leveler (AGC)

LEV_MAX_BOOST_DB = 18.0
LEV_MAX_CUT_DB = -12.0
LEV_TRIM_DB = 6.0
LEV_TRIM_TAU_S = 4.5        # feedback trim integrator time constant
LEV_ABS_GATE_LUFS = -50.0   # never lift anything quieter (a -80 dBFS floor stays put)
LEV_REL_GATE_LU = -20.0     # nor passages this far below the programme's long-term level
LEV_WINDOW = 30             # sub-blocks of 100 ms: the ~3 s short-term window of BS.1770
LEV_ACQUIRE_S = 3.0
LEV_MOMENTARY_HEADROOM_LU = 3.0


@kernel
def leveler_block(buf, n, n0, tgt, kw_sos, kw_z, ring, st, sub_n, out_short_lufs, lim_gr_db):
    """Steer the programme toward the target loudness.

    Feed-forward part: K-weighted loudness of the leveler input over ~3 s
    (BS.1770 short-term window), gain = target - loudness, rising slowly and
    falling faster.  Feedback trim: the chain's *output* short-term loudness
    (``out_short_lufs``, from the output meter) corrects what the compressor
    and limiter take away; bounded to +-6 dB and frozen while the limiter
    already reduces more than 3 dB, so it cannot wind up to maximum gain.
    Updates every 100 ms (on the global grid); the gain is interpolated
    linearly per sample in between.

    st: [0] power acc, [1] ring pos, [2] sub-blocks filled, [3] ff gain dB,
        [4] trim dB, [5] gain at sub-block start, [6] gain at end,
        [7] long-term input loudness, [8] seconds of gated programme,
        [9] input short-term LUFS, [10] gate open, [11] total gain dB,
        [12] long-term output power (energy mean of short-term)
    """
    intensity = tgt[P.INTENSITY]
    target = tgt[P.TARGET_LUFS]
    sub_pos = n0 % sub_n          # position in the 100 ms sub-block (global grid)
    for i in range(n):
        yl = buf[i, 0]
        yr = buf[i, 1]
        for s in range(2):
            yl = biquad_tick(kw_sos[s], kw_z[s, 0], yl)
            yr = biquad_tick(kw_sos[s], kw_z[s, 1], yr)
        st[0] += yl * yl + yr * yr
        sub_pos += 1
        gain = st[5] + (st[6] - st[5]) * sub_pos / sub_n
        buf[i, 0] *= gain
        buf[i, 1] *= gain
        if sub_pos == sub_n:
            sub_pos = 0
            p = int(st[1])
            ring[p] = st[0] / sub_n
            st[1] = (p + 1) % LEV_WINDOW
            st[0] = 0.0
            if st[2] < LEV_WINDOW:
                st[2] += 1.0
            filled = int(st[2])
            acc = 0.0
            for j in range(filled):
                acc += ring[j]
            lufs = -0.691 + 10.0 * math.log10(acc / filled + 1e-30)
            st[9] = lufs
            open_gate = filled >= 4 and lufs > LEV_ABS_GATE_LUFS and \
                (st[7] < -150.0 or lufs > st[7] + LEV_REL_GATE_LU)
            st[10] = 1.0 if open_gate else 0.0
            if open_gate:
                if st[7] < -150.0:
                    st[7] = lufs
                else:
                    st[7] += (1.0 - math.exp(-0.1 / 20.0)) * (lufs - st[7])
                want = target - lufs
                # fast fall: the 3 s window reacts late when the programme gets
                # louder; never let the momentary (400 ms) loudness, with the
                # current gain, run more than LEV_MOMENTARY_HEADROOM_LU above target.
                macc = 0.0
                for j in range(4):
                    macc += ring[(p - j) % LEV_WINDOW]
                mom = -0.691 + 10.0 * math.log10(macc / 4.0 + 1e-30)
                want = min(want, target + LEV_MOMENTARY_HEADROOM_LU - mom)
                want = min(max(want, LEV_MAX_CUT_DB), LEV_MAX_BOOST_DB)
                eng = min(max(intensity, 0.0), 10.0)
                if st[8] < LEV_ACQUIRE_S:
                    tau = 0.4
                elif want > st[3]:
                    tau = 4.0 - 0.2 * eng       # rise: 4 s (gentle) .. 2 s (hard)
                elif want < st[3] - 3.0:
                    tau = 0.3                   # well above target: fall fast
                else:
                    tau = 1.5 - 0.1 * eng       # fall: 1.5 s .. 0.5 s
                st[3] += (1.0 - math.exp(-0.1 / tau)) * (want - st[3])
                st[8] += 0.1
                # feedback trim, once the feed-forward part has settled
                # (only once the 3 s output window holds processed audio only)
                if st[8] > LEV_ACQUIRE_S + 3.0 and out_short_lufs > -150.0 \
                        and tgt[P.BYPASS] == 0.0 and intensity > 0.0:
                    # energy-domain long-term average of the output, as the
                    # integrated loudness (BS.1770 §2.8) weighs it: averaging
                    # dB would let loud passages run over the target
                    p_out = 10.0 ** ((out_short_lufs + 0.691) / 10.0)
                    if st[12] <= 0.0:
                        st[12] = p_out
                    else:
                        st[12] += (1.0 - math.exp(-0.1 / 8.0)) * (p_out - st[12])
                    err = target - (-0.691 + 10.0 * math.log10(st[12]))
                    if err > 0.0 and (lim_gr_db > 3.0 or st[3] + st[4] >= LEV_MAX_BOOST_DB):
                        err = 0.0
                    st[4] = min(max(st[4] + err * (0.1 / LEV_TRIM_TAU_S), -LEV_TRIM_DB), LEV_TRIM_DB)
            total = min(max(st[3] + st[4], LEV_MAX_CUT_DB), LEV_MAX_BOOST_DB)
            st[11] = total
            st[5] = st[6]
            st[6] = 10.0 ** (total / 20.0)


# ---------------------------------------------------------------- true-peak limiter
#
# Detection: BS.1770-4 Annex 2 4x interpolator on the limiter input, refined
# by a parabola through each local maximum of the 4x samples (covers the
# dip between oversampled points), max over channels -> tp[n].
# Gain: r = min(1, thr / tp)  ->  release envelope e <= r (instant attack,
# programme-dependent release)  ->  sliding minimum over M = A + 2W samples
# ->  moving average over A samples  ->  g.  Signal delay D = A - 1 + W + 6.
# Then for every peak the gain is <= r over the +-W samples around it (the
# interpolator's main lobe): g[t] averages A minima that all contain r, for
# t in [n+A-1, n+M-1].  Two instances run in series: the main one (A = 1 ms)
# and a short safety stage that removes what gain modulation left over.

LIM_HIST = 12


@kernel
def _parabola_peak(a, b, c):
    """Peak magnitude of the parabola through (-1,a),(0,b),(1,c) if b is a
    local extremum of |.| (capped at 1.25|b|), else |b|.

    Written with selects, not branches: on noise-like programme the
    conditions are random and mispredicted branches cost more than the
    arithmetic."""
    sb = 1.0 if b >= 0.0 else -1.0
    a1 = sb * a
    b1 = sb * b
    c1 = sb * c
    d = 2.0 * b1 - a1 - c1
    v = min(b1 + (c1 - a1) * (c1 - a1) / (8.0 * max(d, 1e-300)), 1.25 * b1)
    ok = (b1 >= a1) & (b1 >= c1) & (d > 0.0)
    return v if ok else b1


@kernel
def oversample_block(x, n, fir, xs, us):
    """BS.1770-4 Annex 2 4x interpolation of ``x[:n]`` (N, 2), block-wise.

    xs (2, 12 + MAX): ``xs[ch, 0:12]`` holds the 12 previous samples; call
    ``oversample_commit`` once the block is done with ``xs``.  us (2, 4, MAX) receives phase p of output i: an estimate
    of the signal between x[i-6] and x[i-5].  The sample loop is innermost so
    LLVM vectorises across samples; each output is still summed over taps in
    the same order, so results do not depend on block size.
    """
    for ch in range(2):
        xr = xs[ch]
        for i in range(n):
            xr[LIM_HIST + i] = x[i, ch]
        for p in range(4):
            u = us[ch, p]
            h0 = fir[p, 0]
            h1 = fir[p, 1]
            h2 = fir[p, 2]
            h3 = fir[p, 3]
            h4 = fir[p, 4]
            h5 = fir[p, 5]
            h6 = fir[p, 6]
            h7 = fir[p, 7]
            h8 = fir[p, 8]
            h9 = fir[p, 9]
            h10 = fir[p, 10]
            h11 = fir[p, 11]
            for i in range(n):
                # taps summed in a fixed order: k = 0 .. 11
                o = LIM_HIST + i
                acc = h0 * xr[o]
                acc += h1 * xr[o - 1]
                acc += h2 * xr[o - 2]
                acc += h3 * xr[o - 3]
                acc += h4 * xr[o - 4]
                acc += h5 * xr[o - 5]
                acc += h6 * xr[o - 6]
                acc += h7 * xr[o - 7]
                acc += h8 * xr[o - 8]
                acc += h9 * xr[o - 9]
                acc += h10 * xr[o - 10]
                acc += h11 * xr[o - 11]
                u[i] = acc


@kernel
def oversample_commit(xs, n):
    """After the block's samples were read: keep the newest 12 as history."""
    for ch in range(2):
        for j in range(LIM_HIST):
            xs[ch, j] = xs[ch, n + j]


@kernel
def refined_peak(us, xs, prev, ch, i):
    """Peak magnitude around output i of channel ch: the raw sample, the four
    4x values, and parabolic vertices through each local maximum.  prev (2,
    2) carries the previous output's phase-2 and phase-3 values."""
    u0 = us[ch, 0, i]
    u1 = us[ch, 1, i]
    u2 = us[ch, 2, i]
    u3 = us[ch, 3, i]
    p2 = prev[ch, 0]
    p3 = prev[ch, 1]
    # refine only around the largest of the four centres (p3, u0, u1, u2):
    # within one input sample |signal| has at most one local maximum for
    # content below fs/2, and four divisions per channel cost more than the
    # rest of the limiter together
    a = p2
    b = p3
    c = u0
    mb = abs(p3)
    if abs(u0) > mb:
        a, b, c, mb = p3, u0, u1, abs(u0)
    if abs(u1) > mb:
        a, b, c, mb = u0, u1, u2, abs(u1)
    if abs(u2) > mb:
        a, b, c, mb = u1, u2, u3, abs(u2)
    pk = max(abs(xs[ch, LIM_HIST + i - 6]), abs(u3), _parabola_peak(a, b, c))
    prev[ch, 0] = u2
    prev[ch, 1] = u3
    return pk


@kernel
def limiter_block(buf, n, n0, fs, thr_db, release_ms, fir, cfg, st, ist, xs, us, prev,
                  dly, dq_i, dq_v, box):
    """Lookahead true-peak limiter, in place on ``buf[:n]``.

    cfg (int64): [0] A (average length), [1] W (hold half-width),
                 [2] M = A + 2W, [3] D (signal delay, samples)
    st: [0] release envelope, [1] slow GR (dB) for programme-dependent
        release, [2] box sum, [3] release coefficient, [4] current GR dB,
        [5] max GR dB since read
    xs, us: oversampling scratch, see ``oversample_block``.
    ist (int64): [0] unused, [1] delay pos, [2] deque head, [3] deque
        count, [4] box pos
    """
    a_len = cfg[0]
    m_len = cfg[2]
    d_len = cfg[3]
    dlen = dly.shape[1]
    cap = dq_i.shape[0]
    thr = 10.0 ** (thr_db / 20.0)
    oversample_block(buf, n, fir, xs, us)
    for i in range(n):
        g = n0 + i
        if g % CR == 0:
            # programme-dependent release: short after isolated peaks, up to
            # the set time while limiting is sustained (slow GR >= 3 dB)
            sustain = min(st[1] / 3.0, 1.0)
            tau_ms = release_ms * (0.3 + 0.7 * sustain)
            st[3] = math.exp(-1.0 / (tau_ms * 1e-3 * fs))
            gr_now = -20.0 * math.log10(max(st[0], 1e-12))
            st[1] += (1.0 - math.exp(-CR / (0.3 * fs))) * (gr_now - st[1])
        tp = max(refined_peak(us, xs, prev, 0, i), refined_peak(us, xs, prev, 1, i))
        r = 1.0
        if tp > thr:
            r = thr / tp
        e = st[0] + (1.0 - st[0]) * (1.0 - st[3])
        if r < e:
            e = r
        st[0] = e
        # sliding minimum (monotone deque, amortised O(1))
        # (ring indices wrap by comparison: an integer modulo by a runtime
        # divisor costs ~25 cycles, several per sample)
        head = ist[2]
        cnt = ist[3]
        while cnt > 0:
            tail = head + cnt - 1
            if tail >= cap:
                tail -= cap
            if dq_v[tail] < e:
                break
            cnt -= 1
        tail = head + cnt
        if tail >= cap:
            tail -= cap
        dq_i[tail] = g
        dq_v[tail] = e
        cnt += 1
        while dq_i[head] <= g - m_len:
            head += 1
            if head == cap:
                head = 0
            cnt -= 1
        ist[2] = head
        ist[3] = cnt
        mn = dq_v[head]
        # moving average of the minimum
        bp = ist[4]
        st[2] += mn - box[bp]
        box[bp] = mn
        bp += 1
        ist[4] = 0 if bp == a_len else bp
        if g % 8192 == 0:
            s = 0.0
            for j in range(a_len):
                s += box[j]
            st[2] = s
        gain = min(st[2] / a_len, 1.0)
        # delay line
        dp = ist[1]
        rp = dp - d_len
        if rp < 0:
            rp += dlen
        for ch in range(2):
            dly[ch, dp] = buf[i, ch]
            buf[i, ch] = dly[ch, rp] * gain
        dp += 1
        ist[1] = 0 if dp == dlen else dp
        if gain < 1.0:
            gr = -20.0 * math.log10(gain)
            if gr > st[5]:
                st[5] = gr
        else:
            gr = 0.0
        st[4] = gr
    oversample_commit(xs, n)


# ---------------------------------------------------------------- dry path and mix

@kernel
def mix_block(buf, x_in, out, n, tgt, dry, ist, st, ramp_step):
    """Latency-matched dry path and the transparent / bypass crossfade.

    ``x_in`` is the raw input, guarded by the same ``guard_sample`` as the wet path.  When the mix weight is exactly
    0 the output *is* the delayed input, bit for bit (intensity 0 or bypass).
    st: [0] wet weight, [1] dry gain.  ist: [0] dry write pos.  dry (2, L+1) ring.
    """
    want = 1.0 if (tgt[P.INTENSITY] > 0.0 and tgt[P.BYPASS] == 0.0) else 0.0
    g_want = 10.0 ** (tgt[P.BYPASS_MATCH_DB] / 20.0)
    dlen = dry.shape[1]
    lat = dlen - 1
    w = st[0]
    g_dry = st[1]
    for i in range(n):
        # dry gain glides (~20 ms) and lands exactly on its target, so a
        # 0 dB dry path stays bit exact
        if g_dry != g_want:
            g_dry += ramp_step * 2.5 * (g_want - g_dry)
            if abs(g_want - g_dry) < 1e-9:
                g_dry = g_want
        if w < want:
            w = min(w + ramp_step, want)
        elif w > want:
            w = max(w - ramp_step, want)
        dp = ist[0]
        rp = dp - lat
        if rp < 0:
            rp += dlen
        for ch in range(2):
            dry[ch, dp] = guard_sample(np.float64(x_in[i, ch]))
            d = dry[ch, rp] * g_dry if g_dry != 1.0 else dry[ch, rp]
            if w == 0.0:
                v = d
            elif w == 1.0:
                v = buf[i, ch]
            else:
                v = d + w * (buf[i, ch] - d)
            out[i, ch] = v
        dp += 1
        ist[0] = 0 if dp == dlen else dp
    st[0] = w
    st[1] = g_dry
