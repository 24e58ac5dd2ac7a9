"""Every screen of the 128x64 panel as a pure function of a status snapshot.

``render(status, ui)`` returns a 1-bit PIL image; nothing here touches a
device, a clock or a socket, so each screen can be tested as pixels (golden
PNGs) and drawn identically by the OLED, the terminal simulator and the
snapshot writer.  Fonts are luma's 8-px bitmap fonts (CP437, proportional)
scaled by whole factors for the large numbers: the same pixels on every
machine, whatever FreeType or Pillow version is installed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from luma.core.legacy import text as _text
from luma.core.legacy import textsize
from luma.core.legacy.font import CP437_FONT, TINY_FONT, proportional
from PIL import Image, ImageDraw

W, H = 128, 64
FONT = proportional(CP437_FONT)
SMALL = proportional(TINY_FONT)
TARGET_NAMES = {-14.0: "STREAM", -11.0: "LOUD", -16.0: "APPLE", -23.0: "BROADCAST", -9.0: "CLUB"}


@dataclass
class UiState:
    """What the panel itself knows beyond the daemon's status."""
    overlay: str = ""           # "", "genre", "intensity", "target", "bypass"
    details: bool = False
    dim: bool = False
    shift: tuple = (0, 0)       # burn-in pixel shift, (dx, dy) in 0..1
    frame: int = 0              # animation (boot progress)
    error: str = ""             # panel-side error (config error, no daemon)
    extra: dict = field(default_factory=dict)


def text_width(s: str, font=FONT) -> int:
    return textsize(s, font=font)[0]


def draw_text(img: Image.Image, xy, s: str, font=FONT, scale: int = 1, fill=1) -> None:
    """Bitmap text at ``xy``, scaled by a whole factor (nearest neighbour)."""
    if scale == 1:
        _text(ImageDraw.Draw(img), xy, s, fill="white" if fill else "black", font=font)
        return
    w, h = textsize(s, font=font)
    tmp = Image.new("1", (max(w, 1), h))
    _text(ImageDraw.Draw(tmp), (0, 0), s, fill="white", font=font)
    big = tmp.resize((tmp.width * scale, tmp.height * scale), Image.NEAREST)
    if fill:
        img.paste(1, (int(xy[0]), int(xy[1])), big)
    else:
        img.paste(0, (int(xy[0]), int(xy[1])), big)


def fit(s: str, width: int, font=FONT) -> str:
    """Shorten ``s`` (with a trailing '.') until it fits ``width`` pixels."""
    if text_width(s, font) <= width:
        return s
    while s and text_width(s + ".", font) > width:
        s = s[:-1]
    return s + "."


