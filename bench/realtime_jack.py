"""Real-time soak: the daemon on the JACK dummy server for N seconds.

JACK period = daemon block (default 128 frames at 48 kHz), a generator
client feeds noise-like programme, and the status path is polled at 15 Hz
(what the front panel will do).  Reports xruns counted by the daemon's
callback (PortAudio status flags), xruns jackd reported to a client, DSP
load and RSS.

    python bench/realtime_jack.py --seconds 600 [--block 128] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--panel", action="store_true",
                    help="also run the panel process (masterbox panel --sim: status + drawing at 15 fps)")
    a = ap.parse_args()
    import jack

    from masterbox.firmware.control import request
    tmp = Path(tempfile.mkdtemp(prefix="mb-soak-"))
    jackd = subprocess.Popen(["jackd", "-R", "-d", "dummy", "-r", "48000", "-p", str(a.block)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        if subprocess.run(["jack_lsp"], capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    cfg = tmp / "config.yaml"
    cfg.write_text(f"audio: {{input_device: system, output_device: system, samplerate: 48000, "
                   f"blocksize: {a.block}}}\nstate_file: {tmp}/state.json\n"
                   f"control_socket: {tmp}/control.sock\npresets_dirs: []\n")
    env = dict(os.environ, HOME=str(tmp))
    t0 = time.monotonic()
    d = subprocess.Popen([sys.executable, "-m", "masterbox.firmware.cli", "run", "--config", str(cfg)],
                         env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    sock = str(tmp / "control.sock")
    for _ in range(300):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    t_ready = time.monotonic() - t0
    panel = None
    if a.panel:
        # stdin is a pipe that stays open (no keys); frames go to /dev/null
        panel = subprocess.Popen([sys.executable, "-m", "masterbox.firmware.cli", "panel", "--sim",
                                  "--socket", sock], env=env, cwd=ROOT, stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = jack.Client("soakgen", no_start_server=True)
    outs = [client.outports.register(f"o{c}") for c in range(2)]
    rng = np.random.default_rng(0)
    noise = (0.05 * rng.standard_normal(48000 * 4)).astype(np.float32)
    pos = [0]
    jack_xruns = [0]

    @client.set_process_callback
    def process(frames):
        p = pos[0] % (len(noise) - frames)
        for o in outs:
            o.get_array()[:] = noise[p:p + frames]
        pos[0] += frames

    client.set_xrun_callback(lambda delay: jack_xruns.__setitem__(0, jack_xruns[0] + 1))
    client.activate()
    for k in range(2):
        for src in list(client.get_all_connections(f"PortAudio:in_{k}")):
            client.disconnect(src, f"PortAudio:in_{k}")
        client.connect(outs[k], f"PortAudio:in_{k}")
    loads, maxes, polls = [], [], 0
    t_end = time.monotonic() + a.seconds
    last = None
    while time.monotonic() < t_end:
        last = request(sock, {"cmd": "status"})["status"]
        polls += 1
        loads.append(last["dsp_load_pct"])
        maxes.append(last["dsp_load_max_pct"])
        time.sleep(1 / 15)
    rss_kb = int(Path(f"/proc/{d.pid}/status").read_text().split("VmRSS:")[1].split()[0])
    client.deactivate()
    client.close()
    if panel is not None:
        panel.terminate()
        panel.wait(timeout=10)
    d.terminate()
    d.wait(timeout=10)
    jackd.terminate()
    jackd.wait(timeout=10)
    res = {"seconds": a.seconds, "block": a.block, "status_polls": polls, "panel": a.panel,
           "daemon_xruns_input": last["xruns_input"], "daemon_xruns_output": last["xruns_output"],
           "daemon_overruns": last["overruns"],
           "jack_reported_xruns": jack_xruns[0], "callbacks": last["callbacks"],
           "dsp_load_mean_pct": float(np.median(loads)), "dsp_load_max_pct": float(max(maxes)),
           "rss_mb": rss_kb / 1024, "start_to_socket_s": t_ready, "state": last["state"]}
    print(json.dumps(res, indent=2) if a.json else res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
