"""The checks `make vm-test` runs inside the kernel-audio-vm guest.

    vmcheck.py [gadget] [interface] [faults] [drift]     (the guest's venv python)
    vmcheck.py host-playrec IN.npy OUT.npy SECONDS       (helper: the PC's side)

Every check starts the real daemon (``masterbox run``) on real ALSA devices
and judges what comes out against independent truth:

* gadget: the PC side (snd-usb-audio card CIUAC2, one full-duplex PortAudio
  stream) plays a synthesized mix into the box and records the box; the
  daemon runs on the UAC2 gadget card at 128 frames.  The recording must
  equal, bit for bit, the chain's own output for what the daemon was fed
  (zeros until the daemon's ``signal_onset_frame``, then the mix), converted
  to 16 bits the way PortAudio does (pa_converters.c Float32_To_Int16_Clip:
  truncation of x * 32767), found at one single offset (so the latency did
  not move); the round trip minus the PC side's own buffers is compared with
  the latency ``masterbox status`` states.
* interface: snd-aloop ``hw:`` devices (no plug layer): the negotiated
  hardware parameters (format, period, buffer, rate) as the daemon got them,
  and the output against the chain's.
* faults: the PC stops and restarts its stream; the gadget is unbound and
  rebound (a cable pull): how long until the box plays again, each time.

One line ``VMTEST {json}`` at the end; exit status 0 only if all passed.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np

FS = 48000
VENV = os.path.dirname(sys.executable)
MB = os.path.join(VENV, "masterbox")
WORK = "/tmp/mbvm"
SHORT = os.environ.get("VM_SHORT", "0") == "1"
GADGET_NAME = "UAC2_Gadget"
# The daemon's block in the guest.  128 frames (the box's default) does not
# keep up under qemu's software emulation: even the dry path's callback
# (a few numpy operations) took 80-120 % of a 2.7 ms period there (2152
# xruns in 60 s); the kernel-audio-vm README's 128-frame PortAudio test ran
# a bare copy.  VM_BLOCK=128 tries it anyway.
BLOCK = int(os.environ.get("VM_BLOCK", "1024"))
HOST_NAME = "CIUAC2"


def cards():
    """/proc/asound/cards ("" before any sound module is loaded)."""
    try:
        return open("/proc/asound/cards").read()
    except OSError:
        return ""


def log(*a):
    print(f"[vmcheck {time.monotonic():8.1f}]", *a, flush=True)


def sh(cmd, check=False):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd}: {r.stderr.strip()}")
    return r.stdout


# ---------------------------------------------------------------- the daemon
class Daemon:
    def __init__(self, name, intensity=6, dry_only=True, **audio):
        self.env = dict(os.environ, MASTERBOX_DRY_ONLY="1" if dry_only else "0")
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "control.sock")
        a = {"samplerate": 48000, "blocksize": BLOCK}
        a.update(audio)
        self.cfg = os.path.join(self.dir, "config.yaml")
        with open(self.cfg, "w") as f:
            f.write("audio: {" + ", ".join(f"{k}: {v}" for k, v in a.items()) + "}\n"
                    f"state_file: {self.dir}/state.json\ncontrol_socket: {self.sock}\n"
                    f"presets_dirs: []\ndefaults: {{genre: rock, intensity: {intensity}, target: stream}}\n"
                    "log_level: info\n")
        self.log = os.path.join(self.dir, "daemon.log")
        self.proc = None

    def start(self, timeout_s=600):
        self.proc = subprocess.Popen([MB, "run", "--config", self.cfg], env=self.env,
                                     stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if os.path.exists(self.sock):
                try:
                    return self.status()
                except Exception:   # noqa: BLE001 - not answering yet
                    pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited {self.proc.returncode}: {self.tail()}")
            time.sleep(0.2)
        raise RuntimeError("daemon's control socket did not appear")

    def status(self):
        from masterbox.firmware.control import query_status
        return query_status(self.sock, timeout=10.0)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self, n=15):
        try:
            return "".join(open(self.log).readlines()[-n:])
        except OSError:
            return ""


def params():
    from masterbox.firmware import presets as pr
    presets = pr.load_presets([])
    return pr.chain_params(pr.resolve_genre(presets, "rock"), 6.0, pr.parse_target("stream"), -1.0)


def dry_output(u):
    """What the engine's dry path plays for input ``u``: ``u`` delayed by
    the chain's latency (a render at intensity 0 is ``u`` bit for bit)."""
    from masterbox.dsp.chain import latency_samples
    lat = latency_samples(FS)
    y = np.zeros_like(u)
    y[lat:] = u[:len(u) - lat]
    return y


