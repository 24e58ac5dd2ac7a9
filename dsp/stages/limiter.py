"""Lookahead true-peak limiter.

detect -> envelope -> sliding minimum -> box average -> delay:

* detect: BS.1770-4 Annex 2 4x interpolator on the limiter input, refined
  by a parabola through the largest local maximum of the 4x samples (covers
  the dip between oversampled points), max over channels -> tp[n];
  r = min(1, thr / tp);
* envelope: e <= r, instant attack, programme-dependent release;
* sliding minimum of e over M = A + 2W samples (monotone deque);
* box average over A samples -> g;
* delay of the signal by D = A - 1 + W + 6, times g.

For every peak the gain is then <= r over the +-W samples around it (the
interpolator's main lobe): g[t] averages A minima that all contain r, for t
in [n+A-1, n+M-1].  The chain runs two instances in series: the main one
(A = 1 ms) and a short safety stage that removes what gain modulation left.
"""
from __future__ import annotations

import math

from .._jit import helper, kernel
from ..biquad import CR
from ..layout import Region, region
from ..truepeak import (PARABOLA_CAP, delayed_input, oversample_block, oversample_commit,
                        parabola_peak, scratch_sizes, upsampled, TRUE_PEAK_DELAY)

GR_HIST = 64                # 100 ms maxima kept for readers (6.4 s)
SUSTAIN_GR_DB = 3.0         # slow GR at which the release reaches its set time
SLOW_GR_TAU_S = 0.3
BOX_RESYNC = 8192           # samples between exact re-sums of the box average
HOLD_W_48K = 4              # hold half-width W at 48 kHz: the interpolator's main lobe

# regions (float, then int)
ST, XS, US, PREV, DLY, DQ_V, BOX, GR_RING, CFG, IST, DQ_I = range(11)
# ST slots
ENV = 0             # release envelope (linear gain)
SLOW_GR_DB = 1      # slow GR for the programme-dependent release
BOX_SUM = 2
REL_COEF = 3
GR_DB = 4           # GR of the block's last sample
MIN_GAIN = 5        # lowest gain in the running 100 ms
THR_DB = 6          # threshold (dB) of the last block ...
THR = 7             # ... and linear: one power per change
K_SLOW = 8          # per-tick smoothing step of SLOW_GR_DB
N_ST = 9
# CFG slots: A (average length), W (hold half-width), M = A + 2W,
# D (signal delay), sub-block length (100 ms)
C_A, C_W, C_M, C_D, C_SUB = range(5)
# IST slots
DLY_POS, DQ_HEAD, DQ_COUNT, BOX_POS, SUB_LEFT, GR_SEQ = range(6)


def sizes(fs_hz: int, lookahead_samples: int):
    """(A, W, M, D) for a limiter with an A-sample box at ``fs_hz``."""
    w = int(round(HOLD_W_48K * fs_hz / 48000.0))
    a = int(lookahead_samples)
    return a, w, a + 2 * w, a - 1 + w + TRUE_PEAK_DELAY


def regions(fs_hz: int, lookahead_samples: int):
    a, w, m, d = sizes(fs_hz, lookahead_samples)
    xs, us = scratch_sizes()
    return [Region("st", N_ST), Region("xs", xs), Region("us", us), Region("prev", 4),
            Region("dly", 2 * (d + 1)), Region("dq_v", m + 1), Region("box", a),
            Region("gr_ring", GR_HIST),
            Region("cfg", 5, True), Region("ist", 6, True), Region("dq_i", m + 1, True)]


def init(v, fs_hz: int, lookahead_samples: int) -> None:
    a, w, m, d = sizes(fs_hz, lookahead_samples)
    sub = int(round(fs_hz / 10.0))
    v("cfg")[:] = [a, w, m, d, sub]
    st = v("st")
    st[ENV] = 1.0
    st[BOX_SUM] = float(a)
    st[MIN_GAIN] = 1.0
    st[THR_DB] = math.nan       # the first block computes THR
    st[K_SLOW] = slow_gr_coef(float(fs_hz))
    v("box")[:] = 1.0
    v("ist")[SUB_LEFT] = sub


# ---------------------------------------------------------------- sub-kernels
#
# The sub-kernels take and return the state they change as scalars: the
# sample loop keeps it in registers and writes it back once per block.  (In
# the arena, every store to the delay line or the deque could alias it, so
# LLVM reloaded and re-stored it every sample.)

@helper
def refined_peak(us, xs, ch, i, p2, p3):
    """Peak magnitude around output i of channel ch: the raw sample, the
    four 4x values, and the parabola through the largest of the four
    centres (p3, u0, u1, u2); ``p2``, ``p3`` are the previous output's
    phases 2 and 3.  Within one input sample |signal| has at most one local
    maximum for content below fs/2."""
    u0 = upsampled(us, ch, 0, i)
    u1 = upsampled(us, ch, 1, i)
    u2 = upsampled(us, ch, 2, i)
    u3 = upsampled(us, ch, 3, i)
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
    return max(abs(delayed_input(xs, ch, i)), abs(u3), parabola_peak(a, b, c))


