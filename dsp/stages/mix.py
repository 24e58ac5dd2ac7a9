"""Latency-matched dry path and the transparent / bypass switch.

The dry input goes through the same ``guard.guard_sample`` as the wet
path and a delay equal to the chain's latency.  When the switch rests on
dry (intensity 0 or bypass) the output *is* the delayed input, bit for bit;
the dry gain (loudness-matched A/B) glides and lands exactly on its target,
so a 0 dB dry path stays bit exact.

Why the switch is not a plain crossfade: the wet path's band split sums to
an all-pass (``multiband``), so near each crossover the wet signal is
rotated by up to 180 degrees against the dry one; halfway through a linear
crossfade they cancel (-50 dB at 1 kHz, issue 10 item 5).  So the switch
goes through a *phase-matched dry* signal: the dry signal through a
compensator made of the same all-passes as the band split.

    wet  <-- crossfade (RAMP_MS) -->  compensated dry at the crossovers
         <-- morph (MORPH_MS): the compensator's corners glide up to
             0.49 fs, where it is within 19 degrees of the identity -->
         compensated dry with its corners at 0.49 fs
         <-- crossfade (RAMP_MS) -->  dry (bit exact)

Each leg is a smoothstep (3r^2 - 2r^3 of a linear ramp r): a linear
ramp's corners put a broadband burst at -58 dBc on a bass tone.  Each leg
joins two signals whose phases agree, so no frequency cancels; the
morph is an all-pass whose corners move slowly (log-frequency glide,
re-designed every control tick), so its magnitude stays at 1.  The corners
move *up*: with the bilinear transform's pre-warping, a corner at 0.49 fs
leaves at most 19 degrees at 20 kHz (a 0.05 dB dip in the last leg), and a
moving phase shifts a frequency by (rotation / 360) / time, which is a
fraction of a per cent above a few hundred Hz; moving down would have swept
the whole rotation through the bass (a semitone of wobble at 40 Hz).

The compensator runs only while a switch needs it: resting on wet or on
dry, nothing reads it, and running it (six all-pass sections with their
per-sample glide, and a re-design every control tick) cost about a tenth
of the chain (issue 8).  A switch first runs it for WARM_MS from a
cleared state before any leg moves: its slowest pole (the LR2 all-pass
at an 80 Hz crossover, tau = 2 ms) has then decayed by e^-15 (-130 dB),
so its output is what an always-running compensator would give.  The
switch starts 30 ms later; once running it can reverse at any sample.
Invariants: WET > 0 only when MORPH = 1 and PLAIN = 0; PLAIN > 0 only
when MORPH = 0 and WET = 0.
"""
from __future__ import annotations

import math

import numpy as np

from .. import params as P
from .._jit import helper, kernel
from ..biquad import CR, biquad_tick
from ..design import SQRT1_2, design_allpass, design_lr2
from ..layout import Region, region
from .guard import guard_sample

RAMP_MS = 50.0              # each crossfade leg
MORPH_MS = 150.0            # the compensator's corner glide
MORPH_TOP = 0.49            # x fs: corners at the dry end (the designers' clamp)
DRY_GLIDE = 2.5             # dry-gain glide, per ramp step (~20 ms)
N_COMP = 3                  # compensator sections: AP1(f1), AP2(f2), AP2(f3)
WARM_MS = 30.0              # the compensator's run-in before a switch moves

# regions
DRY, ST, K, COMP, COMP0, COMP_Z, IST = range(7)
# ST slots
WET, DRY_GAIN, MORPH, PLAIN = range(4)
N_ST = 4
# K slots
K_RAMP, K_MORPH, K_FS = range(3)
# IST slots: the dry delay's write position; samples the compensator has
# run since it was (re)started, 0 = idle
DRY_POS, WARM = range(2)