def chain_output(u, prm=None):
    """The chain's output for input ``u`` (float32 frames), in 128-frame
    blocks from a fresh chain, uncompensated (as live)."""
    from masterbox.dsp import Chain
    c = Chain(FS, params() if prm is None else prm)
    y = np.zeros_like(u)
    for i in range(0, len(u), 128):
        c.process_into(u[i:i + 128], y[i:i + 128])
    return y


def thd_n_db(y, f0, fs=FS, notch_hz=50.0):
    """THD+N as an analyser's notch measures it: Kaiser-windowed (beta 20:
    side lobes far below -150 dB) power spectrum of ``y``; everything from
    20 Hz to 20 kHz outside f0 +- ``notch_hz``, over what is inside.  The
    notch keeps the rate controller's slow FM (its 1 s updates move the
    frequency by parts per million: sidebands within a few Hz) with the
    fundamental, as a hardware analyser's notch does.  numpy only (it runs
    in the VM guest too)."""
    y = np.asarray(y, dtype=np.float64)
    y = y - y.mean()
    w = np.kaiser(len(y), 20.0)
    p = np.abs(np.fft.rfft(y * w)) ** 2
    f = np.fft.rfftfreq(len(y), 1.0 / fs)
    inside = np.abs(f - f0) <= notch_hz
    band = (f >= 20.0) & (f <= 20000.0) & ~inside
    return float(10.0 * np.log10(p[band].sum() / p[inside].sum()))


def pa_float_to_int16(y):
    """pa_converters.c Float32_To_Int16_Clip: (PaInt32)(x * 32767.0f), clipped."""
    v = np.trunc(y.astype(np.float32) * np.float32(32767.0)).astype(np.int64)
    return np.clip(v, -32768, 32767).astype(np.int16)


