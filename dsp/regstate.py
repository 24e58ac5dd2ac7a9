"""Sample-loop primitives that keep their state in registers.

A kernel loads a filter's coefficients and state into locals before its
sample loop, steps them with these helpers and stores the state back after
the loop.  Stage state lives in one arena, so LLVM must assume any store in
the loop may change it: state read and written through the arena is
reloaded and re-stored every sample; in locals it stays in registers.  The
arithmetic is the same, operation for operation, as the arena-based
``biquad.biquad_tick`` (results are bit-identical).
"""
from __future__ import annotations

from ._jit import helper


@helper
def biquad_step(b0, b1, b2, a1, a2, z0, z1, x):
    """One sample through a TDF-II biquad with state (z0, z1): returns
    (y, z0, z1), computed exactly as ``biquad.biquad_tick``."""
    y = b0 * x + z0
    z0 = b1 * x - a1 * y + z1
    z1 = b2 * x - a2 * y
    return y, z0, z1