def regions(fs_hz: int, latency_samples: int):
    return [Region("dry", 2 * (latency_samples + 1)), Region("st", N_ST), Region("k", 3),
            Region("comp", 15 + 5 * (N_COMP - 1)), Region("comp0", 15 + 5 * (N_COMP - 1)),
            Region("comp_z", 8 * N_COMP),
            Region("ist", 2, True)]


def wanted_wet(p) -> float:
    return 1.0 if (p[P.INTENSITY] > 0 and p[P.BYPASS] == 0) else 0.0


def init(v, fs_hz: int, tgt) -> None:
    fs = float(fs_hz)
    v("k")[:] = [1.0 / (RAMP_MS * 1e-3 * fs), CR / (MORPH_MS * 1e-3 * fs), fs]
    v("ist")[WARM] = 0
    w = wanted_wet(tgt)
    v("st")[:] = [w, 10.0 ** (tgt[P.BYPASS_MATCH_DB] / 20.0), w, 1.0 - w]
    design_compensator(fs, tgt, w, v("comp"))
    v("comp0")[:] = v("comp")


@kernel
def design_compensator(fs, tgt, morph, comp):
    """The band split's all-passes with their corners at
    top x (f / top) ** morph, top = MORPH_TOP x fs: the split's own at
    morph = 1, next to the identity at morph = 0."""
    top = MORPH_TOP * fs
    f1 = top * (min(tgt[P.XOVER_HZ], top) / top) ** morph
    f2 = top * (min(tgt[P.XOVER_HZ + 1], top) / top) ** morph
    f3 = top * (min(tgt[P.XOVER_HZ + 2], top) / top) ** morph
    design_lr2(comp[0:15], fs, f1)          # rows 0, 1 are scratch; row 2 is AP1
    design_allpass(comp[15:20], fs, f2, SQRT1_2)
    design_allpass(comp[20:25], fs, f3, SQRT1_2)


@helper
def _ap_tick(c0, c1, o, frac, z, zo, x):
    """One all-pass biquad whose coefficients move linearly from c0[o:o+5]
    to c1[o:o+5] over a control tick.  An all-pass row is (a2, a1, 1 | a1,
    a2): linear in (a1, a2), so every sample's blend is still an all-pass,
    and the per-sample glide keeps the filter continuous (steps every 32
    samples put a click at -48 dBFS into the morph).  State ``z[zo:zo+4]``:
    x[n-1], x[n-2], y[n-1], y[n-2]."""
    b0 = c0[o] + frac * (c1[o] - c0[o])
    b1 = c0[o + 1] + frac * (c1[o + 1] - c0[o + 1])
    b2 = c0[o + 2] + frac * (c1[o + 2] - c0[o + 2])
    a1 = c0[o + 3] + frac * (c1[o + 3] - c0[o + 3])
    a2 = c0[o + 4] + frac * (c1[o + 4] - c0[o + 4])
    # direct form I: the state is the signal's own history, so a moving
    # coefficient changes only what is computed from it (a transposed form
    # carries partial sums made with the old coefficients: with the corners
    # sweeping it left a -58 dBc broadband residue on a bass tone)
    y = b0 * x + b1 * z[zo] + b2 * z[zo + 1] - a1 * z[zo + 2] - a2 * z[zo + 3]
    z[zo + 1] = z[zo]
    z[zo] = x
    z[zo + 3] = z[zo + 2]
    z[zo + 2] = y
    return y


@helper
def compensate(c0, c1, frac, z, ch, x):
    y = _ap_tick(c0, c1, 10, frac, z, 4 * ch, x)
    y = _ap_tick(c0, c1, 15, frac, z, 8 + 4 * ch, y)
    return _ap_tick(c0, c1, 20, frac, z, 16 + 4 * ch, y)


