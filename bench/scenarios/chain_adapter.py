"""The ONE place where the scenario suite touches the chain.

The chain API is being restructured; re-point ``render_with_traces`` and
nothing else.  It builds the chain exactly as ``masterbox render`` does
(``firmware.presets.load_presets`` -> ``resolve_genre`` -> ``chain_params``
-> ``dsp.Chain``), feeds the input in 100 ms chunks split into ``block``-frame
calls (render's default is 512; the chain is block-size independent), feeds
zeros for the latency at the end and drops the first ``latency`` output
frames, so the output lines up with the input sample for sample, as
``firmware.render.render_file`` writes it (without dither: float output).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRACE_HOP_S = 0.1


@dataclass
class Rendered:
    y: np.ndarray                  # (N, 2) float32, aligned with the input
    t_s: np.ndarray                # snapshot times: end of each 100 ms input chunk
    leveler_gain_db: np.ndarray
    limiter_gr_db: np.ndarray      # at the snapshot instant
    limiter_gr_max_db: np.ndarray  # max over the 100 ms before the snapshot
    comp_gr_db: np.ndarray         # (T, bands)
    latency_samples: int


def render_with_traces(x: np.ndarray, fs: int, genre: str = "pop", intensity: float = 5.0,
                       target_lufs: float = -14.0, ceiling_dbtp: float = -1.0,
                       block: int = 512) -> Rendered:
    """Master ``x`` (N, 2) with the live chain; snapshot after every 100 ms chunk."""
    from masterbox.dsp import Chain
    from masterbox.firmware import presets as pr
    preset = pr.resolve_genre(pr.load_presets(), genre)
    params = pr.chain_params(preset, intensity, target_lufs, ceiling_dbtp)
    chain = Chain(fs, params)
    lat = int(chain.latency_samples)
    hop = int(round(fs * TRACE_HOP_S))
    n = len(x)
    xin = np.zeros((n + lat, 2), dtype=np.float32)
    xin[:n] = x
    out = np.empty_like(xin)
    lev, lim, lim_max, comp = [], [], [], []
    gr_reader = chain.gr_reader()          # this trace's own "max since my last read"
    for s in range(0, n + lat, hop):
        e = min(n + lat, s + hop)
        for b in range(s, e, block):
            b1 = min(e, b + block)
            chain.process_into(xin[b:b1], out[b:b1])
        if e - s == hop and e <= n:            # one trace point per full input chunk
            snap = chain.snapshot()
            lev.append(snap.leveler_gain_db)
            lim.append(snap.limiter_gr_db)
            lim_max.append(gr_reader.max_since_last_read_db())
            comp.append(tuple(snap.comp_gr_db))
    return Rendered(y=np.ascontiguousarray(out[lat:]), t_s=(np.arange(len(lev)) + 1) * TRACE_HOP_S,
                    leveler_gain_db=np.array(lev), limiter_gr_db=np.array(lim),
                    limiter_gr_max_db=np.array(lim_max), comp_gr_db=np.array(comp),
                    latency_samples=lat)
