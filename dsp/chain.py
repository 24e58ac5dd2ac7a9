"""The streaming stereo mastering chain: composes the stages.

Signal flow (one numba call per block, no allocation)::

    in -> guard -> preset EQ -> leveler -> multiband comp -> adaptive tone -> stereo
       -> true-peak limiter (main) -> true-peak limiter (safety) -> mix -> out
                                                                     ^
    in -> guard -> dry delay (= chain latency) ----------------------+
    out -> meters (momentary / short-term / integrated / LRA / true peak)

Every stage (``dsp/stages/``) declares its named regions; ``layout.Arena``
packs them into two arenas (float64, int64) owned by the ``Chain``; the
kernel takes borrowed 1-D views.  One call with four arrays (input, output,
the two arenas) keeps numba's per-call argument unboxing (~0.1 us per
array) out of the 128-frame budget.
Results do not depend on block size: every control-rate decision is taken
on the global sample grid.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import params as P
from ._jit import kernel
from .biquad import CR, one_pole_coef
from .design import TRUE_PEAK_FIR
from .layout import Arena, Region, borrow, region, region_rows
from .stages import eq, guard, leveler, limiter, meters, mix, multiband, stereo, tone
from .truepeak import FIR_SIZE, MAX_BLOCK

SUPPORTED_RATES_HZ = (44100, 48000, 88200, 96000)

MAIN_LOOKAHEAD_MS = 1.0
SAFETY_LOOKAHEAD_48K = 8   # samples at 48 kHz: the safety stage's box
MAIN_MARGIN_DB = 0.25      # main limiter aims this far below the ceiling ...
SAFETY_MARGIN_DB = 0.03    # ... the safety stage this far
SAFETY_RELEASE_MS = 20.0
PARAM_GLIDE_MS = 80.0      # genre / parameter changes settle in ~0.3 s
GR_WINDOW_S = 1.0          # snapshot's limiter_gr_max_db: max over this long

# the chain's own regions: parameter targets, constants, the true-peak FIR,
# the float64 work buffer (MAX_BLOCK, 2), and the global sample clock
TGT, CONST, FIR, WORK, CLOCK = range(5)
C_FS, C_SUB_N = range(2)
N0 = 0                     # CLOCK slot: global index of the next block's first sample


def _own_regions(fs_hz: int):
    return [Region("tgt", P.N_PARAMS), Region("const", 2), Region("fir", FIR_SIZE),
            Region("work", 2 * MAX_BLOCK), Region("clock", 1, True)]


def lookaheads(fs_hz: int):
    """Box lengths (samples) of the main and the safety limiter."""
    return (int(round(MAIN_LOOKAHEAD_MS * 1e-3 * fs_hz)),
            int(round(SAFETY_LOOKAHEAD_48K * fs_hz / 48000.0)))


def latency_samples(fs_hz: int) -> int:
    """The chain's fixed latency at ``fs_hz``: the two limiters' delays
    (see ``stages.limiter``); nothing else in the chain delays."""
    return sum(limiter.sizes(fs_hz, a)[3] for a in lookaheads(fs_hz))


def _instances(fs_hz: int):
    """(instance name, regions) in chain order."""
    la1, la2 = lookaheads(fs_hz)
    return [("chain", _own_regions(fs_hz)),
            ("guard", guard.regions(fs_hz)), ("eq", eq.regions(fs_hz)),
            ("lev", leveler.regions(fs_hz)), ("mb", multiband.regions(fs_hz)),
            ("tone", tone.regions(fs_hz)),
            ("st", stereo.regions(fs_hz)),
            ("lim1", limiter.regions(fs_hz, la1)), ("lim2", limiter.regions(fs_hz, la2)),
            ("mix", mix.regions(fs_hz, latency_samples(fs_hz))),
            ("meter", meters.regions(fs_hz))]


# first region number of each instance: region *counts* do not depend on the
# rate, so these are compile-time constants of chain_block
_BASE = Arena.bases(_instances(48000))
B_CHAIN, B_GUARD, B_EQ, B_LEV, B_MB, B_TONE, B_ST, B_LIM1, B_LIM2, B_MIX, B_METER = (
    _BASE[k] for k in ("chain", "guard", "eq", "lev", "mb", "tone", "st", "lim1", "lim2", "mix",
                       "meter"))


@kernel
def chain_block(x_in, y_out, a, ia):
    """Master ``x_in`` (float32, (N, 2), N <= MAX_BLOCK) into ``y_out[:N]``.

    Four arrays and nothing else: numba unboxes each argument on every call
    (~0.1 us an array), so the block length comes from ``x_in``, the sample
    clock lives in the arena and the layout table heads the int arena.
    Returns 0, or 1 (and does nothing) if the shapes do not fit."""
    n = x_in.shape[0]
    if n > MAX_BLOCK or y_out.shape[0] < n or x_in.shape[1] != 2 or y_out.shape[1] != 2:
        return 1
    # borrowed (not reference-counted) from here on, see layout.borrow
    x_in = borrow(x_in)
    y_out = borrow(y_out)
    a = borrow(a)
    ia = borrow(ia)
    lay = ia
    clock = region(ia, lay, B_CHAIN + CLOCK)
    n0 = clock[N0]
    work = region_rows(a, lay, B_CHAIN + WORK, 2)
    tgt = region(a, lay, B_CHAIN + TGT)
    cst = region(a, lay, B_CHAIN + CONST)
    fir = region(a, lay, B_CHAIN + FIR)
    fs = cst[C_FS]
    sub_n = int(cst[C_SUB_N])
    guard.block(x_in, work, n, a, lay, B_GUARD)
    eq.block(work, n, n0, fs, tgt, a, lay, B_EQ)
    out_pow = meters.last_subblock_power(a, lay, B_METER)
    lim_slow_gr = region(a, lay, B_LIM1 + limiter.ST)[limiter.SLOW_GR_DB]
    leveler.block(work, n, n0, tgt, sub_n, out_pow, lim_slow_gr, fs, a, lay, B_LEV)
    multiband.block(work, n, n0, fs, tgt, a, lay, B_MB)
    anchors = region(a, lay, B_LEV + leveler.ST)[leveler.ANCHORS_AT_SUB]
    tone.block(work, n, n0, fs, tgt, anchors, sub_n, a, lay, B_TONE)
    stereo.block(work, n, n0, fs, tgt, a, lay, B_ST)
    ceiling = tgt[P.CEILING_DBTP]
    # the main limiter's threshold: the ceiling, or the leveler's density
    # cap (decided every 100 ms; the block is split where it changed, so
    # the result does not depend on the block size)
    lev_st = region(a, lay, B_LEV + leveler.ST)
    thr = min(lev_st[leveler.LIM_CAP_DB], ceiling) - MAIN_MARGIN_DB
    k = int(lev_st[leveler.LIM_CAP_AT]) - n0
    if k > 0:
        thr_old = min(lev_st[leveler.LIM_CAP_OLD_DB], ceiling) - MAIN_MARGIN_DB
        k = min(k, n)
        limiter.block(work[:k], k, n0, fs, thr_old, tgt[P.LIMITER_RELEASE_MS], fir,
                      a, ia, lay, B_LIM1)
        if k < n:
            limiter.block(work[k:], n - k, n0 + k, fs, thr, tgt[P.LIMITER_RELEASE_MS], fir,
                          a, ia, lay, B_LIM1)
    else:
        limiter.block(work, n, n0, fs, thr, tgt[P.LIMITER_RELEASE_MS], fir, a, ia, lay, B_LIM1)
    limiter.block(work, n, n0, fs, ceiling - SAFETY_MARGIN_DB, SAFETY_RELEASE_MS, fir,
                  a, ia, lay, B_LIM2)
    mix.block(work, x_in, y_out, n, n0, tgt, a, ia, lay, B_MIX)
    meters.block(y_out, n, n0, sub_n, fir, a, lay, B_METER)
    clock[N0] = n0 + n
    return 0


@dataclass(frozen=True)
class MeterSnapshot:
    """What the screen and the status line show.  Cheap to take; reading it
    changes nothing (any number of readers)."""
    momentary_lufs: float
    short_term_lufs: float
    integrated_lufs: float
    lra_lu: float
    true_peak_dbtp: float          # max since start
    leveler_gain_db: float
    leveler_input_short_lufs: float  # the leveler's view of the input (3 s, gated)
    leveler_reference_lufs: float  # the programme loudness it levels to
    leveler_paused: bool           # input silent: gain frozen
    target_unreachable: bool       # the gain sits at a limit and the target is missed
    comp_gr_db: tuple              # per band, current
    limiter_gr_db: float           # current, main + safety
    limiter_gr_max_db: float       # max over the last GR_WINDOW_S, main + safety
    correlation: float
    width: float                   # side gain in effect
    adaptive_eq_db: tuple          # wanted octave levels, 31.5 Hz .. 16 kHz, dB
    nonfinite_samples: int
    wet: float                     # 0 = dry/bypass, 1 = mastered


class GainReductionReader:
    """One reader's "limiter GR max since my last read" (main + safety).

    The audio thread writes 100 ms maxima into a ring with a sequence
    number; each reader keeps its own position, so readers never take
    values from each other and nothing is reset from outside the audio
    thread.  Make one per consumer (panel, status line, render report)."""

    def __init__(self, chain: "Chain"):
        self._v1 = chain._arena.views("lim1")
        self._v2 = chain._arena.views("lim2")
        self._seq1 = limiter.gr_seq(self._v1)
        self._seq2 = limiter.gr_seq(self._v2)

    def max_since_last_read_db(self) -> float:
        m1, self._seq1 = limiter.gr_max_since(self._v1, self._seq1)
        m2, self._seq2 = limiter.gr_max_since(self._v2, self._seq2)
        return m1 + m2


class Chain:
    """A mastering chain instance for one stereo stream at one sample rate.

    Parameters
    ----------
    fs_hz : int
        One of SUPPORTED_RATES_HZ.
    params : sequence of float, length params.N_PARAMS
        Initial parameter targets (see ``params``; ``firmware.presets``
        builds them from a genre preset).  The chain starts settled on them.
    """

    def __init__(self, fs_hz: int, params):
        if int(fs_hz) not in SUPPORTED_RATES_HZ:
            raise ValueError(f"unsupported sample rate {fs_hz} Hz; supported: "
                             f"{', '.join(str(r) for r in SUPPORTED_RATES_HZ)}")
        self.fs_hz = int(fs_hz)
        self.latency_samples = latency_samples(self.fs_hz)
        self._arena = Arena(_instances(self.fs_hz))
        assert self._arena.base == _BASE
        self._f = self._arena.f
        self._i = self._arena.i
        self.reset(params)

    @property
    def latency_ms(self) -> float:
        return 1000.0 * self.latency_samples / self.fs_hz

    @property
    def targets(self) -> np.ndarray:
        """The parameter-target vector controllers write (see ``params``):
        the one input the chain takes while running."""
        return self._arena.view("chain", "tgt")

    def inspect(self, stage: str, region_name: str) -> np.ndarray:
        """A read-only view of one stage's state, for tests and benchmarks
        (firmware uses ``snapshot``, ``targets`` and ``start_from_dry``)."""
        v = self._arena.view(stage, region_name)
        ro = v.view()
        ro.flags.writeable = False
        return ro

    # ---------------------------------------------------------------- setup
    def reset(self, params=None) -> None:
        """Clear all audio state; optionally load new targets (settled)."""
        tgt = self.targets
        if params is not None:
            p = np.asarray(params, dtype=np.float64)
            if p.shape != (P.N_PARAMS,):
                raise ValueError(f"params must have {P.N_PARAMS} values")
        else:
            p = tgt.copy()
        self._arena.clear()
        tgt[:] = p
        fs = self.fs_hz
        v = self._arena.views
        cst = v("chain")("const")
        cst[C_FS] = float(fs)
        cst[C_SUB_N] = round(fs / 10.0)
        v("chain")("fir")[:] = TRUE_PEAK_FIR.ravel()
        k_smooth = one_pole_coef(PARAM_GLIDE_MS * 1e-3, float(fs), CR)
        guard.init(v("guard"))
        eq.init(v("eq"), fs, tgt, k_smooth)
        leveler.init(v("lev"), fs)
        multiband.init(v("mb"), fs, tgt, k_smooth)
        tone.init(v("tone"), fs, tgt, k_smooth)
        stereo.init(v("st"), fs, tgt, k_smooth)
        la1, la2 = lookaheads(fs)
        limiter.init(v("lim1"), fs, la1)
        limiter.init(v("lim2"), fs, la2)
        mix.init(v("mix"), fs, tgt)
        meters.init(v("meter"), fs)

    def start_from_dry(self) -> None:
        """Before the chain runs: let it fade in from its dry path (the
        daemon hands over from its own dry delay this way)."""
        mix.start_from_dry(self._arena.views("mix"), self.fs_hz, self.targets)

    # ---------------------------------------------------------------- audio
    def process_into(self, x: np.ndarray, out: np.ndarray) -> None:
        """Master ``x`` (N, 2) float32 into ``out`` (N, 2) float32, N <= 4096.

        Allocation-free when both arrays are C-contiguous float32: this is
        what the live callback calls.
        """
        if chain_block(x, out, self._f, self._i):
            # the kernel writes rows 0..n-1 of a MAX_BLOCK work buffer: a
            # longer block would write past it
            raise ValueError(f"block of {x.shape[0]} frames: at most {MAX_BLOCK}, stereo, "
                             "and out as long as x")

    def process(self, x: np.ndarray) -> np.ndarray:
        """Convenience: any length, returns a new float32 array (N, 2)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = np.empty_like(x)
        for s in range(0, x.shape[0], MAX_BLOCK):
            self.process_into(x[s:s + MAX_BLOCK], out[s:s + MAX_BLOCK])
        return out

    # ---------------------------------------------------------------- meters
    def gr_reader(self) -> GainReductionReader:
        return GainReductionReader(self)

    def snapshot(self) -> MeterSnapshot:
        """Current meter values.  Side-effect free."""
        v = self._arena.views
        m = meters.read(v("meter"))
        lev = leveler.read(v("lev"))
        st = stereo.read(v("st"))
        periods = int(round(GR_WINDOW_S * 10))
        gr_max = sum(limiter.gr_max_since(v(k), limiter.gr_seq(v(k)) - periods)[0]
                     for k in ("lim1", "lim2"))
        return MeterSnapshot(
            momentary_lufs=m["momentary_lufs"],
            short_term_lufs=m["short_term_lufs"],
            integrated_lufs=m["integrated_lufs"],
            lra_lu=m["lra_lu"],
            true_peak_dbtp=m["true_peak_dbtp"],
            leveler_gain_db=lev["leveler_gain_db"],
            leveler_input_short_lufs=lev["leveler_in_short_lufs"],
            leveler_reference_lufs=lev["leveler_reference_lufs"],
            leveler_paused=lev["leveler_paused"],
            target_unreachable=lev["target_unreachable"],
            comp_gr_db=multiband.read(v("mb"))["comp_gr_db"],
            limiter_gr_db=limiter.gr_db(v("lim1")) + limiter.gr_db(v("lim2")),
            limiter_gr_max_db=gr_max,
            correlation=st["correlation"],
            width=st["width"],
            adaptive_eq_db=tone.read(v("tone"))["adaptive_eq_db"],
            nonfinite_samples=guard.read(v("guard"))["nonfinite_samples"],
            wet=mix.read(v("mix"))["wet"],
        )


