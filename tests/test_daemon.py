"""The daemon on real PortAudio (ALSA file devices): live == render, safe
audio on faults, bad config, control socket, signals."""
import ctypes.util
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from daemon_util import (ROOT, alsa_home, env_for, find_offset, masterbox, read_raw, start_daemon,
                         wait_for_socket, write_config)
from masterbox.dsp.chain import latency_samples

LAT = latency_samples(48000)       # the chain's fixed latency at the rig's rate

# Never initialise PortAudio inside the pytest process (it would join a JACK
# server that another test starts and stops, and abort at exit): the daemon
# runs in subprocesses; here we only check that the library is installed.
if ctypes.util.find_library("portaudio") is None:
    pytest.skip("libportaudio2 not installed (.ci/run installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def warm_cache():
    # the daemon runs from the first sample only with a warm kernel cache
    r = subprocess.run([sys.executable, "-m", "masterbox.firmware.cli", "warmup"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.fixture
def rig(tmp_path, warm_cache):
    from masterbox.firmware.demo import synth_mix
    x = synth_mix(48000, 6.0)
    x.tofile(tmp_path / "in.raw")
    sf.write(tmp_path / "in.wav", x, 48000, subtype="FLOAT")
    home = alsa_home(tmp_path)
    return tmp_path, x, env_for(home)


def test_live_path_equals_offline_render_bit_for_bit(rig):
    tmp, x, env = rig
    r = masterbox(["run", "--config", write_config(tmp), "--frames", len(x) + 8192], env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "(mastering)" in r.stderr            # chain ran from the first sample
    ren = masterbox(["render", tmp / "in.wav", tmp / "r.wav", "--genre", "rock", "--intensity", 6,
                     "--target", "stream"], env, timeout=300)
    assert ren.returncode == 0, ren.stderr
    y = read_raw(tmp / "out.raw")
    ref, _ = sf.read(tmp / "r.wav", dtype="float32")
    lat = LAT
    off = find_offset(y[lat:], ref)
    assert off is not None, "live output never matches the render"
    n = len(ref)
    assert np.array_equal(y[lat + off:lat + off + n], ref)


def test_callback_exception_gives_safe_audio_and_a_fault_state(rig):
    tmp, x, env = rig
    env["MASTERBOX_FAULT_AFTER_BLOCKS"] = "100"
    r = masterbox(["run", "--config", write_config(tmp), "--frames", len(x)], env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "fault in the audio callback: RuntimeError: injected fault" in r.stderr
    y = read_raw(tmp / "out.raw")
    assert len(y) >= len(x) - 4096                    # the stream kept running
    # from the faulted block on, the box plays the dry input delayed by the
    # chain latency, bit for bit: no gap, no stale samples at the switch.
    # On the dry path y[k] = x[k - delay]; stream frame f is output at y[pa + f].
    off = find_offset(y, x[len(x) // 4:], probe=4800, max_off=len(y) - 4800)
    assert off is not None
    delay = off - len(x) // 4
    pa = delay - LAT                            # PortAudio's own offset
    first = 99 * 128                           # the 100th block raised
    start = pa + first
    m = min(len(y) - start, len(x) - (first - LAT))
    assert np.array_equal(y[start:start + m], x[first - LAT:first - LAT + m])


BAD = {
    "yaml": ("audio: {blocksize: 128\n", "YAML syntax error"),
    "unknown_top": ("audoi: {}\n", "did you mean 'audio'"),
    "unknown_nested": ("audio: {blocksiz: 128}\n", "did you mean 'blocksize'"),
    "wrong_type": ("audio: {blocksize: big}\n", "expected a number"),
    "range": ("audio: {blocksize: 8}\n", "out of range; allowed 16..4096"),
    "rate": ("audio: {samplerate: 22050}\n", "choose one of"),
    "genre": ("defaults: {genre: rok}\n", "did you mean 'rock'"),
    "target": ("defaults: {target: loudd}\n", "did you mean 'loud'"),
    "intensity": ("defaults: {intensity: 11}\n", "out of range; allowed 0..10"),
    "display": ("panel: {display: ssd1307}\n", "did you mean 'ssd1306'"),
    "bool": ("audio: {bypass_loudness_match: maybe}\n", "expected true or false"),
    "not_mapping": ("- a\n- b\n", "expected a mapping"),
    "device": ("audio: {input_device: Scarlett, output_device: mbloop}\n", "no input device matches 'Scarlett'"),
    "mode": ("audio: {mode: gadgte}\n", "did you mean 'gadget'"),
    "gadget_missing": ("audio: {mode: gadget, gadget_device: NoSuchGadget}\n",
                       "no input device matches 'NoSuchGadget'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_exit_2_with_clear_messages(tmp_path, case):
    text, expect = BAD[case]
    cfg = tmp_path / "config.yaml"
    cfg.write_text(text + f"state_file: {tmp_path}/s.json\n" if case != "not_mapping" else text)
    env = env_for(alsa_home(tmp_path))
    r = masterbox(["run", "--config", cfg], env, timeout=60)
    assert r.returncode == 2
    assert expect in r.stderr and "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.startswith("masterbox:")]) == 1
    if case not in ("device", "not_mapping", "gadget_missing"):
        assert "config.yaml:" in r.stderr        # file:line


def test_missing_config_file_is_exit_2(tmp_path):
    r = masterbox(["run", "--config", tmp_path / "nope.yaml"], env_for(alsa_home(tmp_path)))
    assert r.returncode == 2 and "config file not found" in r.stderr


def test_control_socket_status_set_sighup_and_sigterm(rig):
    tmp, x, env = rig
    env = env_for(alsa_home(tmp, out_file=None))       # output to /dev/null: runs until stopped
    cfg = write_config(tmp)
    p = start_daemon(cfg, env, stderr=subprocess.PIPE, text=True)
    sock = tmp / "control.sock"
    try:
        assert wait_for_socket(sock)
        assert (os.stat(sock).st_mode & 0o777) == 0o660
        st = masterbox(["status", "--json", "--socket", sock], env)
        assert st.returncode == 0, st.stderr
        status = json.loads(st.stdout)
        assert status["genre"] == "rock" and status["state"] in ("running", "starting")
        assert status["samplerate_hz"] == 48000 and status["blocksize_frames"] == 128
        assert status["latency_ms"] == pytest.approx(LAT / 48, abs=1e-3)      # rounded to us
        r = masterbox(["ctl", "set", "genre", "jazz", "--socket", sock], env)
        assert r.returncode == 0 and "jazz" in r.stdout
        r = masterbox(["ctl", "set", "intensity", "6.5", "--socket", sock], env)
        assert r.returncode == 0
        bad = masterbox(["ctl", "set", "genre", "rok", "--socket", sock], env)
        assert bad.returncode == 2 and "did you mean 'rock'" in bad.stderr
        r = masterbox(["ctl", "bypass", "on", "--socket", sock], env)
        assert r.returncode == 0 and "BYPASS" in r.stdout
        # an invalid config on SIGHUP keeps the old one running
        cfg.write_text("audio: {blocksize: -5}\n")
        p.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert p.poll() is None
        status = json.loads(masterbox(["status", "--json", "--socket", sock], env).stdout)
        assert status["genre"] == "jazz" and status["intensity"] == 6.5 and status["bypass"] is True
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=10)
        assert rc == 0 and time.monotonic() - t0 < 2.0
        err = p.stderr.read()
        assert "keeping the running configuration" in err
        saved = json.loads((tmp / "state.json").read_text())
        assert saved["genre"] == "jazz" and saved["intensity"] == 6.5 and saved["bypass"] is True
    finally:
        if p.poll() is None:
            p.kill()


def test_status_without_daemon_is_a_clear_error(tmp_path):
    r = masterbox(["status", "--socket", tmp_path / "none.sock"], env_for(tmp_path))
    assert r.returncode == 2 and "not running" in r.stderr
