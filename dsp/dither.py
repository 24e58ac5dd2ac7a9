"""TPDF dither for integer output (used when writing 16/24-bit files).

Triangular-PDF dither of +-1 LSB peak (sum of two independent uniform
variables) makes the quantisation error signal-independent (Lipshitz,
Wannamaker & Vanderkooy, JAES 1992).  A xorshift64* generator keeps it
deterministic and streaming (state in ``rng_state``, shape (1,), uint64).
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel


@kernel
def _uniform(state):
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return np.float64((x * np.uint64(2685821657736338717)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@kernel
def tpdf_dither_block(x, n, lsb, rng_state):
    """Add TPDF dither of +-``lsb`` peak to ``x[:n]`` (N, 2) in place."""
    for i in range(n):
        for ch in range(x.shape[1]):
            x[i, ch] += (_uniform(rng_state) + _uniform(rng_state) - 1.0) * lsb
