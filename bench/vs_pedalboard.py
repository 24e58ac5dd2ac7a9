"""In-process real-time factor: Masterbox's chain vs a pedalboard chain.

Both run side by side in one process on the same input (48 kHz stereo, the
synthesized demo mix), at 128-frame blocks.  pedalboard chain: HighpassFilter
-> Compressor -> Gain -> Limiter, ``reset=False`` between blocks (streaming).
Reported as medians of several runs and as a ratio (ours / pedalboard), since
this machine is shared and noisy; times are process CPU time
(``time.process_time``), so time the process spends preempted does not count.

    python bench/vs_pedalboard.py [--json] [--block 128] [--seconds 20] [--runs 5]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _dispatch_floor_us(runs: int) -> float:
    """Median cost of calling an empty numba kernel with the chain's 4
    arguments: what no kernel change can remove."""
    import numba

    @numba.njit(nogil=True)
    def empty(x, y, a, ia):
        return 0

    x = np.zeros((0, 2), dtype=np.float32)
    a = np.zeros(10)
    ia = np.zeros(10, dtype=np.int64)
    empty(x, x, a, ia)
    reps = []
    for _ in range(runs):
        t = time.process_time()
        for _k in range(20000):
            empty(x, x, a, ia)
        reps.append((time.process_time() - t) / 20000 * 1e6)
    return float(np.median(reps))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    import pedalboard

    from masterbox import dsp
    from masterbox.firmware import presets as pr
    from masterbox.firmware.demo import synth_mix
    fs = 48000
    x = synth_mix(fs, a.seconds)
    dsp.warmup()
    params = pr.chain_params(pr.load_presets()["pop"], 5.0, -14.0, -1.0)
    blk = a.block
    nb = len(x) // blk
    y = np.empty((blk, 2), dtype=np.float32)

    def ours():
        ch = dsp.Chain(fs, params)
        t = time.process_time()
        for b in range(nb):
            ch.process_into(x[b * blk:(b + 1) * blk], y)
        return time.process_time() - t

    xt = np.ascontiguousarray(x.T)   # pedalboard wants (channels, frames)

    def theirs():
        board = pedalboard.Pedalboard([
            pedalboard.HighpassFilter(cutoff_frequency_hz=25),
            pedalboard.Compressor(threshold_db=-18, ratio=2.5, attack_ms=10, release_ms=150),
            pedalboard.Gain(gain_db=6),
            pedalboard.Limiter(threshold_db=-1.0, release_ms=80),
        ])
        t = time.process_time()
        for b in range(nb):
            board(xt[:, b * blk:(b + 1) * blk], fs, reset=False)
        return time.process_time() - t

    theirs()   # warm
    t_ours, t_theirs = [], []
    for _ in range(a.runs):          # interleaved, so both see the same machine load
        t_ours.append(ours())
        t_theirs.append(theirs())
    audio_s = nb * blk / fs
    res = {
        "block": blk, "audio_seconds": audio_s, "runs": a.runs,
        "masterbox_rtf": audio_s / float(np.median(t_ours)),
        "pedalboard_rtf": audio_s / float(np.median(t_theirs)),
    }
    res["ratio"] = res["masterbox_rtf"] / res["pedalboard_rtf"]
    # each run pair saw nearly the same machine load: the median of the
    # pairs' ratios is steadier than the ratio of the medians
    res["ratio_pairs_median"] = float(np.median(np.array(t_theirs) / np.array(t_ours)))
    # fixed cost per block: a call with n = 0 (Python dispatch + the kernel's
    # per-block set-up, no samples) and with 1 frame
    ch = dsp.Chain(fs, params)
    z = np.zeros((0, 2), dtype=np.float32)
    one = np.ascontiguousarray(x[:1])
    y1 = np.empty((1, 2), dtype=np.float32)
    for label, arr, out in (("fixed_us_n0", z, z.copy()), ("fixed_us_n1", one, y1)):
        reps = []
        for _ in range(a.runs):
            t = time.process_time()
            for _k in range(20000):
                ch.process_into(arr, out)
            reps.append((time.process_time() - t) / 20000 * 1e6)
        res[label] = float(np.median(reps))
    # the floor: numba's dispatch of an empty kernel with the same arguments
    res["dispatch_floor_us"] = _dispatch_floor_us(a.runs)
    res["masterbox_us_per_block"] = float(np.median(t_ours)) / nb * 1e6
    res["pedalboard_us_per_block"] = float(np.median(t_theirs)) / nb * 1e6
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"block {blk}: masterbox {res['masterbox_rtf']:.0f}x real time "
              f"({res['masterbox_us_per_block']:.1f} us/block), pedalboard "
              f"{res['pedalboard_rtf']:.0f}x ({res['pedalboard_us_per_block']:.1f} us/block), "
              f"ratio {res['ratio']:.2f} (median of run pairs {res['ratio_pairs_median']:.2f}); fixed per block {res['fixed_us_n0']:.2f} us "
              f"(1 frame {res['fixed_us_n1']:.2f} us; empty-kernel dispatch {res['dispatch_floor_us']:.2f} us)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
