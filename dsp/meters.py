"""A standalone BS.1770-4 / R128 meter (files, reports, tests): the same
kernel as the chain's output meter (``stages.meters``), in its own arena."""
from __future__ import annotations

import numpy as np

from .design import TRUE_PEAK_FIR
from .layout import Arena
from .stages import meters as M
from .truepeak import MAX_BLOCK


class LoudnessMeter:
    """BS.1770-4 / R128 meter with its own state; ``process`` any block size."""

    def __init__(self, fs_hz: float):
        self.fs_hz = float(fs_hz)
        self.sub_n = int(round(self.fs_hz / 10.0))
        self._fir = TRUE_PEAK_FIR.ravel().copy()
        self._arena = Arena([("meter", M.regions(int(self.fs_hz)))])
        self._base = self._arena.base["meter"]
        self._v = self._arena.views("meter")
        self.reset()

    def reset(self) -> None:
        self._arena.clear()
        M.init(self._v, int(self.fs_hz))
        self.n_done = 0

    def process(self, x: np.ndarray) -> None:
        """Meter ``x`` (N, 2) float32/float64, any length.  Mono: pass dual mono."""
        x = np.ascontiguousarray(x)
        for s in range(0, x.shape[0], MAX_BLOCK):
            blk = x[s:s + MAX_BLOCK]
            n = blk.shape[0]
            M.block(blk, n, self.n_done, self.sub_n, self._fir, self._arena.f, self._arena.lay, self._base)
            self.n_done += n

    def _read(self) -> dict:
        return M.read(self._v)

    @property
    def momentary_lufs(self) -> float:
        return self._read()["momentary_lufs"]

    @property
    def short_term_lufs(self) -> float:
        return self._read()["short_term_lufs"]

    @property
    def integrated_lufs(self) -> float:
        return self._read()["integrated_lufs"]

    @property
    def lra_lu(self) -> float:
        return self._read()["lra_lu"]

    @property
    def true_peak_dbtp(self) -> float:
        return self._read()["true_peak_dbtp"]

    @property
    def sample_peak_dbfs(self) -> float:
        return self._read()["sample_peak_dbfs"]


