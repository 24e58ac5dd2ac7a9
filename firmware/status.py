"""The daemon's status: one typed record shared by the daemon (control
socket, ``STATUS=`` for systemd), the CLI and the panel.

Units are in the names.  A level that is not a level (silence below the
BS.1770 absolute gate, nothing measured yet, no audio while waiting for the
device) is ``None`` on the wire (JSON ``null``) and "—" on screen, never a
made-up number such as -300.7 LUFS.  Clients read it with ``from_dict``,
which tolerates missing, unknown and mistyped keys (an older or newer
daemon), so a reply can never crash them.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

SILENCE_LUFS = -70.0        # BS.1770 absolute gate: quieter is silence, not a level
SILENCE_DBTP = -150.0       # far below any real signal (a 24-bit LSB is -144 dBFS)
DASH = "\u2014"             # shown for "no value"

STATES = ("starting", "running", "waiting-for-device", "fault")
LOUDNESS_FIELDS = ("momentary_lufs", "short_term_lufs", "integrated_lufs")
METER_FIELDS = LOUDNESS_FIELDS + ("true_peak_dbtp", "gain_reduction_db", "limiter_gr_db",
                                  "leveler_gain_db")


@dataclass
class Status:
    # engine
    state: str = "starting"                  # one of STATES
    mastering: bool = False                  # the chain (not the dry path) is playing
    fault: Optional[str] = None
    faults: int = 0
    callbacks: int = 0
    input_device: str = ""
    output_device: str = ""
    samplerate_hz: Optional[int] = None      # None while no stream is open
    blocksize_frames: int = 0
    latency_ms: Optional[float] = None       # the chain's latency; None without a stream
    device_latency_ms: Optional[float] = None  # PortAudio's reported input + output latency
    measured_delay_ms: Optional[float] = None   # the buffers' through delay PortAudio timed
    measured_delay_spread_ms: Optional[float] = None  # its max - min over the last ~5 s
    end_to_end_latency_ms: Optional[float] = None  # input to output, buffers + chain
    audio_mode: str = "interface"            # config audio.mode
    signal_onset_frame: int = -1             # callback frames before the first non-zero input
    # two-clock modes: the adaptive resampler between the two cards
    resampler_ratio: Optional[float] = None  # input frames read per output frame
    fifo_level_frames: Optional[float] = None      # the bridge's level, 1 s average
    fifo_level_min_frames: Optional[float] = None
    fifo_level_max_frames: Optional[float] = None
    fifo_target_frames: Optional[int] = None
    fifo_underruns: Optional[int] = None
    fifo_overruns: Optional[int] = None
    fifo_realigns: Optional[int] = None      # delay re-aligned after an xrun
    usb_state: Optional[str] = None          # gadget modes: no-host / host-connected / streaming
    usb_host_rate_hz: Optional[int] = None   # the rate the USB host chose (None: not streaming)
    dsp_load_pct: float = 0.0
    dsp_load_max_pct: float = 0.0
    xruns_input: int = 0
    xruns_output: int = 0
    overruns: int = 0
    uptime_s: float = 0.0
    # meters (None: silence / nothing measured / no audio)
    momentary_lufs: Optional[float] = None
    short_term_lufs: Optional[float] = None
    integrated_lufs: Optional[float] = None
    true_peak_dbtp: Optional[float] = None
    gain_reduction_db: Optional[float] = None
    limiter_gr_db: Optional[float] = None
    comp_gr_db: list = field(default_factory=list)
    leveler_gain_db: Optional[float] = None
    leveler_paused: bool = False             # input silent: the leveler holds its gain
    target_unreachable: bool = False         # the leveler sits at a limit, the target is missed
    nonfinite_samples: int = 0               # NaN/Inf input samples replaced by 0
    # settings
    genre: str = ""
    genres: list = field(default_factory=list)
    intensity: float = 0.0
    target_lufs: float = -14.0
    ceiling_dbtp: float = -1.0
    bypass: bool = False
    # housekeeping
    config_error: Optional[str] = None       # the last reload's problem, until one succeeds
    reloads: int = 0
    state_unsaved: bool = False              # a setting not yet safely on disk
    state_save_error: Optional[str] = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d) -> "Status":
        """Tolerant reading of a reply: unknown keys ignored, missing or
        mistyped ones take the default."""
        st = cls()
        if not isinstance(d, dict):
            return st
        for f in fields(cls):
            if f.name not in d:
                continue
            v, default = d[f.name], getattr(st, f.name)
            if _fits(v, default, f.type):
                setattr(st, f.name, v)
        return st

    @classmethod
    def from_engine(cls, eng: dict, **settings) -> "Status":
        """From ``AudioEngine.status()`` plus the daemon's settings, with
        truthful meters: silence and the waiting state are None."""
        d = dict(eng)
        d["samplerate_hz"] = d.pop("samplerate", None)
        d["blocksize_frames"] = d.pop("blocksize", 0)
        if not d["samplerate_hz"]:
            d["samplerate_hz"] = None
            d["latency_ms"] = None
        d.update(settings)
        st = cls.from_dict(d)
        for name in METER_FIELDS:
            v = getattr(st, name)
            if isinstance(v, (int, float)) and not math.isfinite(v):
                setattr(st, name, None)
        for name in LOUDNESS_FIELDS:
            v = getattr(st, name)
            if v is not None and v < SILENCE_LUFS:
                setattr(st, name, None)
        if st.true_peak_dbtp is not None and st.true_peak_dbtp < SILENCE_DBTP:
            st.true_peak_dbtp = None
        if st.state == "waiting-for-device":       # no audio: no levels to show
            for name in METER_FIELDS:
                setattr(st, name, None)
            st.comp_gr_db = []
        return st


def _fits(v, default, annotation) -> bool:
    optional = "Optional" in str(annotation)
    if v is None:
        return optional
    if isinstance(default, bool) or "bool" in str(annotation):
        return isinstance(v, bool)
    if "int" in str(annotation) and "float" not in str(annotation):
        return isinstance(v, int) and not isinstance(v, bool)
    if "float" in str(annotation):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if "str" in str(annotation):
        return isinstance(v, str)
    if "list" in str(annotation):
        return isinstance(v, list)
    return True


def level(v, unit: str = "", fmt: str = "{:.1f}") -> str:
    """A level for people: a number, or "—" when there is none."""
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return DASH + unit
    return fmt.format(v) + unit
