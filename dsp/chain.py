"""The streaming stereo mastering chain.

Signal flow (one numba call per block, no allocation)::

    in -> guard -> tonal EQ -> leveler -> multiband comp -> stereo
       -> true-peak limiter (main) -> true-peak limiter (safety) -> mix -> out
                                                                     ^
    in -> guard -> dry delay (= chain latency) ----------------------+
    out -> meters (momentary / short-term / integrated / LRA / true peak)

All state lives in two arenas (float64 and int64) owned by the ``Chain``
instance; the kernel gets views into them.  One call with five arrays keeps
numba's per-call argument unboxing (~0.1-0.2 us per array) out of the
128-frame budget.  Results do not depend on block size: every control-rate
decision is taken on the global sample grid.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import kernels as K
from . import meters as MT
from . import params as P
from ._jit import kernel
from .design import OCTAVE_CENTRES_HZ, TRUE_PEAK_FIR, design_bandpass, k_weighting

SUPPORTED_RATES_HZ = (44100, 48000, 88200, 96000)
MAX_BLOCK = 4096

MAIN_LOOKAHEAD_MS = 1.0
MAIN_MARGIN_DB = 0.25      # main limiter aims this far below the ceiling ...
SAFETY_MARGIN_DB = 0.03    # ... the safety stage this far
SAFETY_RELEASE_MS = 20.0
PARAM_GLIDE_MS = 80.0      # genre / parameter changes settle in ~0.3 s
MIX_RAMP_MS = 50.0         # transparent / bypass crossfade

# ---- arena regions: (name, kind) ; kind 'f' float arena, 'i' int arena
_REGIONS = [
    "TGT", "CONST", "GUARD",
    "EQ_CUR", "EQ_SOS", "EQ_Z", "ANA_SOS", "ANA_Z", "ANA_POW", "ADAPT", "EQ_CONSTS",
    "MB_CUR", "XO_SOS", "XO_Z", "MB_ST", "MB_CONSTS",
    "ST_CUR", "ST_SOS", "ST_Z", "ST_ST", "ST_CONSTS",
    "LEV_SOS", "LEV_Z", "LEV_RING", "LEV_ST",
    "FIR",
    "L1_ST", "L1_XS", "L1_US", "L1_PREV", "L1_DLY", "L1_DQV", "L1_BOX",
    "L2_ST", "L2_XS", "L2_US", "L2_PREV", "L2_DLY", "L2_DQV", "L2_BOX",
    "DRY", "MIX_ST",
    "M_SOS", "M_Z", "M_ST", "M_RING", "M_HINT", "M_HLRA", "M_XS", "M_US",
    # int arena
    "L1_CFG", "L1_IST", "L1_DQI", "L2_CFG", "L2_IST", "L2_DQI", "MIX_IST",
]
INT_REGIONS = frozenset(_REGIONS[_REGIONS.index("L1_CFG"):])
R = {name: k for k, name in enumerate(_REGIONS)}
(R_TGT, R_CONST, R_GUARD,
 R_EQ_CUR, R_EQ_SOS, R_EQ_Z, R_ANA_SOS, R_ANA_Z, R_ANA_POW, R_ADAPT, R_EQ_CONSTS,
 R_MB_CUR, R_XO_SOS, R_XO_Z, R_MB_ST, R_MB_CONSTS,
 R_ST_CUR, R_ST_SOS, R_ST_Z, R_ST_ST, R_ST_CONSTS,
 R_LEV_SOS, R_LEV_Z, R_LEV_RING, R_LEV_ST,
 R_FIR,
 R_L1_ST, R_L1_XS, R_L1_US, R_L1_PREV, R_L1_DLY, R_L1_DQV, R_L1_BOX,
 R_L2_ST, R_L2_XS, R_L2_US, R_L2_PREV, R_L2_DLY, R_L2_DQV, R_L2_BOX,
 R_DRY, R_MIX_ST,
 R_M_SOS, R_M_Z, R_M_ST, R_M_RING, R_M_HINT, R_M_HLRA, R_M_XS, R_M_US,
 R_L1_CFG, R_L1_IST, R_L1_DQI, R_L2_CFG, R_L2_IST, R_L2_DQI, R_MIX_IST) = range(len(_REGIONS))

# CONST region
C_FS, C_SUB_N, C_RAMP, C_LAT = 0, 1, 2, 3


@kernel
def _v1(a, lay, r):
    o = lay[2 * r]
    return a[o:o + lay[2 * r + 1]]


@kernel
def _v2(a, lay, r, rows):
    o = lay[2 * r]
    s = lay[2 * r + 1]
    return a[o:o + s].reshape((rows, s // rows))


@kernel
def _v3(a, lay, r, d0, d1):
    o = lay[2 * r]
    s = lay[2 * r + 1]
    return a[o:o + s].reshape((d0, d1, s // (d0 * d1)))


@kernel
def chain_block(x_in, y_out, n, n0, work, a, ia, lay):
    """Master ``x_in[:n]`` (float32, (N, 2)) into ``y_out[:n]``; n <= work rows."""
    tgt = _v1(a, lay, R_TGT)
    cst = _v1(a, lay, R_CONST)
    fs = cst[C_FS]
    sub_n = int(cst[C_SUB_N])
    fir = _v2(a, lay, R_FIR, 4)
    K.guard_block(x_in, work, n, _v1(a, lay, R_GUARD))
    K.eq_block(work, n, n0, fs, tgt, _v1(a, lay, R_EQ_CUR), _v2(a, lay, R_EQ_SOS, K.EQ_SECTIONS),
               _v3(a, lay, R_EQ_Z, K.EQ_SECTIONS, 2), _v2(a, lay, R_ANA_SOS, K.N_OCTAVES),
               _v2(a, lay, R_ANA_Z, K.N_OCTAVES), _v1(a, lay, R_ANA_POW), _v1(a, lay, R_ADAPT),
               _v1(a, lay, R_EQ_CONSTS))
    mst = _v1(a, lay, R_M_ST)
    out_short = mst[MT.M_SHORT] if mst[MT.M_FILLED] >= MT.SUB_BLOCKS else MT.NEG_INF_LUFS
    l1 = _v1(a, lay, R_L1_ST)
    K.leveler_block(work, n, n0, tgt, _v2(a, lay, R_LEV_SOS, 2), _v3(a, lay, R_LEV_Z, 2, 2),
                    _v1(a, lay, R_LEV_RING), _v1(a, lay, R_LEV_ST), sub_n, out_short, l1[1])
    K.multiband_block(work, n, n0, fs, tgt, _v1(a, lay, R_MB_CUR), _v2(a, lay, R_XO_SOS, K.XO_ROWS),
                      _v3(a, lay, R_XO_Z, K.XO_STATES, 2), _v1(a, lay, R_MB_ST),
                      _v1(a, lay, R_MB_CONSTS))
    K.stereo_block(work, n, n0, fs, tgt, _v1(a, lay, R_ST_CUR), _v2(a, lay, R_ST_SOS, 3),
                   _v2(a, lay, R_ST_Z, 3), _v1(a, lay, R_ST_ST), _v1(a, lay, R_ST_CONSTS))
    ceiling = tgt[P.CEILING_DBTP]
    K.limiter_block(work, n, n0, fs, ceiling - MAIN_MARGIN_DB, tgt[P.LIMITER_RELEASE_MS], fir,
                    _v1(ia, lay, R_L1_CFG), l1, _v1(ia, lay, R_L1_IST),
                    _v2(a, lay, R_L1_XS, 2), _v3(a, lay, R_L1_US, 2, 4), _v2(a, lay, R_L1_PREV, 2), _v2(a, lay, R_L1_DLY, 2),
                    _v1(ia, lay, R_L1_DQI), _v1(a, lay, R_L1_DQV), _v1(a, lay, R_L1_BOX))
    K.limiter_block(work, n, n0, fs, ceiling - SAFETY_MARGIN_DB, SAFETY_RELEASE_MS, fir,
                    _v1(ia, lay, R_L2_CFG), _v1(a, lay, R_L2_ST), _v1(ia, lay, R_L2_IST),
                    _v2(a, lay, R_L2_XS, 2), _v3(a, lay, R_L2_US, 2, 4), _v2(a, lay, R_L2_PREV, 2), _v2(a, lay, R_L2_DLY, 2),
                    _v1(ia, lay, R_L2_DQI), _v1(a, lay, R_L2_DQV), _v1(a, lay, R_L2_BOX))
    K.mix_block(work, x_in, y_out, n, tgt, _v2(a, lay, R_DRY, 2), _v1(ia, lay, R_MIX_IST),
                _v1(a, lay, R_MIX_ST), cst[C_RAMP])
    MT.meter_block(y_out, n, n0, sub_n, _v2(a, lay, R_M_SOS, 2), _v3(a, lay, R_M_Z, 2, 2), mst,
                   _v1(a, lay, R_M_RING), _v2(a, lay, R_M_HINT, 2), _v2(a, lay, R_M_HLRA, 2),
                   fir, _v2(a, lay, R_M_XS, 2), _v3(a, lay, R_M_US, 2, 4))


def limiter_sizes(fs_hz: int):
    """(average length A, hold half-width W) of the main and the safety limiter."""
    fs = float(fs_hz)
    scale = fs / 48000.0
    w = int(round(4 * scale))
    return [(int(round(MAIN_LOOKAHEAD_MS * 1e-3 * fs)), w), (int(round(8 * scale)), w)]


def latency_samples(fs_hz: int) -> int:
    """The chain's fixed latency at ``fs_hz``, without building (compiling) one:
    each limiter delays by A - 1 + W + 6 (see kernels.limiter_block)."""
    return sum(a - 1 + w + 6 for a, w in limiter_sizes(fs_hz))


@dataclass(frozen=True)
class MeterSnapshot:
    """What the screen and the status line show.  Cheap to take."""
    momentary_lufs: float
    short_term_lufs: float
    integrated_lufs: float
    lra_lu: float
    true_peak_dbtp: float          # max since reset
    true_peak_recent_dbtp: float   # max over the last 100 ms
    leveler_gain_db: float
    comp_gr_db: tuple              # per band, current
    limiter_gr_db: float           # current, main + safety
    limiter_gr_max_db: float       # max since last snapshot
    correlation: float
    adaptive_eq_db: tuple          # low shelf, 400 Hz, 2.5 kHz, high shelf
    nonfinite_samples: int
    wet: float                     # 0 = dry/bypass, 1 = mastered


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
        self._lim_cfg = limiter_sizes(self.fs_hz)
        self.latency_samples = latency_samples(self.fs_hz)
        hb = MT.HIST_BINS
        sizes_f = {
            "TGT": P.N_PARAMS, "CONST": 8, "GUARD": 1,
            "EQ_CUR": P.N_PARAMS, "EQ_SOS": K.EQ_SECTIONS * 5, "EQ_Z": K.EQ_SECTIONS * 4,
            "ANA_SOS": K.N_OCTAVES * 5, "ANA_Z": K.N_OCTAVES * 2, "ANA_POW": K.N_OCTAVES,
            "ADAPT": 4, "EQ_CONSTS": 3,
            "MB_CUR": P.N_PARAMS, "XO_SOS": K.XO_ROWS * 5, "XO_Z": K.XO_STATES * 4,
            "MB_ST": 17, "MB_CONSTS": 1,
            "ST_CUR": P.N_PARAMS, "ST_SOS": 15, "ST_Z": 6, "ST_ST": 6, "ST_CONSTS": 3,
            "LEV_SOS": 10, "LEV_Z": 8, "LEV_RING": K.LEV_WINDOW, "LEV_ST": 13,
            "FIR": 48,
            "DRY": 2 * (self.latency_samples + 1), "MIX_ST": 2,
            "M_SOS": 10, "M_Z": 8, "M_ST": MT.M_SIZE, "M_RING": MT.SUB_BLOCKS,
            "M_HINT": 2 * hb, "M_HLRA": 2 * hb,
            "M_XS": 2 * (12 + MAX_BLOCK), "M_US": 8 * MAX_BLOCK,
        }
        sizes_i = {"MIX_IST": 1}     # keys: exactly INT_REGIONS
        for k, (a_len, w_len) in zip((1, 2), self._lim_cfg):
            m_len = a_len + 2 * w_len
            d_len = a_len - 1 + w_len + 6
            sizes_f.update({f"L{k}_ST": 6, f"L{k}_XS": 2 * (12 + MAX_BLOCK),
                            f"L{k}_US": 8 * MAX_BLOCK, f"L{k}_PREV": 4,
                            f"L{k}_DLY": 2 * (d_len + 1), f"L{k}_DQV": m_len + 1,
                            f"L{k}_BOX": a_len})
            sizes_i.update({f"L{k}_CFG": 4, f"L{k}_IST": 5, f"L{k}_DQI": m_len + 1})
        self._lay = np.zeros(2 * len(_REGIONS), dtype=np.int64)
        off_f = 0
        off_i = 0
        for name in _REGIONS:
            r = R[name]
            if name in INT_REGIONS:
                self._lay[2 * r], self._lay[2 * r + 1] = off_i, sizes_i[name]
                off_i += sizes_i[name]
            else:
                self._lay[2 * r], self._lay[2 * r + 1] = off_f, sizes_f[name]
                off_f += sizes_f[name]
        self._arena = np.zeros(off_f)
        self._iarena = np.zeros(off_i, dtype=np.int64)
        self._work = np.zeros((MAX_BLOCK, 2))
        self._n0 = 0
        self.reset(params)

    # ---------------------------------------------------------------- views
    def view(self, name: str, shape=None) -> np.ndarray:
        """A numpy view of one arena region (for meters, tests, snapshots)."""
        r = R[name]
        o, s = int(self._lay[2 * r]), int(self._lay[2 * r + 1])
        arena = self._iarena if name in INT_REGIONS else self._arena
        v = arena[o:o + s]
        return v.reshape(shape) if shape is not None else v

    @property
    def latency_ms(self) -> float:
        return 1000.0 * self.latency_samples / self.fs_hz

    @property
    def targets(self) -> np.ndarray:
        """The parameter-target vector controllers write (see ``params``)."""
        return self.view("TGT")

    # ---------------------------------------------------------------- setup
    def reset(self, params=None) -> None:
        """Clear all audio state; optionally load new targets (settled)."""
        tgt = self.view("TGT")
        if params is not None:
            p = np.asarray(params, dtype=np.float64)
            if p.shape != (P.N_PARAMS,):
                raise ValueError(f"params must have {P.N_PARAMS} values")
            keep = None
        else:
            keep = tgt.copy()
        self._arena[:] = 0.0
        self._iarena[:] = 0
        tgt[:] = p if params is not None else keep
        fs = float(self.fs_hz)
        self._n0 = 0
        cst = self.view("CONST")
        cst[C_FS] = fs
        cst[C_SUB_N] = round(fs / 10.0)
        cst[C_RAMP] = 1.0 / (MIX_RAMP_MS * 1e-3 * fs)
        cst[C_LAT] = self.latency_samples
        k_smooth = 1.0 - math.exp(-K.CR / (PARAM_GLIDE_MS * 1e-3 * fs))
        for name in ("EQ_CUR", "MB_CUR", "ST_CUR"):
            self.view(name)[:] = tgt
        self.view("EQ_CONSTS")[:] = [k_smooth, 1.0 - math.exp(-1.0 / (3.0 * fs)),
                                     1.0 - math.exp(-K.ADAPT_PERIOD / (6.0 * fs))]
        self.view("MB_CONSTS")[:] = [k_smooth]
        self.view("ST_CONSTS")[:] = [k_smooth, 1.0 - math.exp(-1.0 / (0.3 * fs)),
                                     1.0 - math.exp(-K.CR / (0.05 * fs))]
        ana = self.view("ANA_SOS", (K.N_OCTAVES, 5))
        for b, fc in enumerate(OCTAVE_CENTRES_HZ):
            design_bandpass(ana[b], fs, min(fc, 0.45 * fs), math.sqrt(2.0))
        K.eq_design(fs, self.view("EQ_CUR"), self.view("ADAPT"), self.view("EQ_SOS", (K.EQ_SECTIONS, 5)))
        xo = self.view("XO_SOS", (K.XO_ROWS, 5))
        cur = self.view("MB_CUR")
        for j in range(3):
            K.design_lr4(xo, 5 * j, fs, cur[P.XOVER_HZ + j])
        mb = self.view("MB_ST")
        mb[8:16] = 1.0
        st_sos = self.view("ST_SOS", (3, 5))
        f = max(tgt[P.MONO_BELOW_HZ], 10.0)
        K.design_highpass(st_sos[0], fs, f, 0.7071067811865476)
        K.design_highpass(st_sos[1], fs, f, 0.7071067811865476)
        K.design_allpass(st_sos[2], fs, f, 0.7071067811865476)
        w0 = min(max(1.0 + (tgt[P.WIDTH] - 1.0) * tgt[P.INTENSITY] / 5.0, 0.0), 2.0)
        self.view("ST_ST")[3:5] = w0
        kw = k_weighting(fs).ravel()
        self.view("LEV_SOS")[:] = kw
        self.view("M_SOS")[:] = kw
        lev = self.view("LEV_ST")
        lev[5] = lev[6] = 1.0
        lev[7] = -200.0
        self.view("FIR")[:] = TRUE_PEAK_FIR.ravel()
        for k, (a_len, w_len) in zip((1, 2), self._lim_cfg):
            self.view(f"L{k}_CFG")[:] = [a_len, w_len, a_len + 2 * w_len, a_len - 1 + w_len + 6]
            st = self.view(f"L{k}_ST")
            st[0] = 1.0
            st[2] = float(a_len)
            st[3] = 0.0
            self.view(f"L{k}_BOX")[:] = 1.0
        self.view("MIX_ST")[:] = [1.0 if (tgt[P.INTENSITY] > 0 and tgt[P.BYPASS] == 0) else 0.0,
                                  10.0 ** (tgt[P.BYPASS_MATCH_DB] / 20.0)]
        mst = self.view("M_ST")
        mst[MT.M_MOMENTARY] = mst[MT.M_SHORT] = MT.NEG_INF_LUFS

    # ---------------------------------------------------------------- audio
    def process_into(self, x: np.ndarray, out: np.ndarray) -> None:
        """Master ``x`` (N, 2) float32 into ``out`` (N, 2) float32, N <= 4096.

        Allocation-free when both arrays are C-contiguous float32: this is
        what the live callback calls.
        """
        n = x.shape[0]
        chain_block(x, out, n, self._n0, self._work, self._arena, self._iarena, self._lay)
        self._n0 += n

    def process(self, x: np.ndarray) -> np.ndarray:
        """Convenience: any length, returns a new float32 array (N, 2)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = np.empty_like(x)
        for s in range(0, x.shape[0], MAX_BLOCK):
            self.process_into(x[s:s + MAX_BLOCK], out[s:s + MAX_BLOCK])
        return out

    # ---------------------------------------------------------------- meters
    def snapshot(self) -> MeterSnapshot:
        mst = self.view("M_ST")
        mb = self.view("MB_ST")
        l1 = self.view("L1_ST")
        l2 = self.view("L2_ST")
        hint = self.view("M_HINT", (2, MT.HIST_BINS))
        hlra = self.view("M_HLRA", (2, MT.HIST_BINS))
        integ = MT.integrated_from_hist(hint)
        lim_max = float(l1[5] + l2[5])
        l1[5] = 0.0
        l2[5] = 0.0
        filled = mst[MT.M_FILLED]
        return MeterSnapshot(
            momentary_lufs=float(mst[MT.M_MOMENTARY]) if filled >= 4 else -math.inf,
            short_term_lufs=float(mst[MT.M_SHORT]) if filled >= MT.SUB_BLOCKS else -math.inf,
            integrated_lufs=float(integ) if integ > MT.NEG_INF_LUFS else -math.inf,
            lra_lu=float(MT.lra_from_hist(hlra)),
            true_peak_dbtp=MT.lin_to_db(max(mst[MT.M_TP_MAX], mst[MT.M_TP_RUN])),
            true_peak_recent_dbtp=MT.lin_to_db(mst[MT.M_TP_RECENT]),
            leveler_gain_db=float(self.view("LEV_ST")[11]),
            comp_gr_db=tuple(float(v) for v in mb[4:8]),
            limiter_gr_db=float(l1[4] + l2[4]),
            limiter_gr_max_db=lim_max,
            correlation=float(self.view("ST_ST")[5]),
            adaptive_eq_db=tuple(float(v) for v in self.view("ADAPT")),
            nonfinite_samples=int(self.view("GUARD")[0]),
            wet=float(self.view("MIX_ST")[0]),
        )

    def reset_meters(self) -> None:
        """Start a new integrated / LRA / true-peak measurement."""
        self.view("M_HINT")[:] = 0.0
        self.view("M_HLRA")[:] = 0.0
        mst = self.view("M_ST")
        mst[MT.M_TP_MAX] = 0.0
        mst[MT.M_SAMPLE_PEAK] = 0.0


def warmup() -> float:
    """Compile every kernel with the dtypes and shapes the box uses.

    Returns the seconds it took (near zero with a warm numba cache).
    """
    import time
    t0 = time.perf_counter()
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
    ch = Chain(48000, p)
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((256, 2))).astype(np.float32)
    ch.process(x)
    ch.snapshot()
    m = MT.LoudnessMeter(48000)
    m.process(x)
    m.process(x.astype(np.float64))
    _ = (m.integrated_lufs, m.lra_lu)
    return time.perf_counter() - t0
