"""BS.1770-4 Annex 2 true-peak interpolation, shared by the limiters and
the output meter.

Phase p, tap k of ``TRUE_PEAK_FIR`` multiplies x[n - k]; the four phases
estimate the signal between x[n-6] and x[n-5] (``TRUE_PEAK_DELAY``).

Scratch layout (flat, caller-owned, see ``scratch_sizes``):
``xs``: per channel ``HIST + MAX_BLOCK`` input samples, the first ``HIST``
being the previous block's last ones; ``us``: per channel and phase
``MAX_BLOCK`` outputs, row ``4 * ch + p``.
"""
from __future__ import annotations

from ._jit import helper, kernel
from .design import TRUE_PEAK_DELAY, TRUE_PEAK_TAPS

MAX_BLOCK = 4096
HIST = TRUE_PEAK_TAPS          # samples of history per channel
# oversample_block unrolls the taps: it is written for this filter length
assert TRUE_PEAK_TAPS == 12, "oversample_block unrolls exactly 12 taps"
XS_ROW = HIST + MAX_BLOCK
FIR_SIZE = 4 * TRUE_PEAK_TAPS


def scratch_sizes():
    """(xs, us) flat sizes for a stereo interpolator."""
    return 2 * XS_ROW, 8 * MAX_BLOCK


@kernel
def oversample_block(x, n, fir, xs, us):
    """4x-interpolate ``x[:n]`` (N, 2) into ``us`` (see the module doc).

    The sample loop is innermost so LLVM vectorises across samples; each
    output is still summed over taps in the same order, so results do not
    depend on block size.  Call ``oversample_commit`` when done with ``xs``.
    """
    for ch in range(2):
        xo = ch * XS_ROW
        for i in range(n):
            xs[xo + HIST + i] = x[i, ch]
        for p in range(4):
            uo = (4 * ch + p) * MAX_BLOCK
            fo = p * TRUE_PEAK_TAPS
            h0 = fir[fo]
            h1 = fir[fo + 1]
            h2 = fir[fo + 2]
            h3 = fir[fo + 3]
            h4 = fir[fo + 4]
            h5 = fir[fo + 5]
            h6 = fir[fo + 6]
            h7 = fir[fo + 7]
            h8 = fir[fo + 8]
            h9 = fir[fo + 9]
            h10 = fir[fo + 10]
            h11 = fir[fo + 11]
            for i in range(n):
                # taps summed in a fixed order: k = 0 .. 11
                o = xo + HIST + i
                acc = h0 * xs[o]
                acc += h1 * xs[o - 1]
                acc += h2 * xs[o - 2]
                acc += h3 * xs[o - 3]
                acc += h4 * xs[o - 4]
                acc += h5 * xs[o - 5]
                acc += h6 * xs[o - 6]
                acc += h7 * xs[o - 7]
                acc += h8 * xs[o - 8]
                acc += h9 * xs[o - 9]
                acc += h10 * xs[o - 10]
                acc += h11 * xs[o - 11]
                us[uo + i] = acc


@kernel
def oversample_commit(xs, n):
    """After the block's samples were read: keep the newest HIST as history."""
    for ch in range(2):
        xo = ch * XS_ROW
        for j in range(HIST):
            xs[xo + j] = xs[xo + n + j]


@helper
def upsampled(us, ch, p, i):
    """Phase ``p`` of interpolated output ``i`` of channel ``ch``."""
    return us[(4 * ch + p) * MAX_BLOCK + i]


@helper
def delayed_input(xs, ch, i):
    """The input sample the phases of output ``i`` surround: x[i - 6]."""
    return xs[ch * XS_ROW + HIST + i - TRUE_PEAK_DELAY]


PARABOLA_CAP = 1.25            # parabola_peak never exceeds this times |b|


@helper
def parabola_peak(a, b, c):
    """Peak magnitude of the parabola through (-1,a),(0,b),(1,c) if b is a
    local extremum of |.| (capped at PARABOLA_CAP |b|), else |b|.

    Written with selects, not branches: on noise-like programme the
    conditions are random and mispredicted branches cost more than the
    arithmetic."""
    sb = 1.0 if b >= 0.0 else -1.0
    a1 = sb * a
    b1 = sb * b
    c1 = sb * c
    d = 2.0 * b1 - a1 - c1
    v = min(b1 + (c1 - a1) * (c1 - a1) / (8.0 * max(d, 1e-300)), PARABOLA_CAP * b1)
    ok = (b1 >= a1) & (b1 >= c1) & (d > 0.0)
    return v if ok else b1
