"""Offline rendering: the live chain, file in, file out, sample-aligned.

The chain is block-size independent, so a file rendered here is bit for bit
what the box plays for the same input and settings.  The chain's latency is
compensated: the output lines up with the input and has the same length.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from masterbox.dsp import Chain, LoudnessMeter, SUPPORTED_RATES_HZ
from masterbox.dsp.design import OCTAVE_CENTRES_HZ
from masterbox.dsp.dither import tpdf_dither_block

from .errors import InputError

SUBTYPE_BITS = {"PCM_16": 16, "PCM_24": 24}
# output container by extension (lower case); anything else is refused
OUTPUT_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}


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


def _one_line(e) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def output_format(out_path: str) -> str:
    """The container for ``out_path`` from its extension; InputError otherwise."""
    import os
    ext = os.path.splitext(out_path)[1].lower()
    if ext not in OUTPUT_FORMATS:
        raise InputError(f"{out_path}: unsupported output format '{ext or '(none)'}' "
                         f"(use .wav, .flac or .ogg)")
    return OUTPUT_FORMATS[ext]


def same_file(a: str, b: str) -> bool:
    """True when both paths name the same file (symlinks, hard links, ./ tricks)."""
    import os
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def check_output(in_path: str, out_path: str, what: str = "output") -> None:
    """Refuse an output that would overwrite the input or cannot be a file."""
    import os
    if same_file(in_path, out_path):
        raise InputError(f"{out_path}: is the input file; refusing to overwrite it "
                         f"(choose another {what} name)")
    if os.path.isdir(out_path):
        raise InputError(f"{out_path}: is a directory; give a file name")
    folder = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(folder):
        raise InputError(f"{out_path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise InputError(f"{out_path}: folder {folder} is not writable")


class AtomicOutput:
    """A temporary file in the destination's folder, renamed over the
    destination only on success (the destination is never half written)."""

    def __init__(self, path: str, suffix: str = ""):
        self.path = path
        self.tmp = None
        self.fd = -1
        self.suffix = suffix

    def __enter__(self):
        import os
        import tempfile
        folder = os.path.dirname(os.path.abspath(self.path))
        base = os.path.basename(self.path)
        try:
            self.fd, self.tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp" + self.suffix,
                                                 dir=folder)
        except OSError as e:
            raise InputError(f"{self.path}: cannot write: {e.strerror or e}") from None
        mask = os.umask(0)            # mkstemp makes 0600; a render is an ordinary file
        os.umask(mask)
        try:
            os.fchmod(self.fd, 0o666 & ~mask)
        except OSError:
            pass
        return self

    def commit(self):
        import os
        try:
            os.fsync(self.fd)
        except OSError:
            pass
        os.replace(self.tmp, self.path)
        self.tmp = None

    def __exit__(self, exc_type, exc, tb):
        import os
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1
        if self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
        return False


def open_input(path: str):
    """Open an audio file and check it; raise InputError with one clear line."""
    import os

    import soundfile as sf
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, not an audio file")
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        f = sf.SoundFile(path)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    except (RuntimeError, sf.LibsndfileError) as e:   # noqa: B014
        raise InputError(f"{path}: cannot read audio ({_one_line(e)})") from None
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


def quantize(x: np.ndarray, bits: int) -> np.ndarray:
    """Dithered float (full scale 1.0) -> integer codes, rounded to nearest
    and clipped; int16 for 16 bit, int32 holding 24-bit codes otherwise."""
    scale = float(1 << (bits - 1))
    q = np.clip(np.rint(x * scale), -scale, scale - 1.0)
    return q.astype(np.int16 if bits == 16 else np.int32)


def render_file(in_path: str, out_path: str, params: np.ndarray, block: int = 512,
                pcm: bool = False, progress: bool = False) -> RenderResult:
    """Master ``in_path`` into ``out_path`` (WAV, FLAC or OGG by extension).

    The output is written to a temporary file in its folder and renamed over
    ``out_path`` only when complete; the input is never the output.  Every
    I/O problem is an InputError with one line.
    """
    import soundfile as sf
    if not (1 <= block <= 4096):
        raise InputError(f"block {block} is out of range 1..4096")
    check_output(in_path, out_path)
    fmt = output_format(out_path)
    fin = open_input(in_path)
    try:
        with AtomicOutput(out_path) as tmp:
            try:
                res = _render(fin, tmp.tmp, fmt, params, block, pcm, progress)
            except (OSError, sf.LibsndfileError) as e:
                why = getattr(e, "strerror", None) or _one_line(e)
                if why.strip(". ") == "System error":      # libsndfile keeps the errno to itself
                    why = "the write failed (disk full, file too large or a device error)"
                raise InputError(f"{out_path}: cannot write: {why}") from None
            try:
                tmp.commit()
            except OSError as e:
                raise InputError(f"{out_path}: cannot write: {e.strerror or e}") from None
    finally:
        fin.close()
    return res


def _render(fin, out_tmp: str, fmt: str, params, block: int, pcm: bool, progress: bool):
    import soundfile as sf
    fs = fin.samplerate
    if fmt == "OGG":
        subtype = "VORBIS"
    elif fmt == "FLAC" or pcm:    # FLAC holds integers only: dithered like --pcm
        subtype = fin.subtype if fin.subtype in SUBTYPE_BITS else "PCM_24"
    else:
        subtype = "FLOAT"
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
    meterbuf = np.zeros((chunk, 2), dtype=np.float32)
    outbuf = np.zeros((chunk, 2), dtype=np.float32)
    # libsndfile writes the temporary file by name (its errors are exceptions;
    # through a Python file object they would only be printed)
    with sf.SoundFile(out_tmp, "w", samplerate=fs, channels=2, subtype=subtype, format=fmt) as fout:
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
                if np.isfinite(inbuf[:n]).all():
                    m_in.process(inbuf[:n])
                else:             # meter what the chain plays: NaN/Inf as 0
                    meterbuf[:n] = inbuf[:n]
                    meterbuf[:n][~np.isfinite(meterbuf[:n])] = 0.0
                    m_in.process(meterbuf[:n])
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
                    # round to the integer grid ourselves: libsndfile would
                    # truncate float -> int (a -0.5 LSB offset, 3 dB more noise
                    # than TPDF promises)
                    codes = quantize(out, SUBTYPE_BITS[subtype])
                    out = codes * lsb
                    m_out.process(out)
                    fout.write(codes if SUBTYPE_BITS[subtype] == 16 else codes << 8)
                else:
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
    if written != total:
        raise InputError(f"{fin.name}: read {written} of {total} frames (file truncated?)")
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
