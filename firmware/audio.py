"""The real-time audio engine: the one module that imports sounddevice.

    states:  starting --stream runs--> running <--device back-- waiting-for-device
                                          |  ^                        ^
                          callback raises |  | chain re-armed         | no callbacks for 1.5 s,
                                          v  |                        | stream inactive
                                        fault ------------------------+

The callback is a shim (python-sounddevice ``Stream`` docs, examples/wire.py):
count status flags, run the chain into ``outdata``, apply a fade ramp, bump a
liveness counter, store the block's processing time.  It allocates no
arrays, takes no locks, does no logging or I/O, and always fills
``outdata``.  Any exception becomes safe audio: the latency-matched dry
path (or silence if the input is unusable) and a fault state the supervisor
reports and recovers from.

Before the numba kernels are ready the engine plays the dry path through a
numpy delay of exactly the chain's latency; when a chain is installed it is
primed with the last ``latency`` input samples (so its own dry path
continues seamlessly) and crossfades from bypass to mastering.
"""
from __future__ import annotations

import difflib
import logging
import threading
import time

import numpy as np

from masterbox.dsp import params as P
from masterbox.dsp.chain import latency_samples

from .errors import MasterboxError

log = logging.getLogger("masterbox.audio")

LOAD_RING = 2048
FADE_MS = 50.0
LIVENESS_TIMEOUT_S = 1.5
RETRY_S = 1.0


class DeviceError(MasterboxError, OSError):
    """No usable audio device."""


def _sd():
    import sounddevice
    return sounddevice


GADGET_MODES = ("gadget", "interface-to-gadget", "gadget-to-interface")
TWO_CLOCK_MODES = ("interface-to-gadget", "gadget-to-interface")


def stream_devices(cfg: dict):
    """(input name, output name) for ``audio.mode``: the interface's names,
    the gadget card's name, or one of each (the two-clock modes)."""
    mode = cfg.get("mode", "interface")
    g = cfg.get("gadget_device", "UAC2_Gadget")
    return {"interface": (cfg["input_device"], cfg["output_device"]),
            "gadget": (g, g),
            "interface-to-gadget": (cfg["input_device"], g),
            "gadget-to-interface": (g, cfg["output_device"])}[mode]


def find_device(name: str, kind: str):
    """PortAudio device index whose name contains ``name`` (case-insensitive)
    and that has channels of ``kind`` ('input' / 'output'); None = default."""
    sd = _sd()
    key = "max_input_channels" if kind == "input" else "max_output_channels"
    devices = sd.query_devices()
    if name.strip().lower() == "default":
        try:
            idx = sd.default.device[0 if kind == "input" else 1]
        except Exception:   # noqa: BLE001 - PortAudio reports "no default" variously
            idx = -1
        if idx is None or idx < 0:
            cands = [i for i, d in enumerate(devices) if d[key] > 0]
            if not cands:
                raise DeviceError(f"no {kind} audio device found")
            return cands[0]
        return idx
    for i, d in enumerate(devices):
        if name.lower() in d["name"].lower() and d[key] > 0:
            return i
    names = [d["name"] for d in devices if d[key] > 0]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise DeviceError(f"no {kind} device matches '{name}'{hint} (available: "
                      f"{', '.join(names) if names else 'none'})")


