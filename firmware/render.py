"""Offline rendering: the live chain, file in, file out, sample-aligned.

The chain is block-size independent, so a file rendered here is bit for bit
what the box plays for the same input and settings.  The chain's latency is
compensated: the output lines up with the input and has the same length.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dsp import Chain, LoudnessMeter, SUPPORTED_RATES_HZ
from dsp.design import OCTAVE_CENTRES_HZ
from dsp.dither import tpdf_dither_block

from .errors import InputError

SUBTYPE_BITS = {"PCM_16": 16, "PCM_24": 24}


@dataclass
class RenderResult:
    fs_hz: int
    frames: int
    latency_samples: int
    in_integrated_lufs: float
    out_integrated_lufs: float
    in_true_peak_dbtp: float
    out_true_peak_dbtp: float
    in_lra_lu: float
    out_lra_lu: float
    max_limiter_gr_db: float
    max_comp_gr_db: float
    nonfinite_samples: int
    # 100 ms series for the report
    t_s: np.ndarray = field(repr=False, default=None)
    in_short_lufs: np.ndarray = field(repr=False, default=None)
    out_short_lufs: np.ndarray = field(repr=False, default=None)
    limiter_gr_db: np.ndarray = field(repr=False, default=None)
    comp_gr_db: np.ndarray = field(repr=False, default=None)
    leveler_gain_db: np.ndarray = field(repr=False, default=None)
    in_octaves_db: np.ndarray = field(repr=False, default=None)
    out_octaves_db: np.ndarray = field(repr=False, default=None)

    def summary_lines(self, target_lufs: float, ceiling_dbtp: float):
        f = lambda v: "-inf" if not math.isfinite(v) else f"{v:.1f}"  # noqa: E731
        lines = [
            f"loudness   in {f(self.in_integrated_lufs)} LUFS -> out {f(self.out_integrated_lufs)} LUFS"
            f" (target {target_lufs:g})",
            f"true peak  in {f(self.in_true_peak_dbtp)} dBTP -> out {f(self.out_true_peak_dbtp)} dBTP"
            f" (ceiling {ceiling_dbtp:g})",
            f"LRA        in {self.in_lra_lu:.1f} LU -> out {self.out_lra_lu:.1f} LU",
            f"max gain reduction  limiter {self.max_limiter_gr_db:.1f} dB, multiband "
            f"{self.max_comp_gr_db:.1f} dB",
            f"latency    {self.latency_samples} samples = "
            f"{1000.0 * self.latency_samples / self.fs_hz:.2f} ms (compensated in the file)",
        ]
        if self.nonfinite_samples:
            lines.append(f"warning    {self.nonfinite_samples} NaN/Inf input samples were replaced by 0")
        return lines


def _octave_levels(psd: np.ndarray, fs: int, nfft: int) -> np.ndarray:
    f = np.fft.rfftfreq(nfft, 1.0 / fs)
    out = []
    for fc in OCTAVE_CENTRES_HZ:
        sel = (f >= fc / math.sqrt(2)) & (f < fc * math.sqrt(2))
        out.append(10 * math.log10(psd[sel].sum() + 1e-20))
    return np.array(out)


def open_input(path: str):
    """Open an audio file and check it; raise InputError with one clear line."""
    import os

    import soundfile as sf
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        f = sf.SoundFile(path)
    except (RuntimeError, sf.LibsndfileError) as e:   # noqa: B014
        raise InputError(f"{path}: cannot read audio ({e})") from None
    if f.channels > 2:
        f.close()
        raise InputError(f"{path}: {f.channels} channels; Masterbox takes mono or stereo")
    if f.samplerate not in SUPPORTED_RATES_HZ:
        f.close()
        raise InputError(f"{path}: sample rate {f.samplerate} Hz is not supported "
                         f"(use {', '.join(str(r) for r in SUPPORTED_RATES_HZ)})")
    if f.frames == 0:
        f.close()
        raise InputError(f"{path}: the file has no audio")
    return f


def render_file(in_path: str, out_path: str, params: np.ndarray, block: int = 512,
                pcm: bool = False, progress: bool = False) -> RenderResult:
    """Master ``in_path`` into ``out_path`` (WAV).  See module docstring."""
    import soundfile as sf
    if not (1 <= block <= 4096):
        raise InputError(f"block {block} is out of range 1..4096")
    fin = open_input(in_path)
    fs = fin.samplerate
    subtype = "FLOAT"
    if pcm:
        subtype = fin.subtype if fin.subtype in SUBTYPE_BITS else "PCM_24"
    chain = Chain(fs, params)
    lat = chain.latency_samples
    m_in = LoudnessMeter(fs)
    m_out = LoudnessMeter(fs)
    sub_n = int(round(fs / 10))
    chunk = sub_n            # 100 ms: one report point per chunk
    nfft = 4096
    win = np.hanning(nfft)
    psd_in = np.zeros(nfft // 2 + 1)
    psd_out = np.zeros(nfft // 2 + 1)
    series = {k: [] for k in ("in_s", "out_s", "lim", "comp", "lev")}
    rng_state = np.array([0x9E3779B97F4A7C15], dtype=np.uint64)
    lsb = 2.0 ** (1 - SUBTYPE_BITS[subtype]) if subtype in SUBTYPE_BITS else 0.0
    total = fin.frames
    bar = None
    if progress and total > 30 * fs:
        from tqdm import tqdm
        bar = tqdm(total=total, unit="frame", unit_scale=True, desc="render", leave=False)
    pending = np.zeros((0, 2), dtype=np.float32)   # input not yet matched by output
    skip = lat
    max_lim = 0.0
    gr_reader = chain.gr_reader()
    max_comp = 0.0
    written = 0
    inbuf = np.zeros((chunk, 2), dtype=np.float32)
    outbuf = np.zeros((chunk, 2), dtype=np.float32)
    with sf.SoundFile(out_path, "w", samplerate=fs, channels=2, subtype=subtype, format="WAV") as fout:
        remaining_tail = lat
        while True:
            data = fin.read(chunk, dtype="float32", always_2d=True)
            n = data.shape[0]
            if n == 0:
                if remaining_tail <= 0:
                    break
                n = min(chunk, remaining_tail)
                remaining_tail -= n
                inbuf[:n] = 0.0
                is_tail = True
            else:
                inbuf[:n] = data if data.shape[1] == 2 else np.repeat(data, 2, axis=1)
                is_tail = False
                m_in.process(inbuf[:n])
                x64 = inbuf[:n].astype(np.float64)
                x64[~np.isfinite(x64)] = 0.0
                if n == chunk:
                    s = np.fft.rfft(win * x64[:nfft].mean(axis=1))
                    psd_in += np.abs(s) ** 2
            for s0 in range(0, n, block):
                s1 = min(n, s0 + block)
                chain.process_into(inbuf[s0:s1], outbuf[s0:s1])
            snap = chain.snapshot()
            max_lim = max(max_lim, gr_reader.max_since_last_read_db())
            max_comp = max(max_comp, max(snap.comp_gr_db))
            out = outbuf[:n]
            if skip > 0:
                drop = min(skip, n)
                out = out[drop:]
                skip -= drop
            if out.shape[0]:
                if lsb > 0.0:
                    out = out.astype(np.float64)
                    tpdf_dither_block(out, out.shape[0], lsb, rng_state)
                m_out.process(out)
                fout.write(out)
                written += out.shape[0]
                if out.shape[0] >= nfft:
                    s = np.fft.rfft(win * np.asarray(out[:nfft], dtype=np.float64).mean(axis=1))
                    psd_out += np.abs(s) ** 2
            if not is_tail:
                series["in_s"].append(m_in.short_term_lufs)
                series["out_s"].append(m_out.short_term_lufs)
                series["lim"].append(snap.limiter_gr_db)
                series["comp"].append(max(snap.comp_gr_db))
                series["lev"].append(snap.leveler_gain_db)
            if bar is not None:
                bar.update(n if not is_tail else 0)
    if bar is not None:
        bar.close()
    fin.close()
    assert written == total, (written, total)
    return RenderResult(
        fs_hz=fs, frames=total, latency_samples=lat,
        in_integrated_lufs=m_in.integrated_lufs, out_integrated_lufs=m_out.integrated_lufs,
        in_true_peak_dbtp=m_in.true_peak_dbtp, out_true_peak_dbtp=m_out.true_peak_dbtp,
        in_lra_lu=m_in.lra_lu, out_lra_lu=m_out.lra_lu,
        max_limiter_gr_db=max_lim, max_comp_gr_db=max_comp,
        nonfinite_samples=chain.snapshot().nonfinite_samples,
        t_s=np.arange(len(series["in_s"])) * 0.1,
        in_short_lufs=np.array(series["in_s"]), out_short_lufs=np.array(series["out_s"]),
        limiter_gr_db=np.array(series["lim"]), comp_gr_db=np.array(series["comp"]),
        leveler_gain_db=np.array(series["lev"]),
        in_octaves_db=_octave_levels(psd_in, fs, nfft), out_octaves_db=_octave_levels(psd_out, fs, nfft),
    )
