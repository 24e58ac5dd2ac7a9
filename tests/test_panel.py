"""The panel's behaviour: knob events -> daemon commands, overlays, burn-in
care, and the terminal simulator driven through a real pseudo-terminal."""
import json
import os
import pty
import select
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("luma.core")
from daemon_util import (ROOT, alsa_home, env_for, masterbox, start_daemon,  # noqa: E402
                         wait_for_socket, write_config)
from masterbox.firmware.control import ControlError  # noqa: E402
from masterbox.firmware.parameters import Parameters  # noqa: E402
from masterbox.ui.panel import Panel, to_text  # noqa: E402
from masterbox.ui.screens import UiState, render  # noqa: E402


class MemoryDaemon:
    """The control protocol answered by the real Parameters class, in memory."""

    def __init__(self, presets):
        self.params = Parameters(presets, {"genre": "pop", "intensity": 5.0, "target_lufs": -14.0,
                                           "ceiling_dbtp": -1.0, "bypass": False})
        self.sets = []
        self.up = True

    def __call__(self, path, req):
        if not self.up:
            raise ControlError("masterbox is not running")
        if req["cmd"] == "set":
            self.sets.append((req["key"], req["value"]))
            self.params.set(req["key"], req["value"])
        p = self.params
        return {"ok": True, "status": {"state": "running", "mastering": True, "genre": p.genre,
                                       "genres": sorted(p.presets), "intensity": p.intensity,
                                       "target_lufs": p.target_lufs, "bypass": p.bypass}}


@pytest.fixture
def panel(presets):
    d = MemoryDaemon(presets)
    return Panel("/unused", requester=d), d


def test_knobs_reach_the_daemon_and_show_an_overlay(panel, presets):
    p, d = panel
    p.tick(0.0)
    p.genre_step(+1)
    img, dim, blank = p.tick(0.05)
    names = sorted(presets)
    assert d.params.genre == names[(names.index("pop") + 1) % len(names)]
    assert p.ui.overlay == "genre"
    assert np.array_equal(np.array(img), np.array(render(p.status, UiState(overlay="genre"))))
    p.tick(1.4)
    assert p.ui.overlay == "genre"
    p.tick(1.6)
    assert p.ui.overlay == ""


def test_intensity_steps_clamp_and_fast_turns_are_not_lost(panel):
    p, d = panel
    p.tick(0.0)
    for _ in range(5):                 # five detents before the next frame
        p.intensity_step(+0.5)
    p.tick(0.01)
    assert d.params.intensity == 7.5
    for _ in range(10):
        p.intensity_step(+2.0)
    p.tick(0.02)
    assert d.params.intensity == 10.0


def test_bypass_and_target_cycle(panel):
    p, d = panel
    p.tick(0.0)
    p.toggle_bypass()
    p.tick(0.1)
    assert d.params.bypass is True
    seen = []
    for k in range(5):
        p.cycle_target()
        p.tick(0.2 + k)
        seen.append(d.params.target_lufs)
    assert seen == [-11.0, -16.0, -23.0, -9.0, -14.0]


def test_dim_then_pixel_shift_or_blank_and_a_knob_wakes(panel):
    p, d = panel
    p.tick(0.0)
    assert p.tick(59.0)[1] is False
    assert p.tick(61.0)[1] is True                    # dimmed after 60 s
    p.tick(601.0)
    assert p.ui.shift == (0, 0)
    p.tick(661.0)
    assert p.ui.shift != (0, 0)                       # pixel shift after 10 min
    p.intensity_step(0.5)
    img, dim, blank = p.tick(662.0)
    assert dim is False and p.ui.shift == (0, 0)      # any knob wakes it
    p.saver = "blank"
    assert p.tick(662.0 + 601.0)[2] is True


def test_no_daemon_screen_and_recovery(panel):
    p, d = panel
    d.up = False
    img, _, _ = p.tick(0.0)
    assert np.array_equal(np.array(img), np.array(render(None, UiState())))
    d.up = True
    p.tick(1.0)
    assert p.status["state"] == "running"


