"""Coefficient design: pure functions from parameters to coefficients.

Every biquad is written as five numbers ``[b0, b1, b2, a1, a2]`` (a0
normalised to 1), the layout all kernels use.  The designers are numba
functions so the streaming EQ can re-design (morph) filters at control rate
inside a kernel, and so tests can call them from Python against scipy.

References
----------
* RBJ "Audio EQ Cookbook" (W3C Audio WG note, 2021 edition): shelves, peaks,
  2nd-order low/high/all/band-pass.
* Linkwitz–Riley 4th order = two cascaded Butterworth 2nd-order sections
  (Q = 1/sqrt 2); LP4 + HP4 is the 2nd-order all-pass with the same Q, which
  is what the band-split compensation uses.
* ITU-R BS.1770-4 Annex 1 (K-weighting), constants of the analog prototype
  as in libebur128 ``ebur128_init_filter`` so that any sample rate works.
* ITU-R BS.1770-4 Annex 2 (true-peak 4x interpolator, 48 taps).
"""
from __future__ import annotations

import math

import numpy as np

from ._jit import kernel

SQRT1_2 = 0.7071067811865476


@kernel
def _rbj_common(fs_hz, f_hz, q):
    # Keep f safely inside (0, fs/2): a designer must never produce an
    # unstable or NaN filter, whatever a smoothed parameter passes through.
    f = min(max(f_hz, 1.0), 0.49 * fs_hz)
    w0 = 2.0 * math.pi * f / fs_hz
    return math.cos(w0), math.sin(w0) / (2.0 * max(q, 0.05))


@kernel
def _normalise(out, b0, b1, b2, a0, a1, a2):
    out[0] = b0 / a0
    out[1] = b1 / a0
    out[2] = b2 / a0
    out[3] = a1 / a0
    out[4] = a2 / a0


@kernel
def design_peak(out, fs_hz, f_hz, gain_db, q):
    """RBJ peaking EQ.  Writes ``out[0:5]``."""
    cw, alpha = _rbj_common(fs_hz, f_hz, q)
    a = 10.0 ** (gain_db / 40.0)
    _normalise(out, 1.0 + alpha * a, -2.0 * cw, 1.0 - alpha * a,
               1.0 + alpha / a, -2.0 * cw, 1.0 - alpha / a)


@kernel
def design_lowshelf(out, fs_hz, f_hz, gain_db, q):
    """RBJ low shelf (Q form; Q = 1/sqrt 2 is the steepest monotonic shelf)."""
    cw, alpha = _rbj_common(fs_hz, f_hz, q)
    a = 10.0 ** (gain_db / 40.0)
    sa = 2.0 * math.sqrt(a) * alpha
    _normalise(out,
               a * ((a + 1.0) - (a - 1.0) * cw + sa),
               2.0 * a * ((a - 1.0) - (a + 1.0) * cw),
               a * ((a + 1.0) - (a - 1.0) * cw - sa),
               (a + 1.0) + (a - 1.0) * cw + sa,
               -2.0 * ((a - 1.0) + (a + 1.0) * cw),
               (a + 1.0) + (a - 1.0) * cw - sa)


@kernel
def design_highshelf(out, fs_hz, f_hz, gain_db, q):
    """RBJ high shelf."""
    cw, alpha = _rbj_common(fs_hz, f_hz, q)
    a = 10.0 ** (gain_db / 40.0)
    sa = 2.0 * math.sqrt(a) * alpha
    _normalise(out,
               a * ((a + 1.0) + (a - 1.0) * cw + sa),
               -2.0 * a * ((a - 1.0) + (a + 1.0) * cw),
               a * ((a + 1.0) + (a - 1.0) * cw - sa),
               (a + 1.0) - (a - 1.0) * cw + sa,
               2.0 * ((a - 1.0) - (a + 1.0) * cw),
               (a + 1.0) - (a - 1.0) * cw - sa)


@kernel
def design_lowpass(out, fs_hz, f_hz, q):
    cw, alpha = _rbj_common(fs_hz, f_hz, q)
    _normalise(out, (1.0 - cw) / 2.0, 1.0 - cw, (1.0 - cw) / 2.0,
               1.0 + alpha, -2.0 * cw, 1.0 - alpha)


@kernel
def design_highpass(out, fs_hz, f_hz, q):
    cw, alpha = _rbj_common(fs_hz, f_hz, q)
    _normalise(out, (1.0 + cw) / 2.0, -(1.0 + cw), (1.0 + cw) / 2.0,
               1.0 + alpha, -2.0 * cw, 1.0 - alpha)


@kernel
def design_allpass(out, fs_hz, f_hz, q):
    cw, alpha = _rbj_common(fs_hz, f_hz, q)
    _normalise(out, 1.0 - alpha, -2.0 * cw, 1.0 + alpha,
               1.0 + alpha, -2.0 * cw, 1.0 - alpha)


@kernel
def design_bandpass(out, fs_hz, f_hz, q):
    """RBJ band-pass, constant 0 dB peak gain."""
    cw, alpha = _rbj_common(fs_hz, f_hz, q)
    _normalise(out, alpha, 0.0, -alpha, 1.0 + alpha, -2.0 * cw, 1.0 - alpha)