@kernel
def block(buf, x_in, out, n, n0, tgt, a, ia, lay, base):
    dry = region(a, lay, base + DRY)
    st = region(a, lay, base + ST)
    k = region(a, lay, base + K)
    comp = region(a, lay, base + COMP)
    comp0 = region(a, lay, base + COMP0)
    z = region(a, lay, base + COMP_Z)
    ist = region(ia, lay, base + IST)
    ramp_step = k[K_RAMP]
    morph_step = k[K_MORPH]
    fs = k[K_FS]
    want = 1.0 if (tgt[P.INTENSITY] > 0.0 and tgt[P.BYPASS] == 0.0) else 0.0
    g_want = 10.0 ** (tgt[P.BYPASS_MATCH_DB] / 20.0)
    dlen = dry.shape[0] // 2
    lat = dlen - 1
    w = st[WET]
    g_dry = st[DRY_GAIN]
    m = st[MORPH]
    u = st[PLAIN]
    warm_n = int(WARM_MS * 1e-3 * fs)
    warm = ist[WARM]
    for i in range(n):
        if g_dry != g_want:
            g_dry += ramp_step * DRY_GLIDE * (g_want - g_dry)
            if abs(g_want - g_dry) < 1e-9:
                g_dry = g_want
        g = n0 + i
        # at rest on the side the switch wants: the compensator idles
        resting = (w == 1.0) if want == 1.0 else (u == 1.0)
        if resting:
            warm = 0
        elif warm == 0:
            # (re)start it from a cleared state, designed for where it is
            design_compensator(fs, tgt, m, comp)
            comp0[:] = comp
            z[:] = 0.0
        moving = warm >= warm_n
        # one leg moves at a time (see the module docstring); the
        # compensator follows the crossovers (a genre change) at every tick
        if not resting and g % CR == 0:
            if moving:
                if want == 1.0 and u == 0.0 and m < 1.0:
                    m = min(m + morph_step, 1.0)
                elif want == 0.0 and w == 0.0 and m > 0.0:
                    m = max(m - morph_step, 0.0)
            comp0[:] = comp
            design_compensator(fs, tgt, m, comp)
        frac = ((g % CR) + 1.0) / CR
        if moving:
            if want == 1.0:
                if u > 0.0:
                    u = max(u - ramp_step, 0.0)
                elif m == 1.0 and w < 1.0:
                    w = min(w + ramp_step, 1.0)
            else:
                if w > 0.0:
                    w = max(w - ramp_step, 0.0)
                elif m == 0.0 and u < 1.0:
                    u = min(u + ramp_step, 1.0)
        dp = ist[DRY_POS]
        rp = dp - lat
        if rp < 0:
            rp += dlen
        for ch in range(2):
            dry[ch * dlen + dp] = guard_sample(np.float64(x_in[i, ch]))
            d = dry[ch * dlen + rp] * g_dry if g_dry != 1.0 else dry[ch * dlen + rp]
            if resting:
                v = buf[i, ch] if want == 1.0 else d
            else:
                c = compensate(comp0, comp, frac, z, ch, d)
                if w == 1.0:
                    v = buf[i, ch]
                elif u == 1.0:
                    v = d
                elif w > 0.0:
                    v = c + w * w * (3.0 - 2.0 * w) * (buf[i, ch] - c)
                else:
                    v = c + u * u * (3.0 - 2.0 * u) * (d - c)
            out[i, ch] = v
        if not resting and warm < warm_n:
            warm += 1
        dp += 1
        ist[DRY_POS] = 0 if dp == dlen else dp
    ist[WARM] = warm
    st[WET] = w
    st[DRY_GAIN] = g_dry
    st[MORPH] = m
    st[PLAIN] = u


def start_from_dry(v, fs_hz: int, tgt) -> None:
    """Make a chain that is not running yet fade in from its dry path."""
    v("st")[WET] = 0.0
    v("st")[MORPH] = 0.0
    v("st")[PLAIN] = 1.0
    v("ist")[WARM] = 0
    design_compensator(float(fs_hz), tgt, 0.0, v("comp"))
    v("comp0")[:] = v("comp")


def read(v) -> dict:
    """``wet``: 1 = mastered, 0 = dry or on the way (the phase-matched legs)."""
    return {"wet": float(v("st")[WET])}