@helper
def _peak_bound(us, xs, ch, i, p3):
    """An upper bound of ``refined_peak`` without its division: the
    parabola never exceeds PARABOLA_CAP times the largest centre."""
    mb = max(max(abs(p3), abs(upsampled(us, ch, 0, i))),
             max(abs(upsampled(us, ch, 1, i)), abs(upsampled(us, ch, 2, i))))
    return max(abs(delayed_input(xs, ch, i)), abs(upsampled(us, ch, 3, i)), PARABOLA_CAP * mb)


@helper
def detect(us, xs, i, thr, l3, r3, l2, r2):
    """Required gain r = min(1, thr / true peak) at output i; ``l2``, ``l3``,
    ``r2``, ``r3``: the previous output's phases 2 and 3 per channel."""
    if max(_peak_bound(us, xs, 0, i, l3), _peak_bound(us, xs, 1, i, r3)) <= thr:
        return 1.0          # cannot cross the threshold: skip the refinement
    tp = max(refined_peak(us, xs, 0, i, l2, l3), refined_peak(us, xs, 1, i, r2, r3))
    if tp > thr:
        return thr / tp
    return 1.0


@kernel
def slow_gr_coef(fs):
    """Per control tick smoothing step of the slow GR (computed in numba,
    once per stream, so it is the very value the sample loop used to
    compute)."""
    return 1.0 - math.exp(-CR / (SLOW_GR_TAU_S * fs))


@helper
def release_tick(env, slow_gr, release_ms, fs, k_slow):
    """Every CR samples: programme-dependent release, short after isolated
    peaks, up to the set time while limiting is sustained.  Returns the
    release coefficient and the new slow GR (dB)."""
    sustain = min(slow_gr / SUSTAIN_GR_DB, 1.0)
    tau_ms = release_ms * (0.3 + 0.7 * sustain)
    rel_coef = math.exp(-1.0 / (tau_ms * 1e-3 * fs))
    gr_now = -20.0 * math.log10(max(env, 1e-12))
    slow_gr += k_slow * (gr_now - slow_gr)
    return rel_coef, slow_gr


@helper
def envelope(env, rel_coef, r):
    """Instant attack to r, one-pole release toward 1."""
    e = env + (1.0 - env) * (1.0 - rel_coef)
    if r < e:
        e = r
    return e


@helper
def sliding_min(dq_i, dq_v, head, cnt, g, v, m_len):
    """Minimum of the last ``m_len`` values pushed (v at sample index g):
    monotone deque, amortised O(1); returns (minimum, head, count).  Ring
    indices wrap by comparison: an integer modulo by a runtime divisor
    costs ~25 cycles."""
    cap = dq_i.shape[0]
    while cnt > 0:
        tail = head + cnt - 1
        if tail >= cap:
            tail -= cap
        if dq_v[tail] < v:
            break
        cnt -= 1
    tail = head + cnt
    if tail >= cap:
        tail -= cap
    dq_i[tail] = g
    dq_v[tail] = v
    cnt += 1
    while dq_i[head] <= g - m_len:
        head += 1
        if head == cap:
            head = 0
        cnt -= 1
    return dq_v[head], head, cnt


@helper
def box_average(box, box_sum, bp, v, a_len, g):
    """Mean of the last ``a_len`` values (running sum); returns (mean,
    sum, position)."""
    box_sum += v - box[bp]
    box[bp] = v
    bp += 1
    if bp == a_len:
        bp = 0
    if g % BOX_RESYNC == 0:
        # the running sum adds and subtracts values of different size and
        # drifts by rounding; an exact re-sum on the global grid bounds the
        # drift and keeps the result independent of the block size
        box_sum = 0.0
        for j in range(a_len):
            box_sum += box[j]
    return box_sum / a_len, box_sum, bp


@helper
def delay_apply(dly, dp, buf, i, d_len, gain):
    """buf[i] <- (buf delayed by d_len) * gain; ring of two rows.  Returns
    the next write position."""
    dlen = dly.shape[0] // 2
    rp = dp - d_len
    if rp < 0:
        rp += dlen
    for ch in range(2):
        dly[ch * dlen + dp] = buf[i, ch]
        buf[i, ch] = dly[ch * dlen + rp] * gain
    dp += 1
    return 0 if dp == dlen else dp


