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

# regions (float, then int)
ST, XS, US, PREV, DLY, DQ_V, BOX, GR_RING, CFG, IST, DQ_I = range(11)
# ST slots
ENV = 0             # release envelope (linear gain)
SLOW_GR_DB = 1      # slow GR for the programme-dependent release
BOX_SUM = 2
REL_COEF = 3
GR_DB = 4           # GR of the block's last sample
MIN_GAIN = 5        # lowest gain in the running 100 ms
N_ST = 6
# CFG slots: A (average length), W (hold half-width), M = A + 2W,
# D (signal delay), sub-block length (100 ms)
C_A, C_W, C_M, C_D, C_SUB = range(5)
# IST slots
DLY_POS, DQ_HEAD, DQ_COUNT, BOX_POS, SUB_LEFT, GR_SEQ = range(6)


def sizes(fs_hz: int, lookahead_samples: int):
    """(A, W, M, D) for a limiter with an A-sample box at ``fs_hz``."""
    w = int(round(4 * fs_hz / 48000.0))
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
    v("box")[:] = 1.0
    v("ist")[SUB_LEFT] = sub


# ---------------------------------------------------------------- sub-kernels

@helper
def refined_peak(us, xs, prev, ch, i):
    """Peak magnitude around output i of channel ch: the raw sample, the
    four 4x values, and the parabola through the largest of the four
    centres (p3, u0, u1, u2).  Within one input sample |signal| has at most
    one local maximum for content below fs/2."""
    u0 = upsampled(us, ch, 0, i)
    u1 = upsampled(us, ch, 1, i)
    u2 = upsampled(us, ch, 2, i)
    u3 = upsampled(us, ch, 3, i)
    p2 = prev[2 * ch]
    p3 = prev[2 * ch + 1]
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
    pk = max(abs(delayed_input(xs, ch, i)), abs(u3), parabola_peak(a, b, c))
    prev[2 * ch] = u2
    prev[2 * ch + 1] = u3
    return pk


@helper
def _peak_bound(us, xs, prev, ch, i):
    """An upper bound of ``refined_peak`` without its division: the
    parabola never exceeds PARABOLA_CAP times the largest centre."""
    mb = max(max(abs(prev[2 * ch + 1]), abs(upsampled(us, ch, 0, i))),
             max(abs(upsampled(us, ch, 1, i)), abs(upsampled(us, ch, 2, i))))
    return max(abs(delayed_input(xs, ch, i)), abs(upsampled(us, ch, 3, i)), PARABOLA_CAP * mb)


@helper
def detect(us, xs, prev, i, thr):
    """Required gain r = min(1, thr / true peak) at output i."""
    if max(_peak_bound(us, xs, prev, 0, i), _peak_bound(us, xs, prev, 1, i)) <= thr:
        # cannot cross the threshold: skip the refinement, keep its history
        for ch in range(2):
            prev[2 * ch] = upsampled(us, ch, 2, i)
            prev[2 * ch + 1] = upsampled(us, ch, 3, i)
        return 1.0
    tp = max(refined_peak(us, xs, prev, 0, i), refined_peak(us, xs, prev, 1, i))
    if tp > thr:
        return thr / tp
    return 1.0


@helper
def release_tick(st, release_ms, fs):
    """Every CR samples: programme-dependent release, short after isolated
    peaks, up to the set time while limiting is sustained."""
    sustain = min(st[SLOW_GR_DB] / SUSTAIN_GR_DB, 1.0)
    tau_ms = release_ms * (0.3 + 0.7 * sustain)
    st[REL_COEF] = math.exp(-1.0 / (tau_ms * 1e-3 * fs))
    gr_now = -20.0 * math.log10(max(st[ENV], 1e-12))
    st[SLOW_GR_DB] += (1.0 - math.exp(-CR / (SLOW_GR_TAU_S * fs))) * (gr_now - st[SLOW_GR_DB])


@helper
def envelope(st, r):
    """Instant attack to r, one-pole release toward 1."""
    e = st[ENV] + (1.0 - st[ENV]) * (1.0 - st[REL_COEF])
    if r < e:
        e = r
    st[ENV] = e
    return e


@helper
def sliding_min(dq_i, dq_v, ist, g, v, m_len):
    """Minimum of the last ``m_len`` values pushed (v at sample index g):
    monotone deque, amortised O(1).  Ring indices wrap by comparison: an
    integer modulo by a runtime divisor costs ~25 cycles."""
    cap = dq_i.shape[0]
    head = ist[DQ_HEAD]
    cnt = ist[DQ_COUNT]
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
    ist[DQ_HEAD] = head
    ist[DQ_COUNT] = cnt
    return dq_v[head]


@helper
def box_average(box, st, ist, v, a_len, g):
    """Mean of the last ``a_len`` values (running sum)."""
    bp = ist[BOX_POS]
    st[BOX_SUM] += v - box[bp]
    box[bp] = v
    bp += 1
    ist[BOX_POS] = 0 if bp == a_len else bp
    if g % BOX_RESYNC == 0:
        # the running sum adds and subtracts values of different size and
        # drifts by rounding; an exact re-sum on the global grid bounds the
        # drift and keeps the result independent of the block size
        s = 0.0
        for j in range(a_len):
            s += box[j]
        st[BOX_SUM] = s
    return st[BOX_SUM] / a_len


@helper
def delay_apply(dly, ist, buf, i, d_len, gain):
    """buf[i] <- (buf delayed by d_len) * gain; ring of two rows."""
    dlen = dly.shape[0] // 2
    dp = ist[DLY_POS]
    rp = dp - d_len
    if rp < 0:
        rp += dlen
    for ch in range(2):
        dly[ch * dlen + dp] = buf[i, ch]
        buf[i, ch] = dly[ch * dlen + rp] * gain
    dp += 1
    ist[DLY_POS] = 0 if dp == dlen else dp


@helper
def meter_tick(st, ist, gr_ring, gain, sub):
    """Lowest gain per 100 ms (a countdown on the global grid) into the
    readers' ring, as GR in dB: one log10 per 100 ms, not per sample."""
    if gain < st[MIN_GAIN]:
        st[MIN_GAIN] = gain
    left = ist[SUB_LEFT] - 1
    if left == 0:
        seq = ist[GR_SEQ]
        gr_ring[seq % GR_HIST] = -20.0 * math.log10(st[MIN_GAIN]) if st[MIN_GAIN] < 1.0 else 0.0
        ist[GR_SEQ] = seq + 1
        st[MIN_GAIN] = 1.0
        left = sub
    ist[SUB_LEFT] = left


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
    thr = 10.0 ** (thr_db / 20.0)
    oversample_block(buf, n, fir, xs, us)
    gain = 1.0
    for i in range(n):
        g = n0 + i
        if g % CR == 0:
            release_tick(st, release_ms, fs)
        e = envelope(st, detect(us, xs, prev, i, thr))
        gain = min(box_average(box, st, ist, sliding_min(dq_i, dq_v, ist, g, e, m_len), a_len, g), 1.0)
        delay_apply(dly, ist, buf, i, d_len, gain)
        meter_tick(st, ist, gr_ring, gain, sub)
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
