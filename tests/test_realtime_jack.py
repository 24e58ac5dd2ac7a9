"""Real-time run on the JACK dummy server (a paced sound card without
hardware, ../shared/HARDWARE-FREE.md): a generator and a recorder client
re-wire the daemon's PortAudio ports; audio flows end to end, the measured
delay is what status reports, ctl changes take effect without clicks.
jackd runs outside the pytest process (PortAudio aborts if its JACK server
dies under it)."""
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from daemon_util import ROOT, env_for, masterbox, start_daemon, wait_for_socket, write_config

jack = pytest.importorskip("jack")
pytestmark = pytest.mark.skipif(shutil.which("jackd") is None, reason="jackd2 not installed")

FS = 48000
PERIOD = 256


@pytest.fixture
def jackd():
    """A private JACK dummy server (conftest.JackDummy), period 256."""
    from conftest import JackDummy
    j = JackDummy(period=PERIOD).start()
    yield j
    j.stop()


@pytest.fixture(scope="module")
def warm_cache():
    r = subprocess.run([sys.executable, "-m", "masterbox.firmware.cli", "warmup"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


class Rig:
    """A JACK client that plays ``signal`` into the daemon and records what comes back."""

    def __init__(self, signal, server):
        self.sig = signal.astype(np.float32)
        self.rec = np.zeros_like(self.sig)
        self.pos = 0
        self.xruns = 0
        self.client = jack.Client("mbtest", servername=server, no_start_server=True)
        self.outs = [self.client.outports.register(f"gen_{c}") for c in "LR"]
        self.ins = [self.client.inports.register(f"rec_{c}") for c in "LR"]
        self.client.set_process_callback(self.process)
        self.client.set_xrun_callback(self.on_xrun)

    def on_xrun(self, delay):
        self.xruns += 1

    def process(self, frames):
        p = self.pos
        n = min(frames, len(self.sig) - p)
        for c in range(2):
            buf = self.outs[c].get_array()
            buf[:] = 0.0
            if n > 0:
                buf[:n] = self.sig[p:p + n, c]
                self.rec[p:p + n, c] = self.ins[c].get_array()[:n]
        self.pos += max(n, 0)

    def start(self):
        self.client.activate()
        c = self.client
        for k in range(2):
            for dst in list(c.get_all_connections(f"PortAudio:out_{k}")):
                c.disconnect(f"PortAudio:out_{k}", dst)
            for src in list(c.get_all_connections(f"PortAudio:in_{k}")):
                c.disconnect(src, f"PortAudio:in_{k}")
            c.connect(self.outs[k], f"PortAudio:in_{k}")
            c.connect(f"PortAudio:out_{k}", self.ins[k])

    def close(self):
        self.client.deactivate()
        self.client.close()


def test_realtime_run_on_jack(jackd, warm_cache, tmp_path):
    cfg = write_config(tmp_path, input_device="system", output_device="system")
    env = env_for(tmp_path, JACK_DEFAULT_SERVER=jackd.name)
    d = start_daemon(cfg, env, stderr=subprocess.PIPE, text=True)
    sock = tmp_path / "control.sock"
    rig = None
    try:
        assert wait_for_socket(sock)
        # transparent first: the loop must return the signal bit-exact, delayed
        assert masterbox(["ctl", "set", "intensity", "0", "--socket", sock], env).returncode == 0
        time.sleep(0.3)
        rng = np.random.default_rng(3)
        seconds = 6
        sig = np.zeros((FS * seconds, 2), dtype=np.float32)
        sig[: FS * 3] = 0.05 * rng.standard_normal((FS * 3, 2))
        t = np.arange(FS * 3) / FS
        sig[FS * 3:] = (0.05 * np.sin(2 * np.pi * 220 * t))[:, None]
        rig = Rig(sig, jackd.name)
        rig.start()
        time.sleep(1.2)
        # mastering on mid-run: must fade in without a click
        assert masterbox(["ctl", "set", "intensity", "6", "--socket", sock], env).returncode == 0
        t_change = rig.pos
        while rig.pos < len(sig):
            time.sleep(0.1)
        status = json.loads(masterbox(["status", "--json", "--socket", sock], env).stdout)
        rec = rig.rec
        # 1. audio flows end to end
        assert np.std(rec[FS // 2:FS]) > 0.01
        # 2. latency: find the exact lag at which the transparent part matches
        seg = rec[FS // 4: FS // 2, 0]
        lags = [L for L in range(0, 8 * PERIOD + 200)
                if np.array_equal(seg, sig[FS // 4 - L: FS // 2 - L, 0])]
        xruns = rig.xruns + status["xruns_input"] + status["xruns_output"]
        if not lags and xruns:
            pytest.skip(f"xruns during the run ({xruns}): exactness not judged")
        assert lags, "no bit-exact lag: the transparent path is not transparent"
        lag = lags[0]
        chain = round(status["latency_ms"] * FS / 1000)
        from masterbox.dsp.chain import latency_samples
        assert chain == latency_samples(FS)
        # the rest of the loop is buffering in whole blocks (JACK period, PortAudio adapter)
        assert (lag - chain) % 128 == 0, (lag, chain)       # whole blocks (PortAudio adapts 128 to 256)
        print("measured loop", lag, "samples; status", status["latency_ms"], "+", status["device_latency_ms"], "ms")
        reported = status["latency_ms"] + status["device_latency_ms"]
        assert abs(lag / FS * 1000 - reported) <= 2 * PERIOD / FS * 1000, (lag, reported)
        # 3. the intensity change: no sample-to-sample jump beyond the programme's own
        d1 = np.abs(np.diff(rec[:, 0]))
        around = d1[t_change - PERIOD:t_change + FS // 2]
        before = d1[FS // 2:t_change - PERIOD]
        assert around.max() <= 2.0 * before.max() + 1e-3
        assert status["state"] == "running" and status["mastering"]
    finally:
        if rig is not None:
            rig.close()
        d.terminate()
        d.wait(timeout=10)


def test_device_loss_and_return(jackd, warm_cache, tmp_path):
    """jackd (the 'interface') goes away under the running daemon and comes
    back: the daemon waits, then resumes; states logged in order."""
    server = jackd
    cfg = write_config(tmp_path, input_device="system", output_device="system")
    env = env_for(tmp_path, JACK_DEFAULT_SERVER=jackd.name)
    d = start_daemon(cfg, env, stderr=subprocess.PIPE, text=True)
    sock = tmp_path / "control.sock"
    states = []

    def state():
        r = masterbox(["status", "--json", "--socket", sock], env)
        s = json.loads(r.stdout)["state"] if r.returncode == 0 else "no-daemon"
        if not states or states[-1] != s:
            states.append(s)
        return s
    try:
        for _ in range(100):
            if sock.exists() and state() == "running":
                break
            time.sleep(0.1)
        assert state() == "running"
        server.stop()
        for _ in range(60):
            if state() == "waiting-for-device":
                break
            time.sleep(0.1)
        assert states[-1] == "waiting-for-device"
        time.sleep(1.0)
        server.start()
        t_back = time.monotonic()
        while time.monotonic() - t_back < 10 and state() != "running":
            time.sleep(0.1)
        assert state() == "running", states
        # back within seconds (1.7-2.3 s measured on a quiet machine; the
        # in-place re-exec loads Python and the kernels again): a generous
        # bound, the machine's 2 cores are shared (4.9 and 7.7 s seen)
        back_s = time.monotonic() - t_back
        print(f"device back -> running in {back_s:.1f} s")
        assert back_s <= 20.0
        cb0 = json.loads(masterbox(["status", "--json", "--socket", sock], env).stdout)["callbacks"]
        time.sleep(0.5)
        cb1 = json.loads(masterbox(["status", "--json", "--socket", sock], env).stdout)["callbacks"]
        assert cb1 > cb0                                       # audio flows again
        # (a daemon whose PortAudio wedged re-executes itself in place: the
        # control socket is briefly absent, the process stays the same)
        seen = [x for x in states if x != "no-daemon"]
        seen = [x for i, x in enumerate(seen) if i == 0 or seen[i - 1] != x]
        assert seen == ["running", "waiting-for-device", "running"], states
        assert d.poll() is None                                # never exited
    finally:
        d.terminate()
        try:
            d.wait(timeout=10)
        except subprocess.TimeoutExpired:
            d.kill()
    err = d.stderr.read()
    # logged once per process (at most twice with the in-place restart), not per retry
    assert 1 <= err.count("state: waiting-for-device") <= 2, err


def _fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_no_descriptor_leak_per_device_loss(jackd, warm_cache, tmp_path):
    """Before: one descriptor more per device loss (issue 11: 15 -> 25 over
    10 cycles; bench/limits.py: 20 -> 26 over 6): libjack's socket to the
    lost server, opened without O_CLOEXEC, survived the daemon's in-place
    re-exec.  Now the count after each return stays put."""
    cfg = write_config(tmp_path, input_device="system", output_device="system")
    env = env_for(tmp_path, JACK_DEFAULT_SERVER=jackd.name)
    d = start_daemon(cfg, env, stderr=subprocess.PIPE, text=True)
    sock = tmp_path / "control.sock"

    def state():
        r = masterbox(["status", "--json", "--socket", sock], env)
        return json.loads(r.stdout)["state"] if r.returncode == 0 else "no-daemon"

    def wait(want, seconds=60):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if state() == want:
                return True
            time.sleep(0.2)
        return False
    counts = []
    try:
        assert wait("running"), d.stderr.read() if d.poll() is not None else ""
        for _ in range(5):
            jackd.stop()
            assert wait("waiting-for-device")
            jackd.start()
            assert wait("running")
            time.sleep(1.0)                  # no status connection open while counting
            counts.append(_fds(d.pid))
        assert d.poll() is None
    finally:
        d.terminate()
        try:
            d.wait(timeout=10)
        except subprocess.TimeoutExpired:
            d.kill()
    print("descriptors after each return:", counts)
    assert counts[-1] - counts[0] <= 1, counts