def warmup() -> float:
    """Compile every kernel with the dtypes and shapes the box uses.

    Returns the seconds it took (near zero with a warm numba cache).
    """
    import time
    from .meters import LoudnessMeter
    t0 = time.perf_counter()
    ch = Chain(48000, default_params())
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((256, 2))).astype(np.float32)
    ch.process(x)
    ch.snapshot()
    m = LoudnessMeter(48000)
    m.process(x)
    m.process(x.astype(np.float64))
    _ = (m.integrated_lufs, m.lra_lu)
    return time.perf_counter() - t0


def default_params() -> np.ndarray:
    """A neutral, valid parameter vector (no preset files needed): for
    warm-up and benchmarks."""
    p = np.zeros(P.N_PARAMS)
    p[P.INTENSITY] = 5.0
    p[P.TARGET_LUFS] = -14.0
    p[P.CEILING_DBTP] = -1.0
    p[P.SUBSONIC_HZ] = 25.0
    for j in range(P.EQ_SLOTS):
        p[P.EQ_BASE + 3 * j: P.EQ_BASE + 3 * j + 3] = (1000.0, 0.0, 0.7)
    p[P.XOVER_HZ:P.XOVER_HZ + 3] = (120.0, 1000.0, 6000.0)
    for b in range(P.N_BANDS):
        o = P.BAND_BASE + b * P.BAND_STRIDE
        p[o:o + 5] = (0.0, 2.0, 6.0, 10.0, 100.0)
    p[P.WIDTH] = 1.0
    p[P.LIMITER_RELEASE_MS] = 100.0
    p[P.LEV_LEVELLING] = 0.8
    p[P.LEV_CHANGE_LU] = 12.0
    return p


