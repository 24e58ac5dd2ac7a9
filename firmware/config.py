"""The box's configuration: ``/etc/masterbox/config.yaml`` (or ``--config``).

Every key is optional; what is given is validated at start, with every
error at once (file:line, key, allowed values, did-you-mean).  Invalid config
at start is exit status 2; on SIGHUP an invalid file keeps the old config.

    audio:
      input_device: "USB Audio"   # substring of the PortAudio device name, or "default"
      output_device: "USB Audio"
      samplerate: 48000           # 44100 / 48000 / 88200 / 96000, or 0 = the device's default
      blocksize: 128              # frames per callback
      bypass_loudness_match: true # bypass plays at the mastered loudness (honest A/B)
      mode: interface             # interface | gadget | interface-to-gadget | gadget-to-interface
      gadget_device: UAC2_Gadget  # substring of the USB gadget card's PortAudio name
    defaults:                     # used until the user turns a knob (then state wins)
      genre: pop
      intensity: 5
      target: stream              # or a LUFS number
      ceiling_dbtp: -1.0
    presets_dirs: [/etc/masterbox/presets.d]
    state_file: /var/lib/masterbox/state.json
    control_socket: /run/masterbox/control.sock
    panel: {enabled: true, display: ssd1306, i2c_port: 1, i2c_address: 0x3C,
            pins_file: /etc/masterbox/pins.yaml, pin_factory: auto,
            idle_dim_s: 60, idle_saver_s: 600, saver: shift}   # saver: shift or blank
    log_level: info
"""
from __future__ import annotations

import os
from pathlib import Path

from . import presets as pr
from .errors import ConfigError, InputError
from .schema import Report, load_yaml_file, merge, validate

DEFAULT_PATH = "/etc/masterbox/config.yaml"

# Where the audio comes from and goes to (README "The box as a USB sound
# card"): the USB audio interface both ways; the USB gadget both ways (the
# box is the streaming PC's sound card, one clock: the USB host's); or one
# side each, with two independent clocks.
MODES = ("interface", "gadget", "interface-to-gadget", "gadget-to-interface")
GADGET_MODES = MODES[1:]

DEFAULTS = {
    "audio": {"input_device": "default", "output_device": "default", "samplerate": 48000,
              "blocksize": 128, "bypass_loudness_match": True, "mode": "interface",
              "gadget_device": "UAC2_Gadget"},
    "defaults": {"genre": "pop", "intensity": 5.0, "target": "stream", "ceiling_dbtp": -1.0},
    "presets_dirs": ["/etc/masterbox/presets.d"],
    "state_file": "/var/lib/masterbox/state.json",
    "control_socket": "/run/masterbox/control.sock",
    "panel": {"enabled": True, "display": "ssd1306", "i2c_port": 1, "i2c_address": 0x3C,
              "pins_file": "/etc/masterbox/pins.yaml", "pin_factory": "auto",
              "idle_dim_s": 60, "idle_saver_s": 600, "saver": "shift"},
    "log_level": "info",
}

SCHEMA = {
    "audio": {"input_device": str, "output_device": str,
              "samplerate": ("choice", (0, 44100, 48000, 88200, 96000)),
              "blocksize": (16, 4096), "bypass_loudness_match": bool,
              "mode": ("choice", MODES), "gadget_device": str},
    "defaults": {"genre": str, "intensity": pr.INTENSITY_RANGE, "target": ("any",),
                 "ceiling_dbtp": pr.CEILING_RANGE},
    "presets_dirs": ("strlist",),
    "state_file": str,
    "control_socket": str,
    "panel": {"enabled": bool, "display": ("choice", ("ssd1306", "sh1106")),
              "i2c_port": (0, 20), "i2c_address": (3, 119), "pins_file": str,
              "pin_factory": ("choice", ("auto", "rpigpio", "lgpio", "mock")),
              "idle_dim_s": (5, 86400), "idle_saver_s": (10, 86400),
              "saver": ("choice", ("shift", "blank"))},
    "log_level": ("choice", ("debug", "info", "warning", "error")),
}




def load_config(path=None):
    """Return (config dict, presets dict).  Raises ConfigError (all problems).

    A missing default file means defaults; a missing ``--config`` file is an
    error.  Preset directories that do not exist are skipped (the installer
    creates /etc/masterbox/presets.d).
    """
    explicit = path is not None
    path = Path(path or os.environ.get("MASTERBOX_CONFIG", DEFAULT_PATH))
    if not os.path.lexists(path):
        if explicit:
            raise ConfigError([f"{path}: config file not found"])
        data, lines = {}, {}
    else:
        data, lines = load_yaml_file(path, "config")
        data = {} if data is None else data
    report = Report(str(path), lines)
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: expected a mapping of settings"])
    validate(data, SCHEMA, report, partial=True)
    # go on with what is usable, so that every problem is reported at once
    def ok(*path):
        return not any(b[:len(path)] == path for b in report.bad_paths)
    cfg = merge(DEFAULTS, {k: v for k, v in data.items() if k in SCHEMA and ok(k)})
    if isinstance(data.get("defaults"), dict):     # the good keys of a partly bad section
        for k, v in data["defaults"].items():
            if k in SCHEMA["defaults"] and ok("defaults", k):
                cfg["defaults"][k] = v
    presets, errors = pr.load_presets_partial([d for d in cfg["presets_dirs"] if Path(d).is_dir()])
    report.errors += errors
    if presets and ok("defaults", "genre"):
        try:
            pr.resolve_genre(presets, cfg["defaults"]["genre"])
        except InputError as e:
            report.add(("defaults", "genre"), str(e))
    try:
        cfg["defaults"]["target_lufs"] = pr.parse_target(cfg["defaults"]["target"])
    except InputError as e:
        report.add(("defaults", "target"), str(e))
    if report.errors:
        raise ConfigError(report.errors)
    cfg["_path"] = str(path)
    return cfg, presets


def structural_changes(old: dict, new: dict) -> list:
    """Keys whose change needs the audio stream reopened."""
    return [k for k in ("input_device", "output_device", "samplerate", "blocksize", "mode",
                        "gadget_device")
            if old["audio"][k] != new["audio"][k]]
