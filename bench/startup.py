"""Start -> audio and start -> mastering, cold and warm numba cache.

Runs the daemon on the JACK dummy server twice with a fresh NUMBA_CACHE_DIR:
first cold (kernels compile in the warm-up process while the dry signal
plays), then warm.  Times come from the daemon's own log lines (measured
from its start inside the process; add the interpreter start-up, printed
separately as spawn -> log).

    python bench/startup.py [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(tmp: Path, cache: Path, wait_s: float = 240.0) -> dict:
    cfg = tmp / "config.yaml"
    cfg.write_text(f"audio: {{input_device: system, output_device: system, samplerate: 48000, "
                   f"blocksize: 128}}\nstate_file: {tmp}/state.json\n"
                   f"control_socket: {tmp}/control.sock\npresets_dirs: []\n")
    env = dict(os.environ, HOME=str(tmp), NUMBA_CACHE_DIR=str(cache))
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, "-m", "masterbox.firmware.cli", "run", "--config", str(cfg)],
                         env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    out = {}
    lines = []
    while time.monotonic() - t0 < wait_s:
        line = p.stderr.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"audio running ([0-9.]+) s after start", line)
        if m:
            out["start_to_audio_s"] = float(m.group(1))
            out["spawn_to_audio_s"] = time.monotonic() - t0
        m = re.search(r"mastering engaged ([0-9.]+) s after start", line)
        if m:
            out["start_to_mastering_s"] = float(m.group(1))
            out["spawn_to_mastering_s"] = time.monotonic() - t0
            break
    time.sleep(1.0)
    try:
        from masterbox.firmware.control import request
        st = request(str(tmp / "control.sock"), {"cmd": "status"})["status"]
        out.update(xruns=st["xruns_input"] + st["xruns_output"], overruns=st["overruns"])
        out["rss_mb"] = int(Path(f"/proc/{p.pid}/status").read_text()
                            .split("VmRSS:")[1].split()[0]) / 1024
    except Exception as e:   # noqa: BLE001
        out["error"] = str(e)
    p.terminate()
    p.wait(timeout=10)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    jackd = subprocess.Popen(["jackd", "-R", "-d", "dummy", "-r", "48000", "-p", "128"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        if subprocess.run(["jack_lsp"], capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    tmp = Path(tempfile.mkdtemp(prefix="mb-start-"))
    cache = tmp / "numba-cache"
    try:
        res = {"cold": one_run(tmp, cache), "warm": one_run(tmp, cache)}
    finally:
        jackd.terminate()
        jackd.wait(timeout=10)
    print(json.dumps(res, indent=2) if a.json else res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