def test_signal(seconds, lead_s):
    """int16 frames: ``lead_s`` of silence, ``seconds`` of the music
    tests/vm/prep.py put in the share (real music when the development
    music is on the machine, else the synthesized demo mix), 0.5 s silence."""
    m = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "music.npy"))
    m = m[:int(seconds * FS)]
    z = np.zeros((int(lead_s * FS), 2), np.int16)
    return np.concatenate([z, m, np.zeros((FS // 2, 2), np.int16)])


def counter(seconds):
    """A unique-frame counter like siggen.py's, but with both channels >= 2
    (L = 2 + (i >> 14), R = 2 + (i & 0x3fff)): PortAudio's int16 -> float
    -> int16 round trip maps v to v - 1 for v >= 1 and 0 and 1 both to 0,
    which would make siggen's frames ambiguous; here it stays invertible."""
    i = np.arange(1, int(seconds * FS) + 1, dtype=np.int64)
    return np.stack([2 + (i >> 14), 2 + (i & 0x3fff)], axis=1).astype(np.int16)


def decode_counter(r):
    """Frame indices of a recording of ``counter`` through the transparent
    chain (v -> v - 1), 0 where the frame is silence or not the counter."""
    v = r.astype(np.int64) + 1
    ok = (r[:, 0] >= 1) & (r[:, 1] >= 1) & (v[:, 1] - 2 <= 0x3fff)
    return np.where(ok, ((v[:, 0] - 2) << 14) | (v[:, 1] - 2), 0)


# ---------------------------------------------------------------- PC side
def host_playrec(in_path, out_path, seconds):
    """The streaming PC: one full-duplex PortAudio stream on the host-side
    card, plays IN.npy (int16 frames) and records OUT.npy for ``seconds``;
    also its own buffer delay (output DAC time - input ADC time)."""
    import sounddevice as sd
    x = np.load(in_path)
    dev = next(i for i, d in enumerate(sd.query_devices())
               if HOST_NAME in d["name"] and d["max_input_channels"] >= 2
               and d["max_output_channels"] >= 2)
    n = int(seconds * FS)
    rec = np.zeros((n + FS, 2), np.int16)
    st = {"i": 0, "flags": 0, "delays": []}

    def cb(indata, outdata, frames, t, status):
        i = st["i"]
        if status:
            st["flags"] += 1
        k = max(0, min(frames, len(x) - i))
        outdata[:k] = x[i:i + k]
        outdata[k:] = 0
        m = max(0, min(frames, len(rec) - i))
        rec[i:i + m] = indata[:m]
        st["delays"].append(t.outputBufferDacTime - t.inputBufferAdcTime)
        st["i"] = i + frames

    with sd.Stream(device=(dev, dev), samplerate=FS, channels=2, dtype="int16", callback=cb):
        while st["i"] < n:
            time.sleep(0.1)
    np.save(out_path, rec[:n])
    d = np.array(st["delays"][50:] or [0.0])
    json.dump({"status_flags": st["flags"], "host_delay_s_median": float(np.median(d)),
               "host_delay_s_spread": float(d.max() - d.min())},
              open(out_path + ".json", "w"))


def host_session(out_path, seconds, wait_s=20.0):
    """The PC after a (re)connection: waits for the host-side card, plays
    ``counter`` from frame 1 and records for ``seconds``; stops early if the
    device vanishes (no callbacks for 1 s).  Saves the recording and when
    the stream started (CLOCK_MONOTONIC)."""
    import sounddevice as sd
    end = time.monotonic() + wait_s
    dev = None
    while time.monotonic() < end:
        devs = sd.query_devices()
        dev = next((i for i, d in enumerate(devs) if HOST_NAME in d["name"]
                    and d["max_input_channels"] >= 2 and d["max_output_channels"] >= 2), None)
        if dev is not None:
            break
        time.sleep(0.2)
        sd._terminate()
        sd._initialize()
    if dev is None:
        json.dump({"error": "host card did not appear"}, open(out_path + ".json", "w"))
        return
    x = counter(seconds + 1)
    n = int(seconds * FS)
    rec = np.zeros((n, 2), np.int16)
    st = {"i": 0, "last": time.monotonic()}

    def cb(indata, outdata, frames, t, status):
        i = st["i"]
        k = max(0, min(frames, len(x) - i))
        outdata[:k] = x[i:i + k]
        outdata[k:] = 0
        m = max(0, min(frames, n - i))
        rec[i:i + m] = indata[:m]
        st["i"] = i + frames
        st["last"] = time.monotonic()

    t_start = time.monotonic()
    err = None
    try:
        s = sd.Stream(device=(dev, dev), samplerate=FS, channels=2, dtype="int16", callback=cb)
        s.start()
        t_start = time.monotonic()
        while st["i"] < n and time.monotonic() - st["last"] < 1.0:
            time.sleep(0.05)
        try:
            s.abort()
            s.close()
        except Exception:   # noqa: BLE001 - the device may be gone
            pass
    except Exception as e:   # noqa: BLE001
        err = str(e)
    np.save(out_path, rec[:st["i"]])
    json.dump({"t_start": t_start, "frames": st["i"], "error": err}, open(out_path + ".json", "w"))


def start_host(x, seconds, tag):
    inp, outp = f"{WORK}/{tag}_in.npy", f"{WORK}/{tag}_rec.npy"
    np.save(inp, x)
    p = subprocess.Popen([sys.executable, __file__, "host-playrec", inp, outp, str(seconds)])
    return p, outp


GADGET_SSIZE = [None]


def gadget_down():
    g = "/sys/kernel/config/usb_gadget/ci"
    if not os.path.isdir(g):
        return
    sh(f"echo '' > {g}/UDC; rm -f {g}/configs/c.1/uac2.usb0; rmdir {g}/configs/c.1/strings/0x409 "
       f"{g}/configs/c.1 {g}/functions/uac2.usb0 {g}/strings/0x409 {g}")
    for _ in range(50):
        if "UAC2Gadget" not in cards():
            break
        time.sleep(0.1)


def gadget_up(ssize=2):
    """lib.sh's gadget (16 bit by default; ``ssize`` 4 = 32 bit, for the
    drift check's THD+N, which 16 bits could not show below -98 dB)."""
    if GADGET_SSIZE[0] == ssize and "UAC2Gadget" in cards():
        return True
    gadget_down()
    r = subprocess.run(["bash", "-c", f"SSIZE={ssize}; . /mnt/share/ci/lib.sh; setup_gadget iso"],
                       capture_output=True, text=True)
    GADGET_SSIZE[0] = ssize if r.returncode == 0 else None
    log("setup_gadget:", r.stdout.strip().splitlines()[-1:] if r.stdout else r.stderr)
    return r.returncode == 0


# ---------------------------------------------------------------- checks
def check_gadget():
    secs = 20.0 if SHORT else 60.0
    lead = 4.0
    out = {"seconds": secs, "blocksize": BLOCK}
    if not gadget_up():
        return False, {"error": "gadget setup failed"}
    d = Daemon("gadget", mode="gadget", gadget_device=GADGET_NAME)
    host = None
    try:
        d.start()
        time.sleep(3.0)                       # the USB monitor's first polls
        st0 = d.status()
        out["before_host"] = {k: st0.get(k) for k in ("state", "usb_state", "usb_host_rate_hz")}
        x = test_signal(secs, lead)
        total = len(x) / FS + 3.0
        host, rec_path = start_host(x, total, "gadget")
        seen, last_stream = [], None
        t0 = time.monotonic()
        while host.poll() is None:
            time.sleep(0.5)
            try:
                st = d.status()
            except Exception:   # noqa: BLE001 - a slow reply under emulation: next round
                continue
            seen.append((round(time.monotonic() - t0, 1), st.get("state"), st.get("usb_state"),
                         st.get("usb_host_rate_hz"), st.get("end_to_end_latency_ms")))
            if st.get("state") in ("running", "starting") and st.get("callbacks", 0) > 0:
                last_stream = st                  # the stream is open (dry-only: "starting")
        time.sleep(2.5)
        after = d.status()
    finally:
        if host is not None and host.poll() is None:
            host.kill()
        d.stop()
    out["after_host"] = {k: after.get(k) for k in ("state", "usb_state", "usb_host_rate_hz")}
    out["status_timeline"] = seen[::4]
    if last_stream is None:
        return False, dict(out, error="the daemon never ran", log=d.tail())
    for k in ("end_to_end_latency_ms", "device_latency_ms", "measured_delay_ms",
              "measured_delay_spread_ms", "xruns_input", "xruns_output", "mastering",
              "signal_onset_frame", "usb_state", "usb_host_rate_hz", "dsp_load_pct",
              "dsp_load_max_pct"):
        out[k] = last_stream.get(k)
    hinfo = json.load(open(rec_path + ".json"))
    out["host"] = hinfo
    r = np.load(rec_path)
    keep = "/mnt/share/mbvm/out"                # for a look from the host afterwards
    os.makedirs(keep, exist_ok=True)
    np.save(f"{keep}/gadget_rec.npy", r)
    json.dump(last_stream, open(f"{keep}/gadget_status.json", "w"))
    z = int(last_stream["signal_onset_frame"])
    s0 = int(np.argmax(np.any(x != 0, axis=1)))
    u = np.concatenate([np.zeros((z, 2), np.float32), x[s0:].astype(np.float32) / 32768.0])
    e = pa_float_to_int16(dry_output(u))
    ez = z + int(np.argmax(np.any(e[z:] != 0, axis=1)))
    rz = int(np.argmax(np.any(r != 0, axis=1)))
    o = rz - ez
    n = min(len(e) - z, len(r) - (o + z))
    seg_r, seg_e = r[o + z:o + z + n], e[z:z + n]
    bad = np.nonzero(np.any(seg_r != seg_e, axis=1))[0]
    out["compared_frames"] = int(n)
    out["mismatched_frames"] = int(len(bad))
    if len(bad):
        out["first_mismatch"] = int(bad[0])
        out["max_abs_diff_lsb"] = int(np.abs(seg_r.astype(int) - seg_e.astype(int)).max())
    music_frames = len(x) - s0 - FS // 2
    out["bit_exact"] = bool(len(bad) == 0 and n >= music_frames)
    # latency: host frame s0 entered the daemon as its frame z, left the chain
    # 74 frames later (its latency) and reached the host's input at o + z + 74
    from masterbox.dsp.chain import latency_samples
    lat = latency_samples(FS)
    loop = (o + z + lat) - s0
    box = loop - hinfo["host_delay_s_median"] * FS
    out["roundtrip_frames"] = int(loop)
    out["latency_ms"] = round(1000.0 * box / FS, 2)
    out["latency_spread_ms"] = 0.0 if out["bit_exact"] else None   # one offset for all frames
    stated = last_stream.get("end_to_end_latency_ms")
    out["latency_stated_ms"] = stated
    out["latency_error_ms"] = round(out["latency_ms"] - stated, 2) if stated is not None else None
    ok = (out["bit_exact"] and out["xruns_input"] == 0 and out["xruns_output"] == 0
          and stated is not None and abs(out["latency_error_ms"]) <= 3.0
          and out["usb_state"] == "streaming" and out["usb_host_rate_hz"] == FS
          and out["before_host"]["usb_state"] == "host-connected")
    if not ok:
        out["log"] = d.tail()
    return ok, out


def recovery_s(rec_path):
    """Seconds of the PC's stream that did not come back through the box:
    the first counter frame recorded, over the rate; and whether every frame
    after it came back in order (no drop, no repeat)."""
    r = np.load(rec_path)
    idx = decode_counter(r)
    got = np.nonzero(idx)[0]
    if len(got) == 0:
        return None, False
    seq = idx[got[0]:got[-1] + 1]
    return round(float(seq[0] - 1) / FS, 3), bool(np.all(np.diff(seq) == 1))


def unbind_rebind(gap_s=1.0):
    """A cable pull: the gadget unbound from its UDC, then bound again."""
    g = "/sys/kernel/config/usb_gadget/ci/UDC"
    udc = sorted(os.listdir("/sys/class/udc"))[0]
    with open(g, "w") as f:
        f.write("\n")
    time.sleep(gap_s)
    with open(g, "w") as f:
        f.write(udc)


def check_faults():
    """Host stream stop/restart and gadget unbind/rebind, N times each."""
    n = 3 if SHORT else 10
    secs = 6.0
    if not gadget_up():
        return False, {"error": "gadget setup failed"}
    d = Daemon("faults", intensity=0, mode="gadget", gadget_device=GADGET_NAME)
    try:
        return _faults(d, n, secs)
    finally:
        d.stop()


def _faults(d, n, secs):
    d.start()
    out = {"restart_recovery_s": [], "unbind_recovery_s": [], "in_order": []}
    for kind in ("restart", "unbind"):
        for k in range(n):
            path = f"{WORK}/faults_{kind}_{k}.npy"
            p = subprocess.Popen([sys.executable, __file__, "host-session", path, str(secs)])
            if kind == "unbind":
                # pull the cable while the previous session... : here the PC
                # streams, the cable goes at 3 s, comes back 1 s later, and a
                # new session starts as soon as the PC sees the card again
                time.sleep(3.0)
                unbind_rebind()
                p.wait(30)
                path = f"{WORK}/faults_{kind}_{k}_after.npy"
                p = subprocess.Popen([sys.executable, __file__, "host-session", path, str(secs)])
            p.wait(60)
            rs, in_order = recovery_s(path)
            out[f"{kind}_recovery_s"].append(rs)
            out["in_order"].append(in_order)
            time.sleep(1.0)                   # the PC pauses between streams
    st = d.status()
    allr = out["restart_recovery_s"] + out["unbind_recovery_s"]
    out["recovered_within_3s"] = f"{sum(1 for r in allr if r is not None and r <= 3.0)}/{len(allr)}"
    out["max_recovery_s"] = max((r for r in allr if r is not None), default=None)
    out["daemon_state_at_end"] = st["state"]
    ok = all(r is not None and r <= 3.0 for r in allr) and all(out["in_order"])
    if not ok:
        out["log"] = d.tail(30)
    return ok, out


def hw_params(card, pcm, stream, sub):
    """/proc/asound/cardN/pcmXY/subZ/hw_params as a dict (what the driver
    and PortAudio negotiated)."""
    try:
        text = open(f"/proc/asound/card{card}/pcm{pcm}{stream}/sub{sub}/hw_params").read()
    except OSError:
        return {}
    return dict(line.split(": ", 1) for line in text.strip().splitlines() if ": " in line)


RAW = {"FLOAT_LE": (np.float32, 1.0), "S32_LE": (np.int32, 2.0 ** 31), "S16_LE": (np.int16, 32768.0)}


def check_interface():
    """The interface mode on snd-aloop hw: devices: a player feeds
    hw:Loopback,0,0 (16 bit, as a mixer would), the daemon captures
    hw:Loopback,1,0 and plays hw:Loopback,0,1, a recorder takes
    hw:Loopback,1,1 in whatever format the daemon's playback negotiated."""
    import threading
    secs = 20.0 if SHORT else 60.0
    if "Loopback" not in cards():
        sh(". /mnt/share/ci/lib.sh; load_aloop")
    from masterbox.firmware.gadget import alsa_card_index
    card = alsa_card_index("Loopback", cards())
    x = test_signal(secs, 0.5)
    player = subprocess.Popen(["aplay", "-q", "-D", "hw:Loopback,0,0", "-t", "raw", "-f", "S16_LE",
                               "-c", "2", "-r", str(FS), "-"], stdin=subprocess.PIPE)
    go = threading.Event()

    def feed():
        z = np.zeros((FS // 10, 2), np.int16).tobytes()
        try:
            while not go.is_set():
                player.stdin.write(z)
            for i in range(0, len(x), FS // 10):
                player.stdin.write(x[i:i + FS // 10].tobytes())
            for _ in range(20):
                player.stdin.write(z)
            player.stdin.close()
        except BrokenPipeError:
            pass
    threading.Thread(target=feed, daemon=True).start()
    time.sleep(1.0)
    d = Daemon("interface", mode="interface", input_device=f'"(hw:{card},1)"',
               output_device=f'"(hw:{card},0)"')
    out = {}
    try:
        d.start()
        for _ in range(100):
            st = d.status()
            if st.get("callbacks", 0) > 0:
                break
            time.sleep(0.2)
        out["capture_hw_params"] = hw_params(card, 1, "c", 0)
        out["playback_hw_params"] = hw_params(card, 0, "p", 1)
        fmt = out["playback_hw_params"].get("format", "FLOAT_LE")
        dtype, scale = RAW.get(fmt, (None, None))
        if dtype is None:
            return False, dict(out, error=f"unexpected playback format {fmt}")
        rec_path = f"{WORK}/interface_rec.raw"
        rec = subprocess.Popen(["arecord", "-q", "-D", "hw:Loopback,1,1", "-t", "raw", "-f", fmt,
                                "-c", "2", "-r", str(FS), "-d", str(int(secs + 4)), rec_path])
        time.sleep(0.5)
        go.set()
        rec.wait(secs + 60)
        st = d.status()
    finally:
        d.stop()
        player.kill()
    for k in ("xruns_input", "xruns_output", "mastering", "signal_onset_frame",
              "end_to_end_latency_ms", "device_latency_ms", "measured_delay_ms", "dsp_load_pct"):
        out[k] = st.get(k)
    r = np.fromfile(rec_path, dtype=dtype).reshape(-1, 2).astype(np.float64) / scale
    z = int(st["signal_onset_frame"])
    s0 = int(np.argmax(np.any(x != 0, axis=1)))
    u = np.concatenate([np.zeros((z, 2), np.float32), x[s0:].astype(np.float32) / 32768.0])
    y = dry_output(u).astype(np.float64)
    probe = y[z:z + FS, 0]
    c = np.fft.irfft(np.fft.rfft(r[:, 0], 2 * len(r)) * np.conj(np.fft.rfft(probe, 2 * len(r))))
    o = int(np.argmax(c[:len(r)]))                  # r[o + j] ~ y[z + j]
    n = min(len(y) - z, len(r) - o) - FS // 2
    diff = np.abs(r[o:o + n] - y[z:z + n])
    lsb = 1.0 / scale if scale > 1 else 2.0 ** -24
    out["format"] = fmt
    out["compared_frames"] = int(n)
    out["max_diff_lsb"] = float(diff.max() / lsb)
    out["bit_exact"] = bool(diff.max() == 0.0)
    # a 16/32-bit playback format gets PortAudio's triangular dither (interface
    # mode keeps it): within 2 LSB then; float must be exact
    ok = (st["xruns_input"] == 0 and st["xruns_output"] == 0
          and n > secs * FS * 0.9 and (out["bit_exact"] or (fmt != "FLOAT_LE" and out["max_diff_lsb"] <= 2.0)))
    if not ok:
        out["log"] = d.tail()
    return ok, out


def set_rate_shift(card, value):
    """snd-aloop's "PCM Rate Shift 100000" on every loopback substream:
    100000 = nominal, 100010 = +100 ppm."""
    out = sh(f"amixer -c {card} controls")
    n = 0
    for line in out.splitlines():
        if "Rate Shift" in line:
            numid = line.split(",")[0]
            sh(f"amixer -q -c {card} cset {numid} {value}")
            n += 1
    return n


def check_drift():
    """interface-to-gadget with two clocks: the aloop card's clock shifted
    +100 ppm for the first half and -100 ppm for the second against the USB
    side; a 1 kHz tone (-6 dBFS, 32 bit) in, the PC records 32 bit.  The
    bridge's FIFO must stay bounded with 0 xruns, and THD+N of the tone at
    the PC (the chain transparent: intensity 0) <= -100 dB."""
    import threading
    secs = 60.0 if SHORT else 600.0
    if not gadget_up(ssize=4):
        return False, {"error": "gadget setup failed"}
    if "Loopback" not in cards():
        sh(". /mnt/share/ci/lib.sh; load_aloop")
    from masterbox.firmware.gadget import alsa_card_index
    card = alsa_card_index("Loopback", cards())
    out = {"seconds": secs, "rate_shift_controls": set_rate_shift(card, 100010)}
    t = np.arange(FS)
    tone = (0.5 * np.sin(2 * np.pi * 1000.0 * t / FS) * 2147483647.0).astype(np.int32)
    one_s = np.repeat(tone[:, None], 2, axis=1).tobytes()          # 1000 whole cycles: seamless
    player = subprocess.Popen(["aplay", "-q", "-D", "hw:Loopback,0,0", "-t", "raw", "-f", "S32_LE",
                               "-c", "2", "-r", str(FS), "-"], stdin=subprocess.PIPE)
    stop = threading.Event()

    def feed():
        try:
            while not stop.is_set():
                player.stdin.write(one_s)
        except (BrokenPipeError, ValueError):
            pass
    threading.Thread(target=feed, daemon=True).start()
    rec_path = f"{WORK}/drift_rec.raw"
    total = secs + 40
    rec = subprocess.Popen(["arecord", "-q", "-D", f"hw:CARD={HOST_NAME},DEV=0", "-t", "raw", "-f", "S32_LE",
                            "-c", "2", "-r", str(FS), "-d", str(int(total)), rec_path])
    d = Daemon("drift", intensity=0, mode="interface-to-gadget", input_device=f'"(hw:{card},1)"',
               gadget_device=GADGET_NAME)
    timeline = []
    try:
        d.start()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60.0 and d.status().get("callbacks", 0) == 0:
            time.sleep(0.5)
        t_run = time.monotonic()
        out["running_after_s"] = round(t_run - t0, 1)
        switched = False
        while time.monotonic() - t_run < secs:
            time.sleep(5.0)
            st = d.status()
            timeline.append((round(time.monotonic() - t_run), st.get("resampler_ratio"),
                             st.get("fifo_level_frames"), st.get("xruns_input"), st.get("xruns_output")))
            if not switched and time.monotonic() - t_run >= secs / 2:
                set_rate_shift(card, 99990)
                switched = True
                out["switched_at_s"] = round(time.monotonic() - t_run)
        st = d.status()
    finally:
        d.stop()
        stop.set()
        player.kill()
        rec.kill()
        rec.wait()
        set_rate_shift(card, 100000)
    for k in ("xruns_input", "xruns_output", "fifo_underruns", "fifo_overruns", "fifo_level_min_frames",
              "fifo_level_max_frames", "fifo_target_frames", "resampler_ratio", "end_to_end_latency_ms",
              "dsp_load_pct", "dsp_load_max_pct", "state"):
        out[k] = st.get(k)
    out["timeline"] = timeline[::max(1, len(timeline) // 12)]
    r = np.fromfile(rec_path, dtype=np.int32).reshape(-1, 2)[:, 0].astype(np.float64) / 2.0 ** 31
    nz = np.nonzero(np.abs(r) > 0.1)[0]
    if len(nz) < 30 * FS:
        return False, dict(out, error="no tone recorded", log=d.tail())
    a, b = nz[0], nz[-1]
    # steady state: the last 10 s of each half (the controller settled on each drift)
    half = a + (b - a) // 2
    segs = {"plus_100ppm": r[half - 12 * FS:half - 2 * FS], "minus_100ppm": r[b - 12 * FS:b - 2 * FS]}
    out["thd_n_db"] = {k: round(thd_n_db(v, 1000.0), 1) for k, v in segs.items()}
    out["thd_n_db_worst"] = max(out["thd_n_db"].values())
    ok = (out["xruns_input"] == 0 and out["xruns_output"] == 0 and out["fifo_underruns"] == 0
          and out["fifo_overruns"] == 0 and out["thd_n_db_worst"] <= -100.0
          and out["fifo_level_max_frames"] is not None and out["fifo_level_max_frames"] < 4096)
    if not ok:
        out["log"] = d.tail(30)
    return ok, out


def main(argv):
    if argv and argv[0] == "host-session":
        host_session(argv[1], float(argv[2]))
        return 0
    if argv and argv[0] == "host-playrec":
        host_playrec(argv[1], argv[2], float(argv[3]))
        return 0
    os.makedirs(WORK, exist_ok=True)
    checks = {"gadget": check_gadget, "interface": check_interface, "faults": check_faults,
              "drift": check_drift}
    result = {"short": SHORT}
    all_ok = True
    for name in argv:
        if name not in checks:
            log(f"unknown check {name}: skipped")
            result[name] = {"ok": False, "error": "not implemented"}
            all_ok = False
            continue
        log(f"check {name}")
        try:
            ok, fig = checks[name]()
        except Exception as e:   # noqa: BLE001 - a broken check is a failed check, reported
            import traceback
            traceback.print_exc()
            ok, fig = False, {"error": f"{type(e).__name__}: {e}"}
        fig["ok"] = bool(ok)
        result[name] = fig
        log(f"check {name}: {'PASS' if ok else 'FAIL'} {json.dumps(fig)}")
        all_ok &= ok
    result["ok"] = all_ok
    print("VMTEST " + json.dumps(result), flush=True)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