@kernel
def design_lr2(out, fs_hz, f_hz):
    """Linkwitz–Riley 2nd-order split at ``f_hz`` into the flat ``out[0:15]``.

    Rows of five: LP2, -HP2 (each Q = 1/2, i.e. a 1st-order Butterworth
    squared), AP1.  An LR2 pair LP + HP sums to a notch, so one half must be
    inverted; the high half is, so the pair sums to the 1st-order all-pass
    (w - s)/(w + s): +1 at DC, -1 at high frequencies.  That choice lets the
    A/B switch's compensator (``stages.mix``) become the identity by moving
    its corner *up* toward Nyquist, where a moving phase shifts treble by a
    fraction of a per cent instead of bass by a semitone.  AP1 is that
    all-pass, for the other branch of a band-split tree.  Its group delay is
    half an LR4 split's: 2/w0 / (1 + (w/w0)^2) (Linkwitz, "Active crossover
    networks for non-coincident drivers", JAES 1976).
    """
    design_lowpass(out[0:5], fs_hz, f_hz, 0.5)
    design_highpass(out[5:10], fs_hz, f_hz, 0.5)
    for j in range(5, 8):
        out[j] = -out[j]
    f = min(max(f_hz, 1.0), 0.49 * fs_hz)       # the clamp of _rbj_common
    # c = (t - 1)/(t + 1), t = tan(pi f / fs), written with sin and cos, the
    # functions the other designers use (their libm results are known to
    # agree on x86-64 and arm64; glibc picks FMA variants on x86)
    x = math.pi * f / fs_hz
    c = (math.sin(x) - math.cos(x)) / (math.sin(x) + math.cos(x))
    # bilinear (1 - s)/(1 + s) with s = (1 - 1/z) / (t (1 + 1/z)):
    # (c + 1/z) / (1 + c/z)
    out[10] = c
    out[11] = 1.0
    out[12] = 0.0
    out[13] = c
    out[14] = 0.0


@kernel
def design_lr4(out, fs_hz, f_hz):
    """Linkwitz–Riley 4th-order split at ``f_hz`` into the flat ``out[0:25]``.

    Rows of five: LP, LP, HP, HP, AP (the all-pass equal to LP4 + HP4, used
    to keep the other branch of a band-split tree phase-aligned).
    """
    design_lowpass(out[0:5], fs_hz, f_hz, SQRT1_2)
    design_lowpass(out[5:10], fs_hz, f_hz, SQRT1_2)
    design_highpass(out[10:15], fs_hz, f_hz, SQRT1_2)
    design_highpass(out[15:20], fs_hz, f_hz, SQRT1_2)
    design_allpass(out[20:25], fs_hz, f_hz, SQRT1_2)


def k_weighting(fs_hz: float) -> np.ndarray:
    """BS.1770-4 K-weighting as two biquads, shape (2, 5), for any rate.

    Analog prototype constants from libebur128 (``ebur128_init_filter``);
    at 48 kHz they reproduce the coefficients tabulated in BS.1770-4.
    """
    f0 = 1681.974450955533
    g_db = 3.999843853973347
    q = 0.7071752369554196
    k = math.tan(math.pi * f0 / fs_hz)
    vh = 10.0 ** (g_db / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0,
             (vh - vb * k / q + k * k) / a0, 2.0 * (k * k - 1.0) / a0,
             (1.0 - k / q + k * k) / a0]
    f0 = 38.13547087602444
    q = 0.5003270373238773
    k = math.tan(math.pi * f0 / fs_hz)
    d = 1.0 + k / q + k * k
    hp = [1.0, -2.0, 1.0, 2.0 * (k * k - 1.0) / d, (1.0 - k / q + k * k) / d]
    return np.array([shelf, hp], dtype=np.float64)


# ITU-R BS.1770-4 Annex 2: order-48 interpolating FIR, four phases of 12 taps.
# The prototype is symmetric: phase 3 is phase 0 reversed, phase 2 is phase 1
# reversed (tests check this).  Phase p, tap k multiplies x[n - k]; phases
# 0..3 estimate the signal between x[n-6] and x[n-5].
_TP_PHASE0 = [0.0017089843750, 0.0109863281250, -0.0196533203125, 0.0332031250000,
              -0.0594482421875, 0.1373291015625, 0.9721679687500, -0.1022949218750,
              0.0476074218750, -0.0266113281250, 0.0148925781250, -0.0083007812500]
_TP_PHASE1 = [-0.0291748046875, 0.0292968750000, -0.0517578125000, 0.0891113281250,
              -0.1665039062500, 0.4650878906250, 0.7797851562500, -0.2003173828125,
              0.1015625000000, -0.0582275390625, 0.0330810546875, -0.0189208984375]
TRUE_PEAK_FIR = np.array([_TP_PHASE0, _TP_PHASE1, _TP_PHASE1[::-1], _TP_PHASE0[::-1]],
                         dtype=np.float64)
TRUE_PEAK_TAPS = 12
TRUE_PEAK_DELAY = 6  # samples: phase 0 of x[n] history is centred on x[n-6]

# Octave bands (ISO 266 nominal centres) used by the adaptive tonal EQ and the
# genre target spectra.
OCTAVE_CENTRES_HZ = np.array([31.5, 63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0,
                              4000.0, 8000.0, 16000.0])
