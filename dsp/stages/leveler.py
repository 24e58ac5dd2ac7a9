"""Leveler (AGC): steers the programme toward the target loudness.

window -> gain computer -> apply:

* window: K-weighted power of the leveler input in 100 ms sub-blocks on
  the global sample grid, a ring of 30 (the BS.1770 3 s short-term window);
* gain computer (every 100 ms): feed-forward gain = target - loudness,
  rising slowly and falling faster, never letting the momentary (400 ms)
  loudness with the current gain run more than a headroom above target;
  gated absolutely and relative to a long-term reference; plus a feedback
  trim on the chain's *output* short-term loudness that corrects what the
  compressor and limiter take away (bounded, frozen while the limiter works
  hard or the gain is at its maximum, so it cannot wind up);
* apply: the gain is interpolated linearly per sample across the sub-block.
"""
from __future__ import annotations

import math

from .. import params as P
from .._jit import kernel
from ..biquad import biquad_tick
from ..design import k_weighting
from ..layout import Region, region
from ..units import NEG_INF_LUFS, lufs_to_power, power_to_lufs

MAX_BOOST_DB = 18.0
MAX_CUT_DB = -12.0
MAX_TRIM_DB = 6.0
TRIM_TAU_S = 4.5            # feedback trim integrator time constant
ABS_GATE_LUFS = -50.0       # never lift anything quieter (a -80 dBFS floor stays put)
REL_GATE_LU = -20.0         # nor passages this far below the programme's long-term level
WINDOW = 30                 # sub-blocks of 100 ms: the ~3 s short-term window of BS.1770
MOMENTARY = 4               # sub-blocks: the 400 ms momentary window
SUB_S = 0.1                 # sub-block length, s
ACQUIRE_S = 3.0             # fast acquisition at start
MOMENTARY_HEADROOM_LU = 3.0
LONG_TERM_TAU_S = 20.0      # long-term input reference
OUT_TAU_S = 8.0             # long-term output power for the trim
TRIM_FREEZE_LIMITER_DB = 3.0

# regions
KW_SOS, KW_Z, RING, ST = range(4)
# ST slots
ACC = 0             # K-weighted power accumulated over the running sub-block
RING_POS = 1
FILLED = 2          # sub-blocks in the ring (<= WINDOW)
FF_DB = 3           # feed-forward gain
TRIM_DB = 4        # feedback trim
G_START = 5         # linear gain at the sub-block's start ...
G_END = 6           # ... and end
LONG_TERM_LUFS = 7  # long-term input reference (NEG_INF_LUFS until the gate opens)
GATED_S = 8         # seconds of gated programme seen
IN_SHORT_LUFS = 9   # input short-term loudness
GATE_OPEN = 10
TOTAL_DB = 11       # total gain applied
OUT_POWER = 12      # long-term output power (energy mean of short-term)
N_ST = 13


def regions(fs_hz: int):
    return [Region("kw_sos", 10), Region("kw_z", 8), Region("ring", WINDOW), Region("st", N_ST)]


def init(v, fs_hz: int) -> None:
    v("kw_sos")[:] = k_weighting(float(fs_hz)).ravel()
    st = v("st")
    st[G_START] = st[G_END] = 1.0
    st[LONG_TERM_LUFS] = NEG_INF_LUFS


@kernel
def window_tick(kw_sos, kw_z, st, xl, xr):
    """One stereo sample's K-weighted power into the running sub-block."""
    yl = xl
    yr = xr
    for s in range(2):
        yl = biquad_tick(kw_sos, 5 * s, kw_z, 4 * s, yl)
        yr = biquad_tick(kw_sos, 5 * s, kw_z, 4 * s + 2, yr)
    st[ACC] += yl * yl + yr * yr


@kernel
def window_push(ring, st, sub_n):
    """Close a sub-block: into the ring; returns the ring position written."""
    p = int(st[RING_POS])
    ring[p] = st[ACC] / sub_n
    st[RING_POS] = (p + 1) % WINDOW
    st[ACC] = 0.0
    if st[FILLED] < WINDOW:
        st[FILLED] += 1.0
    return p


@kernel
def window_lufs(ring, filled):
    """Loudness of the ``filled`` sub-blocks in the ring (short-term once full)."""
    acc = 0.0
    for j in range(filled):
        acc += ring[j]
    return power_to_lufs(acc / filled + 1e-30)


@kernel
def momentary_lufs(ring, p):
    """Loudness of the last MOMENTARY sub-blocks ending at ring position p."""
    macc = 0.0
    for j in range(MOMENTARY):
        macc += ring[(p - j) % WINDOW]
    return power_to_lufs(macc / 4.0 + 1e-30)