def fmt(v, unit: str = "", nd: int = 1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "--" + unit
    return f"{v:.{nd}f}{unit}"


def target_name(lufs) -> str:
    return TARGET_NAMES.get(float(lufs), f"{lufs:g} LUFS") if lufs is not None else "--"


# ------------------------------------------------------------------ screens
def home(st: dict, ui: UiState) -> Image.Image:
    img = Image.new("1", (W, H))
    d = ImageDraw.Draw(img)
    genre = str(st.get("genre", "--")).upper()
    tgt = f"{st.get('target_lufs', 0):g}"
    if st.get("target_unreachable"):
        # the leveler sits at its limit and the output misses the target:
        # the target shown inverted (an honest miss, never a silent one)
        x0 = W - 3 - text_width(tgt, SMALL)
        d.rectangle((x0, 0, W - 1, 8), fill=1)
        draw_text(img, (W - 1 - text_width(tgt, SMALL), 1), tgt, SMALL, fill=0)
    else:
        draw_text(img, (W - 1 - text_width(tgt, SMALL), 1), tgt, SMALL)
    draw_text(img, (1, 0), fit(genre, W - 4 - text_width(tgt, SMALL)), FONT)
    # intensity: bar + number
    inten = float(st.get("intensity", 0.0))
    d.rectangle((1, 10, 100, 15), outline=1)
    d.rectangle((1, 10, 1 + round(99 * inten / 10.0), 15), fill=1)
    draw_text(img, (104, 9), f"{inten:.1f}", FONT)
    # big short-term loudness, integrated and true peak beneath
    s = st.get("short_term_lufs")
    draw_text(img, (1, 19), fmt(s), FONT, scale=2)
    draw_text(img, (text_width(fmt(s)) * 2 + 4, 26), "LUFS", SMALL)
    draw_text(img, (1, 37), "I " + fmt(st.get("integrated_lufs")), FONT)
    draw_text(img, (1, 46), "TP " + fmt(st.get("true_peak_dbtp")), FONT)
    # gain-reduction meter: 0..12 dB, grows downward, right edge
    gr = max(0.0, min(12.0, float(st.get("gain_reduction_db") or 0.0)))
    d.rectangle((119, 18, 126, 62), outline=1)
    d.rectangle((119, 18, 126, 18 + round(44 * gr / 12.0)), fill=1)
    draw_text(img, (104, 19), "GR", SMALL)
    # load / xrun indicator, bottom line
    xr = int(st.get("xruns_input", 0)) + int(st.get("xruns_output", 0))
    draw_text(img, (1, 56), f"{fmt(st.get('dsp_load_pct'), '%', 0)} X{xr}", SMALL)
    # a setting not safely on disk, or a config the daemon refused, outranks the state
    flag = ("NOT SAVED" if st.get("state_save_error") else
            "CONFIG ERR" if st.get("config_error") else
            str(st.get("state")).upper() if st.get("state") not in (None, "running") else "")
    if flag:
        draw_text(img, (50, 56), fit(flag, 66, SMALL), SMALL)
    if st.get("bypass"):
        # unmistakable: an inverted band over the meters
        d.rectangle((0, 18, 116, 35), fill=1)
        draw_text(img, (8, 19), "BYPASS", FONT, scale=2, fill=0)
    return img


def overlay(st: dict, ui: UiState) -> Image.Image:
    """The 1.5 s pop-up after a knob moves: the new value, large."""
    img = Image.new("1", (W, H))
    d = ImageDraw.Draw(img)
    kind = ui.overlay
    if kind == "genre":
        label, value = "GENRE", str(st.get("genre", "")).upper()
    elif kind == "intensity":
        label, value = "INTENSITY", f"{float(st.get('intensity', 0)):.1f}"
        inten = float(st.get("intensity", 0.0))
        d.rectangle((4, 52, 123, 60), outline=1)
        d.rectangle((4, 52, 4 + round(119 * inten / 10.0), 60), fill=1)
    elif kind == "target":
        label, value = "TARGET " + f"{st.get('target_lufs', 0):g} LUFS", target_name(st.get("target_lufs"))
    else:
        label, value = "BYPASS", "ON" if st.get("bypass") else "OFF"
    draw_text(img, ((W - text_width(label, SMALL)) // 2, 2), label, SMALL)
    scale = 3 if text_width(value) * 3 <= W - 4 else 2
    if text_width(value) * scale > W - 4:
        scale = 1
        value = fit(value, W - 4)
    draw_text(img, ((W - text_width(value) * scale) // 2, 14 if scale == 3 else 22), value, FONT, scale)
    return img


def details(st: dict, ui: UiState) -> Image.Image:
    img = Image.new("1", (W, H))
    comp = st.get("comp_gr_db") or [0, 0, 0, 0]
    rows = [
        f"{st.get('samplerate_hz') or '--'}Hz {st.get('blocksize_frames') or '--'}fr {fmt(st.get('latency_ms'), 'ms', 2)}",
        "COMP " + " ".join(f"{v:.0f}" for v in comp) + f" LIM {fmt(st.get('limiter_gr_db'))}",
        f"LEVEL {fmt(st.get('leveler_gain_db'), 'dB')}  M {fmt(st.get('momentary_lufs'))}",
        f"LOAD {fmt(st.get('dsp_load_pct'), '%')} MAX {fmt(st.get('dsp_load_max_pct'), '%', 0)}",
        f"XRUN {st.get('xruns_input', 0)}/{st.get('xruns_output', 0)} OVR {st.get('overruns', 0)}",
        fit(f"IN {st.get('input_device', '--')}", W - 2, SMALL),
        fit(f"OUT {st.get('output_device', '--')}", W - 2, SMALL),
    ]
    if st.get("audio_mode", "interface") != "interface":
        # the gadget modes: the end-to-end latency (what OBS's sync offset
        # needs) and the USB state replace the chain latency and the input
        usb = {"no-host": "NO HOST", "host-connected": "HOST CONNECTED",
               "streaming": "STREAMING"}.get(st.get("usb_state") or "", "--")
        rate = st.get("usb_host_rate_hz")
        rows[0] = (f"{st.get('samplerate_hz') or '--'}Hz {st.get('blocksize_frames') or '--'}fr "
                   f"E2E {fmt(st.get('end_to_end_latency_ms'), 'ms', 1)}")
        rows[5] = f"USB {usb}" + (f" {rate}Hz" if rate else "")
    for k, r in enumerate(rows):
        draw_text(img, (1, 1 + 9 * k), fit(r, W - 2, SMALL), SMALL)
    return img


def _message(title: str, lines, inverted_title=False) -> Image.Image:
    img = Image.new("1", (W, H))
    d = ImageDraw.Draw(img)
    if inverted_title:
        d.rectangle((0, 0, W - 2, 11), fill=1)
        draw_text(img, ((W - text_width(title)) // 2, 2), title, FONT, fill=0)
    else:
        draw_text(img, ((W - text_width(title)) // 2, 2), title, FONT)
    for k, line in enumerate(lines[:5]):
        draw_text(img, (1, 16 + 9 * k), fit(line, W - 2, SMALL), SMALL)
    return img


def wrap(s: str, width: int = W - 2, font=SMALL) -> list:
    out, cur = [], ""
    for word in str(s).split():
        cand = (cur + " " + word).strip()
        if text_width(cand, font) <= width:
            cur = cand
        else:
            if cur:
                out.append(cur)
            cur = word
    if cur:
        out.append(cur)
    return out


def booting(st: dict, ui: UiState) -> Image.Image:
    img = _message("MASTERBOX", ["starting up", "audio passes through (dry)",
                                 "compiling the mastering chain"])
    d = ImageDraw.Draw(img)
    d.rectangle((4, 52, 123, 58), outline=1)
    x = 4 + (ui.frame * 6) % 100       # indeterminate (the compile has no progress figure)
    d.rectangle((x, 52, x + 19, 58), fill=1)
    return img


def waiting(st: dict, ui: UiState) -> Image.Image:
    return _message("NO AUDIO DEVICE", ["waiting for the interface", "plug in / switch on:",
                                        str(st.get("input_device") or "USB audio"),
                                        "audio resumes by itself"])


def fault(st: dict, ui: UiState) -> Image.Image:
    return _message("FAULT", ["playing the dry signal"] + wrap(st.get("fault") or "unknown")[:3],
                    inverted_title=True)


def config_error(st: dict, ui: UiState) -> Image.Image:
    return _message("CONFIG ERROR", wrap(ui.error or "invalid configuration")[:3] +
                    ["see: journalctl -u masterbox"], inverted_title=True)


def no_daemon(st: dict, ui: UiState) -> Image.Image:
    return _message("NO DAEMON", ["masterbox is not running", "see: systemctl status masterbox"],
                    inverted_title=True)


def choose(st, ui: UiState) -> str:
    """Which screen a snapshot shows."""
    if ui.error:
        return "config_error"
    if st is None:
        return "no_daemon"
    state = st.get("state")
    if state == "waiting-for-device":
        return "waiting"
    if state == "fault":
        return "fault"
    if state == "starting" and not st.get("mastering"):
        return "booting"
    if ui.overlay:
        return "overlay"
    if ui.details:
        return "details"
    return "home"


SCREENS = {"home": home, "overlay": overlay, "details": details, "booting": booting,
           "waiting": waiting, "fault": fault, "config_error": config_error, "no_daemon": no_daemon}


def render(st, ui: UiState) -> Image.Image:
    """The panel's image for status ``st`` (None: no daemon) and ``ui``."""
    img = SCREENS[choose(st, ui)](st or {}, ui)
    dx, dy = ui.shift
    if dx or dy:                         # burn-in care: move everything by a pixel
        img = img.transform(img.size, Image.AFFINE, (1, 0, -dx, 0, 1, -dy))
    if ui.dim:
        # what the dimmed panel looks like in a picture (the OLED lowers its contrast)
        mask = Image.new("1", img.size)
        md = ImageDraw.Draw(mask)
        for y in range(H):
            for x in range(y % 2, W, 2):
                md.point((x, y), fill=1)
        img = Image.composite(img, Image.new("1", img.size), mask)
    return img
