"""Adaptive-rate resampling: two sound cards with two clocks (issue 12).

In the modes ``interface-to-gadget`` and ``gadget-to-interface`` the
capture side runs on one clock (the interface's crystal, or the USB host's
frame clock) and the playback side on another; nominally both are 48 kHz,
really they differ by up to a few hundred ppm.  A FIFO between them drains or
fills; this resampler reads it at ``step`` input frames per output frame,
and a PI controller on the FIFO's level steers ``step`` (CamillaDSP's rate
adjust: ``PIRateController`` in HEnquist/camilladsp src/helpers.rs, err =
level - target, P on err / frames-per-interval, I on its sum, clamped).

Interpolator: windowed-sinc, ``TAPS`` taps per output sample, coefficients
for ``PHASES`` fractional positions, linearly interpolated between the two
nearest (J. O. Smith, "Digital Audio Resampling Home Page", the
table-interpolated bandlimited interpolation of resample/libresample).
Kaiser window (beta 12: stop band below -110 dB), cut-off at 0.47 fs: the
response is flat to 20 kHz at 48 kHz.  Every row is normalised to unit DC
gain, so the level does not move with the fractional phase (no level step
when the ratio moves).  tests/test_resample.py measures THD+N of a 1 kHz
tone through it, the naive twin is tests/naive.resample.

Caller-owned state, no allocation in the kernels.
"""
from __future__ import annotations

import math

import numpy as np

from ._jit import kernel

TAPS = 128
PHASES = 1024
CUTOFF = 0.47              # of the sample rate (20 kHz at 48 kHz sits in the flat part)
KAISER_BETA = 12.0
HALF = TAPS // 2
MAX_STEP_DEV = 0.002       # 2000 ppm: a crystal or USB frame clock is within ~100 ppm


def _bessel_i0(x: float) -> float:
    """Modified Bessel function I0 by its power series (scalar math only)."""
    s, term, k = 1.0, 1.0, 1
    while term > 1e-17 * s:
        term *= (x / (2.0 * k)) ** 2
        s += term
        k += 1
    return s


def design_table(taps: int = TAPS, phases: int = PHASES, cutoff: float = CUTOFF,
                 beta: float = KAISER_BETA) -> np.ndarray:
    """(phases + 1, taps) float64: row p holds the taps for a read position
    ``p / phases`` of a frame after input frame i, applied to input frames
    i + 1 - taps/2 .. i + taps/2.  Row ``phases`` (a whole frame later) is
    there so the interpolation between rows needs no wrap."""
    half = taps // 2
    i0b = _bessel_i0(beta)
    t = np.zeros((phases + 1, taps))
    for p in range(phases + 1):
        f = p / phases
        for k in range(taps):
            u = (half - 1 - k) + f          # distance (frames) from the read position
            x = 2.0 * cutoff * u
            s = 1.0 if x == 0.0 else math.sin(math.pi * x) / (math.pi * x)
            r = u / half
            w = _bessel_i0(beta * math.sqrt(1.0 - r * r)) / i0b if abs(r) < 1.0 else 0.0
            t[p, k] = 2.0 * cutoff * s * w
        t[p] /= t[p].sum()                  # unit DC gain at every phase
    return t


@kernel
def resample_into(buf, pos, step, table, out):
    """Read ``out.shape[0]`` frames from ``buf`` (frames, channels) starting
    at the fractional frame ``pos``, advancing ``step`` input frames per
    output frame; returns the new ``pos``.  The caller guarantees
    ``HALF - 1 <= pos`` and that ``buf`` holds frames up to
    ``frames_needed(pos, step, n)``."""
    phases = table.shape[0] - 1
    taps = table.shape[1]
    half = taps // 2
    nch = buf.shape[1]
    for j in range(out.shape[0]):
        i = int(pos)
        fp = (pos - i) * phases
        p = int(fp)
        a = fp - p
        base = i + 1 - half
        for ch in range(nch):
            s = 0.0
            for k in range(taps):
                c = table[p, k] + a * (table[p + 1, k] - table[p, k])
                s += c * buf[base + k, ch]
            out[j, ch] = s
        pos += step
    return pos


@kernel
def frames_needed(pos, step, n, half):
    """Input frames ``buf`` must hold for ``n`` outputs from ``pos``."""
    return int(pos + (n - 1) * step) + half + 1


@kernel
def discard_front(buf, n_valid, pos, half):
    """Drop the input frames no future output needs (shift ``buf`` left in
    place); returns (frames kept, new pos)."""
    drop = int(pos) - (half - 1)
    if drop <= 0:
        return n_valid, pos
    if drop > n_valid:
        drop = n_valid
    for i in range(n_valid - drop):
        for ch in range(buf.shape[1]):
            buf[i, ch] = buf[i + drop, ch]
    return n_valid - drop, pos - drop


# PI rate controller state (a float64 array of RC_SIZE, caller-owned)
RC_AVG, RC_ACC, RC_STEP, RC_COUNT, RC_SUM = range(5)
RC_SIZE = 5


@kernel
def rate_control(rc, level, target, blocks_per_update, frames_per_update, k_p, k_i):
    """Feed one buffer-level reading (frames waiting in the FIFO) per block;
    every ``blocks_per_update`` blocks the averaged level updates the step
    (CamillaDSP's PIRateController: rel = (avg - target) / frames per
    interval; acc += rel; step = 1 + k_p rel + k_i acc, clamped to
    +-MAX_STEP_DEV).  A level above target means the writer's clock is
    faster: read faster (step > 1).  Returns the step."""
    rc[RC_SUM] += level
    rc[RC_COUNT] += 1.0
    if rc[RC_COUNT] >= blocks_per_update:
        avg = rc[RC_SUM] / rc[RC_COUNT]
        rc[RC_SUM] = 0.0
        rc[RC_COUNT] = 0.0
        rc[RC_AVG] = avg
        rel = (avg - target) / frames_per_update
        rc[RC_ACC] += rel
        d = k_p * rel + k_i * rc[RC_ACC]
        if d > MAX_STEP_DEV:
            d = MAX_STEP_DEV
        elif d < -MAX_STEP_DEV:
            d = -MAX_STEP_DEV
        rc[RC_STEP] = 1.0 + d
    return rc[RC_STEP]


def new_rate_state() -> np.ndarray:
    rc = np.zeros(RC_SIZE)
    rc[RC_STEP] = 1.0
    return rc
