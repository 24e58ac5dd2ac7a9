"""Slow, obvious twins of the kernels (numpy/python, no numba)."""
import math

import numpy as np


def gain_computer_db(level_db, thr_db, knee_db, slope):
    """Giannoulis et al. (JAES 2012) eq. 4, written out piecewise."""
    if level_db - thr_db < -knee_db / 2:
        return 0.0
    if level_db - thr_db > knee_db / 2 or knee_db == 0:
        return slope * (level_db - thr_db)
    return slope * (level_db - thr_db + knee_db / 2) ** 2 / (2 * knee_db)


def oversample_4x(x, fir):
    """u[p, i] = sum_k fir[p, k] x[i - k] with zeros before the start."""
    out = np.zeros((4, len(x)))
    for p in range(4):
        out[p] = np.convolve(x, fir[p])[:len(x)]
    return out


def momentary_series(x, fs, kw_sos):
    """Momentary loudness every 100 ms, BS.1770-4 by the book."""
    from scipy.signal import sosfilt
    sos = np.hstack([kw_sos[:, :3], np.ones((2, 1)), kw_sos[:, 3:]])
    y = sosfilt(sos, x, axis=0)
    step = int(round(fs / 10))
    out = []
    for end in range(4 * step, len(x) + 1, step):
        seg = y[end - 4 * step:end]
        out.append(-0.691 + 10 * math.log10(np.mean(seg ** 2, axis=0).sum() + 1e-30))
    return np.array(out)


def sliding_min(v, m_len):
    """min(v[g - m_len + 1 .. g]) for every g (window clipped at the start)."""
    return np.array([np.min(v[max(0, g - m_len + 1):g + 1]) for g in range(len(v))])


def box_average(v, a_len, initial=1.0):
    """Mean of the last a_len values, the window pre-filled with ``initial``."""
    padded = np.concatenate([np.full(a_len - 1, initial), v])
    return np.array([np.mean(padded[g:g + a_len]) for g in range(len(v))])


def delay(x, d):
    """x delayed by d samples, zeros before the start."""
    out = np.zeros_like(x)
    out[d:] = x[:len(x) - d]
    return out


def resample(x, positions, cutoff, taps, beta):
    """The ideal the adaptive resampler approximates, computed directly:
    every output is the Kaiser-windowed sinc interpolation of ``x`` (frames,
    channels) at its fractional input position (no phase table), normalised
    to unit DC gain like the kernel's rows (J. O. Smith, "Digital Audio
    Resampling")."""
    half = taps // 2
    out = np.zeros((len(positions), x.shape[1]))
    for j, t in enumerate(positions):
        i = int(math.floor(t))
        ks = np.arange(i + 1 - half, i + half + 1)
        u = t - ks
        r = u / half
        w = np.where(np.abs(r) < 1.0, np.i0(beta * np.sqrt(np.clip(1.0 - r * r, 0.0, None))), 0.0)
        h = np.sinc(2.0 * cutoff * u) * w
        h /= h.sum()
        out[j] = h @ x[ks]
    return out
