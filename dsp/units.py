"""Units in one place: dB, linear gain, power and LUFS.

``power_to_lufs`` is the only spelling of BS.1770-4 eq. 2
(``L = -0.691 + 10 log10 sum G_i z_i``): callers that need a floor add it
to the power themselves, so each call keeps its exact arithmetic.
"""
from __future__ import annotations

import math

from ._jit import helper, kernel

LUFS_OFFSET_DB = -0.691     # BS.1770-4 eq. 2: K-weighting's 1 kHz gain correction
NEG_INF_LUFS = -200.0       # "no measurement yet" inside kernels (no inf in state)


@helper
def power_to_lufs(power):
    """Mean-square K-weighted power (channel sum) -> LUFS (BS.1770-4 eq. 2)."""
    return LUFS_OFFSET_DB + 10.0 * math.log10(power)


@helper
def lufs_to_power(lufs):
    """Inverse of ``power_to_lufs``."""
    return 10.0 ** ((lufs - LUFS_OFFSET_DB) / 10.0)


@helper
def db_to_gain(db):
    return 10.0 ** (db / 20.0)


@helper
def gain_to_db(gain):
    return 20.0 * math.log10(gain)


def lin_to_db(v: float) -> float:
    """Python side: linear magnitude -> dB, -inf for 0."""
    return 20.0 * math.log10(v) if v > 0.0 else -math.inf
