"""Input guard: float32 in -> float64 work buffer; NaN/Inf -> 0, finite
values clamped to +-1000 (+60 dBFS) so no later square can overflow.  The
dry path uses the same ``guard_sample`` so intensity 0 stays bit exact."""
from __future__ import annotations

import math

import numpy as np

from .._jit import helper, kernel
from ..layout import Region, region

CLAMP = 1000.0                      # +60 dBFS

# regions
ST = 0
# ST slots
NONFINITE = 0                       # non-finite samples seen (count)
N_ST = 1


def regions(fs_hz: int):
    return [Region("st", N_ST)]


def init(v) -> None:
    v("st")[:] = 0.0


@helper
def guard_sample(v):
    if not math.isfinite(v):
        return 0.0
    return min(max(v, -CLAMP), CLAMP)


@kernel
def block(x_in, buf, n, a, lay, base):
    st = region(a, lay, base + ST)
    bad = 0
    for i in range(n):
        for ch in range(2):
            v = np.float64(x_in[i, ch])
            if not math.isfinite(v):
                bad += 1
            buf[i, ch] = guard_sample(v)
    st[NONFINITE] += bad


def read(v) -> dict:
    return {"nonfinite_samples": int(v("st")[NONFINITE])}
