"""The front panel as its own process: knobs -> daemon, daemon status -> screen.

A separate process on purpose: drawing, I2C writes and GPIO callbacks then
never compete with the audio callback for the daemon's GIL.  It talks to the
daemon only through the control socket (status at 10 Hz, ``set`` on knob
moves), redraws at most 15 times a second and only when the image changed.

    masterbox panel                       # the hardware panel (systemd: masterbox-panel)
    masterbox panel --sim                 # the panel in a terminal; keys act as knobs
    masterbox panel --sim --snapshots DIR # every screen as PNG, then exit
"""
from __future__ import annotations

import collections
import logging
import os
import select
import sys
import time

from masterbox.firmware.control import ControlError, reply_status, request
from masterbox.firmware.status import Status
from masterbox.firmware.presets import TARGET_ORDER, TARGETS_LUFS

from .screens import UiState, render

log = logging.getLogger("masterbox.panel")

OVERLAY_S = 1.5
POLL_S = 0.1
SHIFTS = ((0, 0), (1, 0), (1, 1), (0, 1))



def _typed(st: dict) -> dict:
    """The daemon's status with every key present and of its type (see
    firmware.status): a reply from an older or odd daemon cannot crash a screen."""
    return Status.from_dict(st).to_dict()

class Panel:
    """Knob handler + screen model.  ``tick(now)`` returns the image to show."""

    def __init__(self, socket_path: str, idle_dim_s: float = 60.0, idle_saver_s: float = 600.0,
                 saver: str = "shift", requester=request):
        self.socket_path = socket_path
        self.idle_dim_s = idle_dim_s
        self.idle_saver_s = idle_saver_s
        self.saver = saver
        self.request = requester
        self.events = collections.deque()
        self.status = None
        self.ui = UiState()
        self.overlay_until = 0.0
        self.last_input = None
        self.last_poll = -1e9
        self.error = ""
        self.blanked = False

    # -- knob handler (called from gpiozero threads or the simulator) --
    def genre_step(self, d):
        self.events.append(("genre", d))

    def intensity_step(self, delta):
        self.events.append(("intensity", delta))

    def toggle_bypass(self):
        self.events.append(("bypass", None))

    def cycle_target(self):
        self.events.append(("target", None))

    def details(self):
        self.events.append(("details", None))

    # -- model --
    def _send(self, key, value):
        try:
            reply = self.request(self.socket_path, {"cmd": "set", "key": key, "value": value})
        except ControlError:
            self.status = None
            return
        try:
            self.status = _typed(reply_status(reply, self.socket_path))
        except ControlError as e:
            log.warning("daemon refused %s=%s: %s", key, value, e)

    def _apply(self, kind, arg, now):
        st = self.status
        self.last_input = now
        if st is None:
            return
        if kind == "genre":
            names = st.get("genres") or [st.get("genre")]
            i = names.index(st["genre"]) if st.get("genre") in names else 0
            self._send("genre", names[(i + arg) % len(names)])
            self._overlay("genre", now)
        elif kind == "intensity":
            v = round((float(st.get("intensity", 0)) + arg) * 2) / 2
            self._send("intensity", min(10.0, max(0.0, v)))
            self._overlay("intensity", now)
        elif kind == "bypass":
            self._send("bypass", "off" if st.get("bypass") else "on")
            self._overlay("bypass", now)
        elif kind == "target":
            names = list(TARGET_ORDER)
            cur = [n for n in names if TARGETS_LUFS[n] == st.get("target_lufs")]
            nxt = names[(names.index(cur[0]) + 1) % len(names)] if cur else names[0]
            self._send("target", nxt)
            self._overlay("target", now)
        elif kind == "details":
            self.ui.details = not self.ui.details
            self.ui.overlay = ""
            self.overlay_until = 0.0

    def _overlay(self, kind, now):
        self.ui.overlay = kind
        self.ui.details = False
        self.overlay_until = now + OVERLAY_S

    def tick(self, now: float):
        """Apply queued knob events, refresh status, return (image, dim, blank)."""
        if self.last_input is None:
            self.last_input = now
        while self.events:
            kind, arg = self.events.popleft()
            self._apply(kind, arg, now)
        if now - self.last_poll >= POLL_S:
            self.last_poll = now
            try:
                self.status = _typed(reply_status(self.request(self.socket_path, {"cmd": "status"}),
                                                  self.socket_path))
            except ControlError as e:
                if self.status is not None:
                    log.warning("no status from the daemon: %s", e)
                self.status = None
        if self.ui.overlay and now >= self.overlay_until:
            self.ui.overlay = ""
        idle = now - self.last_input
        self.ui.dim = idle >= self.idle_dim_s
        blank = False
        self.ui.shift = (0, 0)
        if idle >= self.idle_saver_s:
            if self.saver == "blank":
                blank = True
            else:
                self.ui.shift = SHIFTS[int((idle - self.idle_saver_s) // 60) % len(SHIFTS)]
        self.ui.frame = int(now * 8)
        self.ui.error = self.error
        return render(self.status, self.ui), self.ui.dim, blank


# ---------------------------------------------------------------- terminal simulator
def to_text(image) -> str:
    """The 128x64 image as 32 lines of half-block characters."""
    px = image.load()
    w, h = image.size
    rows = []
    for y in range(0, h, 2):
        row = []
        for x in range(w):
            top, bottom = bool(px[x, y]), bool(px[x, y + 1]) if y + 1 < h else False
            row.append("█" if top and bottom else "▀" if top else "▄" if bottom else " ")
        rows.append("".join(row))
    return "\n".join(rows)


KEYS = {"\x1b[D": ("genre_step", -1), "\x1b[C": ("genre_step", +1),
        "\x1b[A": ("intensity_step", +0.5), "\x1b[B": ("intensity_step", -0.5),
        " ": ("toggle_bypass",), "t": ("cycle_target",), "d": ("details",)}


def run_sim(socket_path: str, frames: int = 0, fps: float = 15.0) -> int:
    """The panel in a terminal: arrows = knobs, space = bypass, t = target,
    d = details, q = quit.  Follows the running daemon's status."""
    panel = Panel(socket_path)
    fd = sys.stdin.fileno()
    old = None
    if os.isatty(fd):
        import termios
        import tty
        old = termios.tcgetattr(fd)
        tty.setcbreak(fd)
    out = sys.stdout
    out.write("\x1b[2J\x1b[?25l")
    n = 0
    last = None
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 1.0 / fps)
            if ready:
                data = os.read(fd, 64).decode("utf-8", "ignore")
                if not data or "q" in data:
                    break
                i = 0
                while i < len(data):
                    for seq, action in KEYS.items():
                        if data.startswith(seq, i):
                            getattr(panel, action[0])(*action[1:])
                            i += len(seq)
                            break
                    else:
                        i += 1
            img, dim, blank = panel.tick(time.monotonic())
            frame = to_text(img)
            if frame != last:
                out.write("\x1b[H" + frame + "\n" +
                          "arrows: genre / intensity   space: bypass   t: target   d: details   q: quit\n")
                out.flush()
                last = frame
            n += 1
            if frames and n >= frames:
                break
    finally:
        out.write("\x1b[?25h")
        out.flush()
        if old is not None:
            import termios
            termios.tcsetattr(fd, termios.TCSADRAIN, old)
    return 0


# ---------------------------------------------------------------- snapshots
DEMO_STATUS = {
    "state": "running", "mastering": True, "genre": "classical", "genres": ["pop", "classical"],
    "intensity": 6.5, "target_lufs": -14.0, "ceiling_dbtp": -1.0, "bypass": False,
    "short_term_lufs": -13.8, "momentary_lufs": -13.2, "integrated_lufs": -14.1,
    "true_peak_dbtp": -1.1, "gain_reduction_db": 3.2, "limiter_gr_db": 1.2,
    "comp_gr_db": [1.0, 2.0, 0.5, 0.0], "leveler_gain_db": 5.5, "dsp_load_pct": 1.1,
    "dsp_load_max_pct": 3.0, "xruns_input": 0, "xruns_output": 0, "overruns": 0,
    "samplerate_hz": 48000, "blocksize_frames": 128, "latency_ms": 1.542,
    "input_device": "USB Audio Device", "output_device": "USB Audio Device", "fault": "",
}


def snapshot_set(status=None):
    """(name, status, UiState) for every screen the panel can show."""
    st = dict(status or DEMO_STATUS)
    return [
        ("home", st, UiState()),
        ("overlay-genre", st, UiState(overlay="genre")),
        ("overlay-intensity", st, UiState(overlay="intensity")),
        ("overlay-target", st, UiState(overlay="target")),
        ("bypass", dict(st, bypass=True), UiState()),
        ("details", st, UiState(details=True)),
        ("booting", dict(st, state="starting", mastering=False), UiState(frame=4)),
        ("waiting-for-device", dict(st, state="waiting-for-device"), UiState()),
        ("fault", dict(st, state="fault", fault="RuntimeError: injected fault"), UiState()),
        ("config-error", st, UiState(error="/etc/masterbox/config.yaml:3: audio.blocksize: 8 "
                                           "is out of range; allowed 16..4096")),
        ("dimmed", st, UiState(dim=True)),
        ("pixel-shifted", st, UiState(shift=(1, 1))),
        ("no-daemon", None, UiState()),
    ]


def write_snapshots(directory: str, socket_path: str = "") -> list:
    os.makedirs(directory, exist_ok=True)
    live = None
    if socket_path:
        try:
            live = _typed(reply_status(request(socket_path, {"cmd": "status"}), socket_path))
        except ControlError:
            live = None
    written = []
    for name, st, ui in snapshot_set(live):
        path = os.path.join(directory, f"{name}.png")
        render(st, ui).save(path)
        written.append(path)
    return written


# ---------------------------------------------------------------- hardware panel
def run_hardware(cfg: dict, socket_path: str) -> int:
    from .display import Display, make_device
    from .knobs import Knobs, make_pin_factory
    from .pins import load_pins
    pcfg = cfg["panel"]
    panel = Panel(socket_path)
    pins = load_pins(pcfg["pins_file"] if os.path.exists(pcfg["pins_file"]) else None)
    knobs = Knobs(pins, panel, pin_factory=make_pin_factory(pcfg.get("pin_factory", "auto")))
    display = Display(lambda: make_device(pcfg["display"], pcfg["i2c_port"], pcfg["i2c_address"]))
    try:
        while True:
            img, dim, blank = panel.tick(time.monotonic())
            if blank:
                display.blank()
            else:
                display.show(img, dim=dim)
            time.sleep(1.0 / 15)
    finally:
        knobs.close()