class AudioEngine:
    def __init__(self, audio_cfg: dict, params, max_frames: int = 0):
        self.cfg = audio_cfg
        self.params = params
        self.max_frames = max_frames
        self.state = "starting"
        self.heartbeat = time.monotonic()     # the supervisor's last round (watchdog)
        self.fs = None
        self.block = int(audio_cfg["blocksize"])
        self.devices = ("", "")
        self.stream = None
        self.chain = None
        self._pending = None
        self.chain_factory = None   # fs -> Chain, set by the daemon (re-arm after faults)
        self._fault_at = 0.0
        self._safe = False
        self.fault_text = ""
        self.faults = 0
        self.callbacks = 0
        self.frames = 0
        self.xruns_input = 0
        self.xruns_output = 0
        self.overruns = 0
        self._period_s = 1.0
        self.done = threading.Event()
        self.needs_restart = threading.Event()
        self._loads = np.zeros(LOAD_RING)
        # per callback: PortAudio's DAC time of this block's output minus the
        # ADC time of its input (ALSA fills both from snd_pcm_delay), i.e.
        # the buffers' part of the through delay, measured, not assumed
        self._delays = np.zeros(LOAD_RING)
        self.mode = audio_cfg.get("mode", "interface")
        # callback frames before the first non-zero input sample (-1: silence
        # so far): where a programme began, e.g. when a USB host started to
        # play; lets a test render exactly what the chain was fed
        self.signal_onset_frame = -1
        self.usb = None             # a gadget.UsbMonitor in the gadget modes
        if self.mode in GADGET_MODES:
            from .gadget import UsbMonitor
            self.usb = UsbMonitor(audio_cfg.get("gadget_device", "UAC2_Gadget"), poll_s=0.5).start()
        # two-clock modes: a capture-only stream feeding firmware.bridge, the
        # playback stream (self.stream) reading it through the resampler
        self.bridge = None
        self.in_stream = None
        self.in_callbacks = 0
        self._li = 0
        self._fade = 1.0
        self._fade_target = 1.0
        self._fade_step = 0.0
        self._stop = threading.Event()
        self._thread = None
        self._started_at = time.monotonic()
        self._callback_stop = None
        self._overload_logged = False
        self._wedged = False

    # ------------------------------------------------------------ buffers
    def _allocate(self, fs: int, in_channels: int) -> None:
        self.fs = fs
        self.latency = latency_samples(fs)
        b = self.block
        self._mono = in_channels == 1
        self._in2 = np.zeros((b, 2), dtype=np.float32)
        self._ring = np.zeros((self.latency + b + 1, 2), dtype=np.float32)
        self._rpos = 0
        self._pre = np.zeros((self.latency, 2), dtype=np.float32)
        self._scratch = np.zeros((max(self.latency, b), 2), dtype=np.float32)
        self._ramp = np.arange(1, b + 1, dtype=np.float32)
        self._gbuf = np.zeros(b, dtype=np.float32)
        self._fade_step = 1.0 / (FADE_MS * 1e-3 * fs)
        self._period_s = b / fs

    def _ring_write(self, x, n) -> None:
        """Every block goes into the dry ring, so a switch to the dry path (no
        chain yet, or a fault) continues with correctly delayed audio."""
        ring = self._ring
        size = ring.shape[0]
        w = self._rpos
        k = min(n, size - w)
        ring[w:w + k] = x[:k]
        ring[:n - k] = x[k:n]
        self._rpos = (w + n) % size

    def _ring_read(self, out, n) -> None:
        """The dry path: the block just written, delayed by the chain's latency."""
        ring = self._ring
        size = ring.shape[0]
        r = (self._rpos - n - self.latency) % size
        k = min(n, size - r)
        out[:k] = ring[r:r + k]
        out[k:n] = ring[:n - k]
        np.nan_to_num(out[:n], copy=False, nan=0.0, posinf=0.0, neginf=0.0)

    def _prime(self, chain) -> None:
        """Feed the chain the last ``latency`` inputs so its dry path continues."""
        ring = self._ring
        size = ring.shape[0]
        r = (self._rpos - self.latency) % size
        k = min(self.latency, size - r)
        self._pre[:k] = ring[r:r + k]
        self._pre[k:] = ring[:self.latency - k]
        chain.process_into(self._pre, self._scratch[:self.latency])

    # ------------------------------------------------------------ callback
    def _callback(self, indata, outdata, frames, time_info, status):
        t0 = time.perf_counter()
        if status:
            if status.input_overflow:
                self.xruns_input += 1
            if status.output_underflow:
                self.xruns_output += 1
        x = indata
        if self._mono:
            x = self._in2[:frames]
            x[:, 0] = indata[:, 0]
            x[:, 1] = indata[:, 0]
        try:
            pending = self._pending
            if pending is not None:
                self._pending = None
                self._prime(pending)      # reads the inputs before this block
                self.chain = pending
                self._safe = False
            self._ring_write(x, frames)
            if self.signal_onset_frame < 0 and x.any():
                k = 0                     # once per process: a scalar scan, no arrays
                while k < frames and x[k, 0] == 0.0 and x[k, 1] == 0.0:
                    k += 1
                self.signal_onset_frame = self.frames + k
            chain = self.chain
            if chain is not None and not self._safe:
                chain.process_into(x, outdata)
            else:
                self._ring_read(outdata, frames)
        except Exception as e:   # noqa: BLE001 - any failure must become safe audio
            self._safe = True
            self.faults += 1
            self.fault_text = f"{type(e).__name__}: {e}"
            try:
                self._ring_read(outdata, frames)
            except Exception:   # noqa: BLE001
                outdata.fill(0.0)
        if self._fade != 1.0 or self._fade_target != 1.0:
            step = self._fade_step if self._fade_target > self._fade else -self._fade_step
            g = self._gbuf[:frames]
            np.multiply(self._ramp[:frames], step, out=g)
            g += self._fade
            np.clip(g, 0.0, 1.0, out=g)
            outdata *= g[:, None]
            self._fade = float(g[-1])
        self.callbacks += 1
        self.frames += frames
        dt = time.perf_counter() - t0
        if dt > self._period_s:
            self.overruns += 1          # an xrun this process caused by itself
        self._loads[self._li] = dt
        try:
            self._delays[self._li] = time_info.outputBufferDacTime - time_info.inputBufferAdcTime
        except Exception:   # noqa: BLE001 - a host API without times: 0 = not measured
            self._delays[self._li] = 0.0
        self._li = (self._li + 1) % LOAD_RING
        if self.max_frames and self.frames >= self.max_frames:
            raise self._callback_stop

    # ------------------------------------------------------------ stream
    def resolve(self):
        """Find the devices and the rate; (re)allocate buffers if the rate changed."""
        sd = _sd()
        self._callback_stop = sd.CallbackStop
        in_name, out_name = stream_devices(self.cfg)
        i = find_device(in_name, "input")
        o = find_device(out_name, "output")
        din = sd.query_devices(i)
        fs = int(self.cfg["samplerate"]) or int(din["default_samplerate"])
        host_hz = self.usb.host_rate_hz if self.usb is not None else None
        if host_hz:
            fs = int(host_hz)       # the gadget runs at whatever rate the host chose
        in_ch = min(2, int(din["max_input_channels"]))
        if self.fs != fs:
            self._allocate(fs, in_ch)
            self.chain = None       # a chain is built per sample rate
        else:
            self._mono = in_ch == 1
        self.devices = (din["name"], sd.query_devices(o)["name"])
        return i, o, fs, in_ch

    # ------------------------------------------------------------ two clocks
    def _in_callback(self, indata, frames, time_info, status):
        """Capture side of the two-clock modes: into the bridge's ring."""
        if status and status.input_overflow:
            self.xruns_input += 1
            self.bridge.mark_xrun_input()
        try:
            x = indata
            if self._in_mono:
                x = self._bstage[:frames]
                x[:, 0] = indata[:, 0]
                x[:, 1] = indata[:, 0]
            self.bridge.write(x, time.monotonic())
        except Exception:   # noqa: BLE001 - the reader then plays silence (underrun, counted)
            pass
        self.in_callbacks += 1

    def _out_callback(self, outdata, frames, time_info, status):
        """Playback side: resampled input from the bridge, then the usual
        callback (chain, dry path, fade) as if it had been captured here."""
        x = self._bin[:frames]
        if status and status.output_underflow:
            self.bridge.mark_xrun_output()
        try:
            self.bridge.read_into(x, time.monotonic())
        except Exception:   # noqa: BLE001 - safe audio: silence in, the chain goes on
            x.fill(0.0)
        self._callback(x, outdata, frames, None, status)

    def _open_two_clocks(self, sd, i, o, fs, in_ch) -> None:
        from .bridge import Bridge
        self.bridge = Bridge(fs, self.block)
        self._bin = np.zeros((self.block, 2), dtype=np.float32)
        self._bstage = np.zeros((self.block, 2), dtype=np.float32)
        self._in_mono = in_ch == 1
        self._mono = False                 # the bridge delivers stereo
        self.in_stream = sd.InputStream(device=i, samplerate=fs, blocksize=self.block,
                                        dtype="float32", channels=in_ch,
                                        callback=self._in_callback, latency="low")
        self.stream = sd.OutputStream(device=o, samplerate=fs, blocksize=self.block,
                                      dtype="float32", channels=2, callback=self._out_callback,
                                      latency="low", dither_off=True)
        try:
            self.in_stream.start()
            self.stream.start()
        except Exception:
            for st in (self.stream, self.in_stream):
                try:
                    st.close()
                except Exception:   # noqa: BLE001
                    pass
            self.stream = self.in_stream = None
            raise

    def open(self) -> None:
        sd = _sd()
        i, o, fs, in_ch = self.resolve()
        if self.mode in TWO_CLOCK_MODES:
            self._open_two_clocks(sd, i, o, fs, in_ch)
            return
        # Gadget modes: no PortAudio dither on the conversion to the card's
        # integer format, so what the PC records is the chain's output
        # rounded the one documented way (pa_converters.c
        # Float32_To_Int16_Clip), comparable bit for bit with a render.
        self.stream = sd.Stream(device=(i, o), samplerate=fs, blocksize=self.block,
                                dtype="float32", channels=(in_ch, 2),
                                callback=self._callback, latency="low",
                                dither_off=self.mode in GADGET_MODES)
        try:
            self.stream.start()
        except Exception:
            # e.g. the gadget's capture before the USB host streams: EIO at
            # start; release the devices now, the supervisor retries
            s, self.stream = self.stream, None
            try:
                s.close()
            except Exception:   # noqa: BLE001
                pass
            raise

    def close(self, timeout_s: float = 1.0) -> bool:
        """Close the stream; False if PortAudio hung (the stream is abandoned).

        Closing a stream whose device vanished can block inside PortAudio
        (seen with the JACK host API when the server dies), so it runs in a
        helper thread and the supervisor never waits more than ``timeout_s``.
        """
        s = self.stream
        si = self.in_stream
        self.stream = None
        self.in_stream = None
        if s is None and si is None:
            return True

        def _close():
            for st in (s, si):
                if st is None:
                    continue
                try:
                    st.abort()
                    st.close()
                except Exception as e:   # noqa: BLE001 - a vanished device can fail anything
                    log.debug("closing stream: %s", e)
        t = threading.Thread(target=_close, name="stream-close", daemon=True)
        t.start()
        t.join(timeout_s)
        if t.is_alive():
            log.warning("PortAudio did not close the lost stream within %.1f s; abandoned it", timeout_s)
            self._wedged = True
            return False
        return True

    def install_chain(self, chain, crossfade: bool = True) -> None:
        """Hand a ready chain (already attached to the parameters) to the
        callback; it primes it and, with ``crossfade``, the chain fades from
        its dry path to mastering by itself (its mix weight starts at 0)."""
        if crossfade:
            chain.start_from_dry()
        self._pending = chain

    def fade_to(self, target: float) -> None:
        self._fade_target = float(target)
        if target < 1.0 or self._fade < 1.0:
            self._fade = min(self._fade, 1.0)

    def start_fade_in(self) -> None:
        self._fade = 0.0
        self._fade_target = 1.0

    # ------------------------------------------------------------ supervisor
    def _set_state(self, state: str, why: str = "") -> None:
        if state != self.state:
            self.state = state
            log.info("state: %s%s", state, f" ({why})" if why else "")

    def start(self, waiting: bool = False) -> None:
        """Open the stream and start supervising; ``waiting``: the device is
        not there yet, keep retrying (state waiting-for-device)."""
        if waiting:
            self._set_state("waiting-for-device", "audio device not present")
        else:
            self.open()
            self._set_state("running" if self.chain is not None else "starting",
                            f"{self.devices[0]} -> {self.devices[1]}, {self.fs} Hz, {self.block} frames")
        self._thread = threading.Thread(target=self._supervise, name="audio-supervisor", daemon=True)
        self._thread.start()

    def _supervise(self) -> None:
        last_cb = self.callbacks
        last_change = time.monotonic()
        last_in_cb, last_in_change = self.in_callbacks, last_change
        last_fault_count = 0
        while not self._stop.wait(0.25):
            now = time.monotonic()
            self.heartbeat = now
            if self.faults != last_fault_count:
                last_fault_count = self.faults
                self._fault_at = now
                log.error("fault in the audio callback: %s; playing the dry signal", self.fault_text)
                self._set_state("fault", self.fault_text)
            if self.max_frames and self.frames >= self.max_frames:
                self.done.set()
                return
            if self.stream is not None:
                if self.callbacks != last_cb:
                    last_cb = self.callbacks
                    last_change = now
                lost = (not self.stream.active) or (now - last_change > LIVENESS_TIMEOUT_S)
                host_gone = not self.gadget_host_ready()
                lost = lost or host_gone
                if self.in_stream is not None:
                    # two clocks: the capture side can be lost on its own
                    # (the playback side then plays silence from the bridge)
                    if self.in_callbacks != last_in_cb:
                        last_in_cb, last_in_change = self.in_callbacks, now
                    lost = lost or (not self.in_stream.active) \
                        or (now - last_in_change > LIVENESS_TIMEOUT_S)
                if lost:
                    self._set_state("waiting-for-device", "the USB host stopped streaming" if host_gone
                                    else "audio device stopped answering")
                    if not self.close():
                        self.needs_restart.set()     # PortAudio wedged: only a fresh process helps
                        return
                    continue
                if self.state == "fault" and self._safe and self.faults < 4 \
                        and self.chain_factory is not None and now - self._fault_at > 2.0 \
                        and self._pending is None:
                    # a one-off bad block must not leave the box in bypass for good:
                    # re-arm a fresh chain (after 3 faults, stay safe)
                    self._rearm()
                elif self.state in ("starting", "fault") and self.chain is not None and not self._safe:
                    self._set_state("running", "mastering engaged")
                self._check_load()
            else:
                if not self._retry_open():
                    self.needs_restart.set()
                    return
                last_change = time.monotonic()
                last_cb = self.callbacks
                last_in_cb, last_in_change = self.in_callbacks, last_change

    def gadget_host_ready(self) -> bool:
        """In the gadget modes: is the USB host streaming the direction the
        box needs (it plays into the box, or records from it in
        interface-to-gadget)?  Opening the gadget's stream before that fails
        with EIO, and was seen to block PortAudio's start in the VM (no
        return within 6 min).  Unknown (no rate controls: an older kernel,
        no amixer) counts as ready: then opening is simply tried."""
        u = self.usb
        if u is None:
            return True
        hz = u.playback_hz if self.mode == "interface-to-gadget" else u.capture_hz
        if u.state == "no-host":
            return False
        return hz is None or hz > 0

    def _rearm(self) -> None:
        try:
            chain = self.chain_factory(self.fs)
            self.params.attach(chain)
            self.install_chain(chain)
            log.info("re-armed a fresh chain after the fault")
        except Exception as e:   # noqa: BLE001
            log.error("could not re-arm the chain: %s", e)
            self.faults = 99

    def _reinit_portaudio(self, timeout_s: float = 2.0) -> bool:
        """sd._terminate(); sd._initialize() (PortAudio only lists devices that
        appeared after it was initialised), bounded: False if it hung."""
        sd = _sd()
        done = threading.Event()

        def _reinit():
            try:
                sd._terminate()
                sd._initialize()
            except Exception as e:   # noqa: BLE001
                log.debug("PortAudio re-init: %s", e)
            done.set()
        threading.Thread(target=_reinit, name="pa-reinit", daemon=True).start()
        return done.wait(timeout_s)

    def _retry_open(self) -> bool:
        """One attempt to get the device back; False if PortAudio is wedged."""
        if not self.gadget_host_ready():
            return True                   # the supervisor asks again in 0.25 s
        if not self._reinit_portaudio():
            log.warning("PortAudio re-initialisation hung")
            return False
        try:
            self.open()
        except Exception as e:   # noqa: BLE001
            log.debug("device not back yet: %s", e)
            self._stop.wait(RETRY_S)
            return True
        self.start_fade_in()
        if self.chain is None and self.chain_factory is not None:
            try:
                chain = self.chain_factory(self.fs)
                self.params.attach(chain)
                self.install_chain(chain, crossfade=False)
            except Exception as e:   # noqa: BLE001
                log.error("could not build the chain at %s Hz: %s", self.fs, e)
        self._set_state("running" if (self.chain or self._pending) is not None else "starting",
                        f"device back: {self.devices[0]}")
        return True

    def _check_load(self) -> None:
        mean, peak = self.load_pct()
        if mean > 80.0 and not self._overload_logged:
            log.warning("DSP load %.0f %% of the block period: raise audio.blocksize", mean)
            self._overload_logged = True
        elif mean < 60.0:
            self._overload_logged = False

    def load_pct(self):
        """(mean, max) processing time of the recent callbacks, % of the period."""
        if not self.fs or self.callbacks == 0:
            return 0.0, 0.0
        n = int(min(self.callbacks, LOAD_RING, 5.0 * self.fs / self.block))
        idx = (self._li - 1 - np.arange(n)) % LOAD_RING
        recent = self._loads[idx]
        period = self.block / self.fs
        return float(recent.mean() / period * 100.0), float(recent.max() / period * 100.0)

    def stop(self) -> None:
        """Fade out (50 ms), then close the stream."""
        if self.stream is not None and self.stream.active:
            self.fade_to(0.0)
            time.sleep(FADE_MS * 1e-3 + 2 * self.block / (self.fs or 48000))
        self._stop.set()
        if self.usb is not None:
            self.usb.stop()
        self.close()

    def measured_delay_ms(self):
        """(median, spread) over the last ~5 s of the buffers' through delay
        PortAudio timed per callback (DAC time of the output minus ADC time of
        the input), in ms; (None, None) when nothing was timed."""
        if not self.fs or self.callbacks == 0 or self.stream is None:
            return None, None
        n = int(min(self.callbacks, LOAD_RING, 5.0 * self.fs / self.block))
        idx = (self._li - 1 - np.arange(n)) % LOAD_RING
        d = self._delays[idx]
        d = d[d > 0.0]
        if len(d) == 0:
            return None, None
        return round(1000.0 * float(np.median(d)), 3), round(1000.0 * float(d.max() - d.min()), 3)

    def _device_latency_ms(self):
        """Input + output latency PortAudio reports for the open stream."""
        s = self.stream
        try:
            if s is not None and self.in_stream is not None:
                # two clocks: capture + playback + the bridge's FIFO
                fifo = self.bridge.delay_frames() / self.fs if self.bridge is not None else 0.0
                return round(1000.0 * (self.in_stream.latency + s.latency + fifo), 3)
            return round(1000.0 * (s.latency[0] + s.latency[1]), 3) if s is not None else None
        except Exception:   # noqa: BLE001 - a closing stream may fail
            return None

    def status(self) -> dict:
        mean, peak = self.load_pct()
        st = {
            "state": self.state, "input_device": self.devices[0], "output_device": self.devices[1],
            "samplerate": self.fs, "blocksize": self.block,
            "latency_ms": round(1000.0 * (self.latency if self.fs else 0) / (self.fs or 1), 3),
            "device_latency_ms": self._device_latency_ms(),
            "dsp_load_pct": round(mean, 2), "dsp_load_max_pct": round(peak, 2),
            "xruns_input": self.xruns_input, "xruns_output": self.xruns_output,
            "overruns": self.overruns,
            "callbacks": self.callbacks, "faults": self.faults, "fault": self.fault_text,
            "uptime_s": round(time.monotonic() - self._started_at, 1),
            "mastering": self.chain is not None and not self._safe,
            "audio_mode": self.mode, "signal_onset_frame": self.signal_onset_frame,
        }
        chain_ms = 1000.0 * self.latency / self.fs if self.fs else 0.0
        med, spread = self.measured_delay_ms()
        dev = st["device_latency_ms"]
        st["measured_delay_ms"] = med
        st["measured_delay_spread_ms"] = spread
        # input to output, buffers included: PortAudio's per-callback timing
        # when the host API gives one, else its reported stream latencies
        base = med if med is not None else dev
        st["end_to_end_latency_ms"] = round(base + chain_ms, 3) if base is not None else None
        if self.bridge is not None:
            st.update(self.bridge.status())
        if self.usb is not None:
            st["usb_state"] = self.usb.state
            st["usb_host_rate_hz"] = self.usb.host_rate_hz
        ch = self.chain
        if ch is not None:
            s = ch.snapshot()
            fin = lambda v: round(v, 2) if np.isfinite(v) else None  # noqa: E731
            st.update(momentary_lufs=fin(s.momentary_lufs), short_term_lufs=fin(s.short_term_lufs),
                      integrated_lufs=fin(s.integrated_lufs), true_peak_dbtp=fin(s.true_peak_dbtp),
                      gain_reduction_db=round(s.limiter_gr_max_db + max(s.comp_gr_db), 2),
                      limiter_gr_db=round(s.limiter_gr_max_db, 2),
                      comp_gr_db=[round(v, 2) for v in s.comp_gr_db],
                      leveler_gain_db=round(s.leveler_gain_db, 2),
                      leveler_paused=s.leveler_paused,
                      target_unreachable=s.target_unreachable,
                      nonfinite_samples=s.nonfinite_samples)
        return st