def test_text_frames_are_the_image():
    img = render(None, UiState())
    txt = to_text(img).splitlines()
    assert len(txt) == 32 and all(len(r) == 128 for r in txt)
    px = np.array(img.convert("1"))
    for y in range(0, 64, 2):
        for x in range(0, 128, 7):
            top, bot = px[y, x], px[y + 1, x]
            assert txt[y // 2][x] == ("█" if top and bot else "▀" if top else "▄" if bot else " ")


def test_simulator_in_a_terminal_drives_a_real_daemon(tmp_path):
    """The simulator under a real pty: arrow keys and space reach the daemon."""
    from masterbox.firmware.demo import synth_mix
    synth_mix(48000, 2.0).tofile(tmp_path / "in.raw")
    env = env_for(alsa_home(tmp_path, out_file=None))
    d = start_daemon(write_config(tmp_path), env, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
    sock = tmp_path / "control.sock"
    try:
        assert wait_for_socket(sock)
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "masterbox.firmware.cli", "panel", "--sim",
                                       "--socket", str(sock)], env)
        out = b""

        def read_for(seconds):
            nonlocal out
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                r, _, _ = select.select([fd], [], [], 0.05)
                if r:
                    try:
                        out += os.read(fd, 65536)
                    except OSError:
                        return
        read_for(2.0)
        os.write(fd, b"\x1b[C")        # right: next genre
        read_for(0.5)
        os.write(fd, b" ")             # space: bypass
        read_for(0.5)
        os.write(fd, b"q")
        read_for(1.0)
        os.waitpid(pid, 0)
        st = json.loads(masterbox(["status", "--json", "--socket", sock], env).stdout)
        assert st["genre"] == sorted(st["genres"])[(sorted(st["genres"]).index("rock") + 1)
                                                    % len(st["genres"])]
        assert st["bypass"] is True
        text = out.decode("utf-8", "ignore")
        assert "█" in text and "arrows: genre" in text
    finally:
        d.terminate()
        d.wait(timeout=10)


@pytest.mark.parametrize("factory,lib", [("auto", "RPi"), ("lgpio", "lgpio")])
def test_panel_without_a_gpio_library_exits_2_in_one_line(tmp_path, factory, lib):
    """Before: `masterbox panel` on a machine without RPi.GPIO died with a
    ModuleNotFoundError traceback, exit 1, and systemd (Restart=on-failure)
    restarted it every 3 s forever.  Now one line and exit 2, which the unit's
    RestartPreventExitStatus=2 does not restart (tests/test_systemd_box.py
    shows it under a real systemd)."""
    import importlib.util
    if importlib.util.find_spec(lib) is not None:
        pytest.skip(f"{lib} is installed here")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"panel: {{pins_file: {tmp_path}/none.yaml, pin_factory: {factory}}}\n"
                   f"state_file: {tmp_path}/state.json\npresets_dirs: []\n")
    env = {k: v for k, v in os.environ.items() if k != "GPIOZERO_PIN_FACTORY"}
    r = subprocess.run([sys.executable, "-m", "masterbox.firmware.cli", "panel", "--config", cfg,
                        "--socket", tmp_path / "none.sock"], env=env, capture_output=True,
                       text=True, timeout=120, cwd=ROOT)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith("masterbox panel: no GPIO library") and lib in lines[0]


def test_panel_unit_does_not_restart_exit_2():
    text = (ROOT / "systemd" / "masterbox-panel.service").read_text()
    assert "Restart=on-failure" in text and "RestartPreventExitStatus=2" in text.splitlines()


def test_panel_process_never_imports_numba():
    """masterbox-panel.service has MemoryDenyWriteExecute=yes; numba's
    llvmlite refuses to import without W+X memory.  Before: loading the config
    imported firmware.presets -> dsp -> numba, so under systemd the panel died
    at start ("cannot allocate executable memory", seen in systemd-nspawn)."""
    code = ("import sys\nfrom masterbox.firmware import cli, config\n"
            "from masterbox.ui import panel, knobs, display, pins\n"
            f"config.load_config({str(ROOT / 'hardware' / 'config.yaml')!r})\n"
            "print(sorted(m for m in ('numba', 'llvmlite', 'masterbox.dsp') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", r.stdout
