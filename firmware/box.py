"""`make box`: the box without hardware, in this terminal.

A private JACK dummy server (a real-time paced sound card) stands in for the
USB interface; the real daemon (`masterbox run`) masters it; a JACK client
plays the built-in demo mix (synthesized, no downloads) into the daemon's
input in a loop; the panel simulator follows the daemon in the terminal:
arrows = knobs (genre, intensity), space = bypass, t = target, d = details,
q = quit.  On q or Ctrl-C everything stops: the daemon first (it saves its
state), then the server; nothing is left running.

    python -m masterbox.firmware.box [--frames N]     (make box)
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FS = 48000


def _fail(msg: str) -> int:
    print(f"masterbox box: {msg}", file=sys.stderr)
    return 2


def _jackd(name: str) -> subprocess.Popen:
    # its own session: Ctrl-C in the terminal reaches the box, which stops
    # the daemon before the server (PortAudio aborts if its server dies first)
    p = subprocess.Popen(["jackd", "-n", name, "-R", "-d", "dummy", "-r", str(FS), "-p", "1024"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    for _ in range(100):
        if subprocess.run(["jack_lsp", "-s", name], capture_output=True).returncode == 0:
            return p
        if p.poll() is not None:
            break
        time.sleep(0.1)
    _stop(p)
    raise RuntimeError("the JACK dummy server did not start")


def _stop(p, timeout=15.0):
    if p is None or p.poll() is not None:
        return
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


class Player:
    """A JACK client looping the demo mix into the daemon's input."""

    def __init__(self, server: str, mix):
        import jack
        self.mix, self.pos = mix, 0
        self.client = jack.Client("mbbox-player", servername=server, no_start_server=True)
        self.outs = [self.client.outports.register(f"out_{c}") for c in "LR"]
        self.client.set_process_callback(self._process)

    def _process(self, frames):
        n = len(self.mix)
        idx = (self.pos + __import__("numpy").arange(frames)) % n
        for c in range(2):
            self.outs[c].get_array()[:] = self.mix[idx, c]
        self.pos = (self.pos + frames) % n

    def start(self):
        self.client.activate()
        c = self.client
        for k in range(2):
            for src in list(c.get_all_connections(f"PortAudio:in_{k}")):
                c.disconnect(src, f"PortAudio:in_{k}")
            c.connect(self.outs[k], f"PortAudio:in_{k}")

    def close(self):
        try:
            self.client.deactivate()
            self.client.close()
        except Exception:   # noqa: BLE001 - closing on the way out
            pass


def _status(sock: str):
    from .control import ControlError, reply_status, request
    try:
        return reply_status(request(sock, {"cmd": "status"}), sock)
    except ControlError:
        return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="masterbox box", description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=0, help="stop the panel after N frames (tests)")
    a = ap.parse_args(argv)
    if shutil.which("jackd") is None or shutil.which("jack_lsp") is None:
        return _fail("needs the JACK server: sudo apt-get install --no-install-recommends jackd2")
    try:
        import jack  # noqa: F401
    except (ImportError, OSError) as e:
        return _fail(f"needs JACK-Client and libjack ({e}): make venv, and apt-get install jackd2")
    from .demo import synth_mix
    from .notify import status_line
    from .status import Status
    tmp = Path(tempfile.mkdtemp(prefix="masterbox-box-"))
    name = f"mbbox{os.getpid()}"
    sock = str(tmp / "control.sock")
    (tmp / "config.yaml").write_text(
        "audio: {input_device: system, output_device: system, samplerate: 48000, blocksize: 256}\n"
        f"state_file: {tmp}/state.json\ncontrol_socket: {sock}\npresets_dirs: []\n"
        "defaults: {genre: pop, intensity: 5, target: stream}\n")
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
    server = daemon = player = None
    last = None
    rc = 0
    try:
        print("box: starting a private JACK dummy server, the daemon and the demo mix ...",
              flush=True)
        server = _jackd(name)
        with open(tmp / "daemon.log", "w") as log:
            daemon = subprocess.Popen([sys.executable, "-m", "masterbox.firmware.cli", "run", "--config",
                                       str(tmp / "config.yaml")], env=env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        end = time.monotonic() + 300          # a cold numba cache compiles first
        while time.monotonic() < end:
            st = _status(sock) if os.path.exists(sock) else None
            if st and st.get("state") in ("running", "starting"):
                break
            if daemon.poll() is not None:
                raise RuntimeError("the daemon stopped: " + (tmp / "daemon.log").read_text()[-500:])
            time.sleep(0.2)
        else:
            raise RuntimeError("the daemon did not start within 300 s")
        player = Player(name, synth_mix(FS, 24.0))
        player.start()
        args = [sys.executable, "-m", "masterbox.firmware.cli", "panel", "--sim", "--socket", sock]
        if a.frames:
            args += ["--frames", str(a.frames)]
        try:
            subprocess.call(args, env=env)
        except KeyboardInterrupt:
            pass
        last = _status(sock)
    except KeyboardInterrupt:
        pass
    except RuntimeError as e:
        rc = _fail(str(e))
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)      # a second Ctrl-C must not skip the clean-up
        if player is not None:
            player.close()
        _stop(daemon)
        _stop(server)
        shutil.rmtree(tmp, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if last is not None:
        print("\x1b[?25hbox: last status: " + status_line(Status.from_dict(last).to_dict()))
    print(f"box: stopped (daemon exit {daemon.returncode if daemon else '-'}; "
          f"JACK server {name} stopped)")
    return rc


if __name__ == "__main__":
    sys.exit(main())
