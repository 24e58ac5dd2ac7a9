"""What the daemon holds, for the systemd limits (LimitNOFILE, TasksMax,
MemoryMax in systemd/masterbox.service): open files, threads (tasks) and
memory of the daemon *and its children* (the warm-up process), sampled every
50 ms, on the JACK dummy server (a private server name), through:

  cold    start with an empty numba cache (the warm-up child compiles)
  steady  5 s of audio, warm cache
  flood   3000 idle control connections + a 64 MiB line without newline
  loss    N device losses (jackd killed, restarted): fds after each return

    python bench/limits.py [--cycles 10] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def jackd(name: str, period: int = 1024) -> subprocess.Popen:
    p = subprocess.Popen(["jackd", "-n", name, "-R", "-d", "dummy", "-r", "48000", "-p", str(period)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if subprocess.run(["jack_lsp", "-s", name], capture_output=True).returncode == 0:
            return p
        time.sleep(0.1)
    p.kill()
    raise SystemExit("jackd did not start")


def tree(pid: int) -> list:
    """pid and its descendants."""
    out, todo = [], [pid]
    while todo:
        q = todo.pop()
        out.append(q)
        try:
            for t in os.listdir(f"/proc/{q}/task"):
                kids = Path(f"/proc/{q}/task/{t}/children").read_text().split()
                todo.extend(int(k) for k in kids)
        except OSError:
            pass
    return out


def _status(pid, key):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def sample(pid: int) -> dict:
    pids = tree(pid)
    fds = 0
    for q in pids:
        try:
            fds = max(fds, len(os.listdir(f"/proc/{q}/fd")))
        except OSError:
            pass
    return {"fds_max_per_process": fds,
            "tasks": sum(_status(q, "Threads") for q in pids),
            "rss_mb": round(sum(_status(q, "VmRSS") for q in pids) / 1024, 1),
            "processes": len(pids)}


class Peak:
    def __init__(self, pid):
        self.pid, self.peak, self.run = pid, {}, True
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while self.run:
            s = sample(self.pid)
            for k, v in s.items():
                self.peak[k] = max(self.peak.get(k, 0), v)
            time.sleep(0.05)

    def take(self) -> dict:
        p, self.peak = dict(self.peak), {}
        return p

    def stop(self):
        self.run = False
        self.t.join()


def status(sock, timeout=5.0) -> dict:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(sock))
        s.sendall(b'{"cmd": "status"}\n')
        buf = b""
        while not buf.endswith(b"\n"):
            c = s.recv(65536)
            if not c:
                break
            buf += c
        return json.loads(buf)["status"]
    finally:
        s.close()


def wait_state(sock, want, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if status(sock)["state"] == want:
                return True
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    return False


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-cache phase")
    a = ap.parse_args(argv)
    if shutil.which("jackd") is None:
        print("limits: jackd not installed (apt-get install jackd2)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="mb-limits-"))
    name = f"mblimits{os.getpid()}"
    cfg = tmp / "config.yaml"
    cfg.write_text("audio: {input_device: system, output_device: system, samplerate: 48000, "
                   f"blocksize: 128}}\nstate_file: {tmp}/state.json\n"
                   f"control_socket: {tmp}/control.sock\npresets_dirs: []\n")
    sock = tmp / "control.sock"
    env = dict(os.environ, HOME=str(tmp), JACK_DEFAULT_SERVER=name)
    res = {}
    server = jackd(name)
    try:
        runs = [] if a.no_cold else [("cold", str(tmp / "cold-cache"))]
        runs.append(("warm", env.get("NUMBA_CACHE_DIR") or str(tmp / "cold-cache")))
        for label, cache in runs:
            e = dict(env, NUMBA_CACHE_DIR=cache)
            d = subprocess.Popen([sys.executable, "-m", "masterbox.firmware.cli", "run", "--config", str(cfg),
                                  "--wait-for-device"], env=e, cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            pk = Peak(d.pid)
            try:
                if label == "cold":
                    # until mastering is on (the warm-up child has compiled and exited)
                    end = time.monotonic() + 600
                    while time.monotonic() < end:
                        try:
                            if status(sock).get("mastering"):
                                break
                        except (OSError, ValueError, KeyError):
                            pass
                        time.sleep(0.5)
                    res["cold_start_peak"] = pk.take()
                    continue
                assert wait_state(sock, "running", 60), "daemon did not run"
                pk.take()
                time.sleep(5)
                res["steady_peak"] = pk.take()
                # flood: 3000 idle connections and a 64 MiB line
                idle = []
                for _ in range(3000):
                    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    c.setblocking(False)
                    try:
                        c.connect(str(sock))
                        idle.append(c)
                    except OSError:
                        c.close()
                big = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                big.settimeout(5)
                try:
                    big.connect(str(sock))
                    chunk = b"x" * (1 << 20)
                    for _ in range(64):
                        big.sendall(chunk)
                except OSError:
                    pass
                big.close()
                time.sleep(3)
                for c in idle:
                    c.close()
                res["flood_peak"] = pk.take()
                # device loss and return
                fds = [sample(d.pid)["fds_max_per_process"]]
                for _ in range(a.cycles):
                    server.terminate()
                    server.wait(timeout=10)
                    wait_state(sock, "waiting-for-device", 30)
                    time.sleep(1)
                    server = jackd(name)
                    if not wait_state(sock, "running", 60):
                        res["loss_error"] = "did not come back"
                        break
                    time.sleep(1)
                    fds.append(sample(d.pid)["fds_max_per_process"])
                res["loss_fds_after_each_return"] = fds
                res["loss_peak"] = pk.take()
                res["same_pid_after_losses"] = d.poll() is None
            finally:
                pk.stop()
                d.send_signal(signal.SIGTERM)
                try:
                    d.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    d.kill()
                    d.wait()
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(res, indent=None if a.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