@helper
def meter_tick(gr_ring, min_gain, left, seq, gain, sub):
    """Lowest gain per 100 ms (a countdown on the global grid) into the
    readers' ring, as GR in dB: one log10 per 100 ms, not per sample.
    Returns (lowest gain of the running period, countdown, sequence)."""
    if gain < min_gain:
        min_gain = gain
    left -= 1
    if left == 0:
        gr_ring[seq % GR_HIST] = -20.0 * math.log10(min_gain) if min_gain < 1.0 else 0.0
        seq += 1
        min_gain = 1.0
        left = sub
    return min_gain, left, seq


@kernel
def block(buf, n, n0, fs, thr_db, release_ms, fir, a, ia, lay, base):
    st = region(a, lay, base + ST)
    xs = region(a, lay, base + XS)
    us = region(a, lay, base + US)
    prev = region(a, lay, base + PREV)
    dly = region(a, lay, base + DLY)
    dq_v = region(a, lay, base + DQ_V)
    box = region(a, lay, base + BOX)
    gr_ring = region(a, lay, base + GR_RING)
    cfg = region(ia, lay, base + CFG)
    ist = region(ia, lay, base + IST)
    dq_i = region(ia, lay, base + DQ_I)
    a_len = cfg[C_A]
    m_len = cfg[C_M]
    d_len = cfg[C_D]
    sub = cfg[C_SUB]
    if thr_db != st[THR_DB]:            # a power per change, not per block
        st[THR_DB] = thr_db
        st[THR] = 10.0 ** (thr_db / 20.0)
    thr = st[THR]
    k_slow = st[K_SLOW]
    oversample_block(buf, n, fir, xs, us)
    env = st[ENV]
    rel_coef = st[REL_COEF]
    slow_gr = st[SLOW_GR_DB]
    box_sum = st[BOX_SUM]
    min_gain = st[MIN_GAIN]
    head = ist[DQ_HEAD]
    cnt = ist[DQ_COUNT]
    bp = ist[BOX_POS]
    dp = ist[DLY_POS]
    left = ist[SUB_LEFT]
    seq = ist[GR_SEQ]
    l2 = prev[0]
    l3 = prev[1]
    r2 = prev[2]
    r3 = prev[3]
    gain = 1.0
    for i in range(n):
        g = n0 + i
        if g % CR == 0:
            rel_coef, slow_gr = release_tick(env, slow_gr, release_ms, fs, k_slow)
        env = envelope(env, rel_coef, detect(us, xs, i, thr, l3, r3, l2, r2))
        l2 = upsampled(us, 0, 2, i)
        l3 = upsampled(us, 0, 3, i)
        r2 = upsampled(us, 1, 2, i)
        r3 = upsampled(us, 1, 3, i)
        mn, head, cnt = sliding_min(dq_i, dq_v, head, cnt, g, env, m_len)
        avg, box_sum, bp = box_average(box, box_sum, bp, mn, a_len, g)
        gain = min(avg, 1.0)
        dp = delay_apply(dly, dp, buf, i, d_len, gain)
        min_gain, left, seq = meter_tick(gr_ring, min_gain, left, seq, gain, sub)
    st[ENV] = env
    st[REL_COEF] = rel_coef
    st[SLOW_GR_DB] = slow_gr
    st[BOX_SUM] = box_sum
    ist[DQ_HEAD] = head
    ist[DQ_COUNT] = cnt
    ist[BOX_POS] = bp
    ist[DLY_POS] = dp
    prev[0] = l2
    prev[1] = l3
    prev[2] = r2
    prev[3] = r3
    # the readers' state last (see gr_max_since): the ring entry before
    # the sequence number that publishes it
    st[MIN_GAIN] = min_gain
    ist[SUB_LEFT] = left
    ist[GR_SEQ] = seq
    if n > 0:
        st[GR_DB] = -20.0 * math.log10(gain) if gain < 1.0 else 0.0
    oversample_commit(xs, n)


# ---------------------------------------------------------------- readers

def gr_db(v) -> float:
    return float(v("st")[GR_DB])


def slow_gr_db(v) -> float:
    return float(v("st")[SLOW_GR_DB])


def gr_seq(v) -> int:
    return int(v("ist")[GR_SEQ])


def gr_max_since(v, seq_seen: int) -> tuple:
    """(max GR in dB over the 100 ms periods completed since ``seq_seen``
    and the running one, new sequence number).  Reads only: any number of
    readers each keep their own ``seq_seen``.  A reader more than GR_HIST
    periods behind gets the max over the whole ring."""
    seq = gr_seq(v)
    ring = v("gr_ring")
    k = min(seq - seq_seen, GR_HIST)
    best = 0.0
    for j in range(seq - k, seq):
        best = max(best, float(ring[j % GR_HIST]))
    low = float(v("st")[MIN_GAIN])
    if low < 1.0:
        best = max(best, -20.0 * math.log10(low))
    return best, seq
