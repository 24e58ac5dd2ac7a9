"""Filter and control primitives shared by the stages.

Biquads are transposed direct form II with coefficient rows
``[b0, b1, b2, a1, a2]`` (a0 = 1).  Stage state lives in flat 1-D arena
regions (a 2-D view would cost a reshape, ~70 ns, per region per block), so
the primitives take an array and an offset: coefficients ``c[co:co+5]``,
state ``z[zo:zo+2]``.
"""
from __future__ import annotations

import math

from . import params as P
from ._jit import helper, kernel

CR = P.CONTROL_PERIOD


@helper
def biquad_tick(c, co, z, zo, x):
    """One sample through the TDF-II biquad ``c[co:co+5]``, state ``z[zo:zo+2]``."""
    y = c[co] * x + z[zo]
    z[zo] = c[co + 1] * x - c[co + 3] * y + z[zo + 1]
    z[zo + 1] = c[co + 2] * x - c[co + 4] * y
    return y


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


@helper
def amount(intensity):
    """Macro depth for the stages: 0 at intensity 0, 1 at 5 (the preset's
    nominal setting), 2 at 10."""
    return min(max(intensity, 0.0), 10.0) / 5.0


@helper
def tick_coef(time_ms, fs):
    """One-pole coefficient for a time constant sampled once per control tick."""
    return math.exp(-CR / (max(time_ms, 0.01) * 1e-3 * fs))


def one_pole_coef(time_s: float, fs_hz: float, every_samples: int = 1) -> float:
    """Python side: the 1 - exp(-T/tau) smoothing step for an update every
    ``every_samples`` samples toward a target with time constant ``time_s``."""
    return 1.0 - math.exp(-every_samples / (time_s * fs_hz))