@kernel
def feedforward_tau_s(st, want, intensity):
    """Time constant toward ``want``: fast while acquiring, rise 4 s (gentle)
    .. 2 s (hard), fall 1.5 s .. 0.5 s, and 0.3 s when well above target."""
    eng = min(max(intensity, 0.0), 10.0)
    if st[GATED_S] < ACQUIRE_S:
        return 0.4
    if want > st[FF_DB]:
        return 4.0 - 0.2 * eng
    if want < st[FF_DB] - 3.0:
        return 0.3
    return 1.5 - 0.1 * eng


@kernel
def trim_update(st, tgt, target, out_short_lufs, lim_gr_db, intensity):
    """Feedback trim, once the feed-forward part has settled and the 3 s
    output window holds processed audio only."""
    if st[GATED_S] > ACQUIRE_S + 3.0 and out_short_lufs > -150.0 \
            and tgt[P.BYPASS] == 0.0 and intensity > 0.0:
        # energy-domain long-term average of the output, as the integrated
        # loudness (BS.1770-4 §2.8) weighs it: averaging dB would let loud
        # passages run over the target
        p_out = lufs_to_power(out_short_lufs)
        if st[OUT_POWER] <= 0.0:
            st[OUT_POWER] = p_out
        else:
            st[OUT_POWER] += (1.0 - math.exp(-SUB_S / OUT_TAU_S)) * (p_out - st[OUT_POWER])
        err = target - power_to_lufs(st[OUT_POWER])
        if err > 0.0 and (lim_gr_db > TRIM_FREEZE_LIMITER_DB or st[FF_DB] + st[TRIM_DB] >= MAX_BOOST_DB):
            err = 0.0
        st[TRIM_DB] = min(max(st[TRIM_DB] + err * (SUB_S / TRIM_TAU_S), -MAX_TRIM_DB), MAX_TRIM_DB)


@kernel
def gain_computer(ring, st, p, tgt, out_short_lufs, lim_gr_db):
    """Every 100 ms: the new total gain (dB) from the window."""
    intensity = tgt[P.INTENSITY]
    target = tgt[P.TARGET_LUFS]
    filled = int(st[FILLED])
    lufs = window_lufs(ring, filled)
    st[IN_SHORT_LUFS] = lufs
    open_gate = filled >= 4 and lufs > ABS_GATE_LUFS and \
        (st[LONG_TERM_LUFS] < -150.0 or lufs > st[LONG_TERM_LUFS] + REL_GATE_LU)
    st[GATE_OPEN] = 1.0 if open_gate else 0.0
    if open_gate:
        if st[LONG_TERM_LUFS] < -150.0:
            st[LONG_TERM_LUFS] = lufs
        else:
            st[LONG_TERM_LUFS] += (1.0 - math.exp(-SUB_S / LONG_TERM_TAU_S)) * (lufs - st[LONG_TERM_LUFS])
        want = target - lufs
        # fast fall: the 3 s window reacts late when the programme gets louder
        want = min(want, target + MOMENTARY_HEADROOM_LU - momentary_lufs(ring, p))
        want = min(max(want, MAX_CUT_DB), MAX_BOOST_DB)
        tau = feedforward_tau_s(st, want, intensity)
        st[FF_DB] += (1.0 - math.exp(-SUB_S / tau)) * (want - st[FF_DB])
        st[GATED_S] += SUB_S
        trim_update(st, tgt, target, out_short_lufs, lim_gr_db, intensity)
    return min(max(st[FF_DB] + st[TRIM_DB], MAX_CUT_DB), MAX_BOOST_DB)


@kernel
def block(buf, n, n0, tgt, sub_n, out_short_lufs, lim_gr_db, a, lay, base):
    kw_sos = region(a, lay, base + KW_SOS)
    kw_z = region(a, lay, base + KW_Z)
    ring = region(a, lay, base + RING)
    st = region(a, lay, base + ST)
    sub_pos = n0 % sub_n          # position in the 100 ms sub-block (global grid)
    for i in range(n):
        window_tick(kw_sos, kw_z, st, buf[i, 0], buf[i, 1])
        sub_pos += 1
        gain = st[G_START] + (st[G_END] - st[G_START]) * sub_pos / sub_n
        buf[i, 0] *= gain
        buf[i, 1] *= gain
        if sub_pos == sub_n:
            sub_pos = 0
            p = window_push(ring, st, sub_n)
            total = gain_computer(ring, st, p, tgt, out_short_lufs, lim_gr_db)
            st[TOTAL_DB] = total
            st[G_START] = st[G_END]
            st[G_END] = 10.0 ** (total / 20.0)


def read(v) -> dict:
    st = v("st")
    return {"leveler_gain_db": float(st[TOTAL_DB]), "leveler_in_short_lufs": float(st[IN_SHORT_LUFS])}
