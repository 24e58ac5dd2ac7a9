"""Run the real daemon on real PortAudio through ALSA file devices
(../shared/HARDWARE-FREE.md): deterministic, unpaced duplex."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def alsa_home(tmp: Path, out_file="out.raw") -> Path:
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    out = "/dev/null" if out_file is None else str(tmp / out_file)
    (home / ".asoundrc").write_text(
        f'pcm.mbcap  {{ type file slave.pcm "null" file "/dev/null" infile "{tmp}/in.raw" format "raw" }}\n'
        f'pcm.mbplay {{ type file slave.pcm "null" file "{out}" format "raw" }}\n'
        'pcm.mbloop { type asym playback.pcm "mbplay" capture.pcm "mbcap" }\n')
    return home


def write_config(tmp: Path, **audio) -> Path:
    a = {"input_device": "mbloop", "output_device": "mbloop", "samplerate": 48000, "blocksize": 128}
    a.update(audio)
    cfg = tmp / "config.yaml"
    cfg.write_text(
        "audio: {" + ", ".join(f"{k}: {v}" for k, v in a.items()) + "}\n"
        f"state_file: {tmp}/state.json\n"
        f"control_socket: {tmp}/control.sock\n"
        f"presets_dirs: []\n"
        "defaults: {genre: rock, intensity: 6, target: stream}\n")
    return cfg


def env_for(home: Path, **extra):
    env = dict(os.environ)
    env["HOME"] = str(home)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def masterbox(args, env, **kw):
    return subprocess.run([sys.executable, "-m", "masterbox.firmware.cli", *map(str, args)], env=env,
                          capture_output=True, text=True, cwd=ROOT, **kw)


def read_raw(path) -> np.ndarray:
    return np.fromfile(path, dtype=np.float32).reshape(-1, 2)


def find_offset(y, ref, probe=24000, max_off=16384):
    """Where in ``y`` the sequence ``ref`` starts (bit-exact match of a probe)."""
    for off in range(max_off):
        seg = y[off:off + probe]
        if len(seg) == probe and np.array_equal(seg, ref[:probe]):
            return off
    return None


def start_daemon(cfg, env, **popen_kw):
    """``masterbox run --config cfg`` as a child process."""
    return subprocess.Popen([sys.executable, "-m", "masterbox.firmware.cli", "run", "--config", str(cfg)],
                            env=env, cwd=ROOT, **popen_kw)


def wait_for_socket(sock, seconds: float = 60.0) -> bool:
    """The socket opens once the warm-up child has said the kernels are
    loaded (seconds on a loaded 2-core machine; 10 s was once too short)."""
    import time
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if Path(sock).exists():
            return True
        time.sleep(0.1)
    return False
