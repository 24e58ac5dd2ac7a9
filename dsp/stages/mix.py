"""Latency-matched dry path and the transparent / bypass crossfade.

The dry input goes through the same ``guard.guard_sample`` as the wet
path and a delay equal to the chain's latency.  When the mix weight is
exactly 0 the output *is* the delayed input, bit for bit (intensity 0 or
bypass); the dry gain (loudness-matched A/B) glides and lands exactly on
its target, so a 0 dB dry path stays bit exact.
"""
from __future__ import annotations

import numpy as np

from .. import params as P
from .._jit import kernel
from ..layout import Region, region
from .guard import guard_sample

RAMP_MS = 50.0              # transparent / bypass crossfade
DRY_GLIDE = 2.5             # dry-gain glide, per ramp step (~20 ms)

# regions
DRY, ST, K, IST = range(4)
# ST slots
WET, DRY_GAIN = range(2)
# K slots
K_RAMP = 0
# IST slots
DRY_POS = 0


def regions(fs_hz: int, latency_samples: int):
    return [Region("dry", 2 * (latency_samples + 1)), Region("st", 2), Region("k", 1),
            Region("ist", 1, True)]


def wanted_wet(p) -> float:
    return 1.0 if (p[P.INTENSITY] > 0 and p[P.BYPASS] == 0) else 0.0


def init(v, fs_hz: int, tgt) -> None:
    v("k")[K_RAMP] = 1.0 / (RAMP_MS * 1e-3 * float(fs_hz))
    v("st")[:] = [wanted_wet(tgt), 10.0 ** (tgt[P.BYPASS_MATCH_DB] / 20.0)]


@kernel
def block(buf, x_in, out, n, tgt, a, ia, lay, base):
    dry = region(a, lay, base + DRY)
    st = region(a, lay, base + ST)
    ramp_step = region(a, lay, base + K)[K_RAMP]
    ist = region(ia, lay, base + IST)
    want = 1.0 if (tgt[P.INTENSITY] > 0.0 and tgt[P.BYPASS] == 0.0) else 0.0
    g_want = 10.0 ** (tgt[P.BYPASS_MATCH_DB] / 20.0)
    dlen = dry.shape[0] // 2
    lat = dlen - 1
    w = st[WET]
    g_dry = st[DRY_GAIN]
    for i in range(n):
        if g_dry != g_want:
            g_dry += ramp_step * DRY_GLIDE * (g_want - g_dry)
            if abs(g_want - g_dry) < 1e-9:
                g_dry = g_want
        if w < want:
            w = min(w + ramp_step, want)
        elif w > want:
            w = max(w - ramp_step, want)
        dp = ist[DRY_POS]
        rp = dp - lat
        if rp < 0:
            rp += dlen
        for ch in range(2):
            dry[ch * dlen + dp] = guard_sample(np.float64(x_in[i, ch]))
            d = dry[ch * dlen + rp] * g_dry if g_dry != 1.0 else dry[ch * dlen + rp]
            if w == 0.0:
                v = d
            elif w == 1.0:
                v = buf[i, ch]
            else:
                v = d + w * (buf[i, ch] - d)
            out[i, ch] = v
        dp += 1
        ist[DRY_POS] = 0 if dp == dlen else dp
    st[WET] = w
    st[DRY_GAIN] = g_dry


def start_from_dry(v) -> None:
    """Make a chain that is not running yet fade in from its dry path."""
    v("st")[WET] = 0.0


def read(v) -> dict:
    return {"wet": float(v("st")[WET])}
