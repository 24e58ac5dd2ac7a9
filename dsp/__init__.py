"""Masterbox DSP: pure numpy/numba design functions, kernels, stages, chain, meters.

Nothing here touches devices, threads or files.
"""
from .chain import Chain, MeterSnapshot, SUPPORTED_RATES_HZ, warmup  # noqa: F401
from .meters import LoudnessMeter  # noqa: F401
