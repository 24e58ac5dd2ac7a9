"""The panel's pin map (``hardware/pins.yaml``), validated at start.

Rules: BCM numbers 0..27 (the 40-pin header's GPIOs), no pin used twice,
none of the I2C pins the OLED needs (BCM 2, 3).  Every error at once, with
file:line.
"""
from __future__ import annotations

from pathlib import Path

from masterbox.firmware.errors import ConfigError
from masterbox.firmware.schema import Report, load_yaml_with_lines, validate

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "hardware" / "pins.yaml"
I2C_PINS = {2: "I2C SDA", 3: "I2C SCL"}
BCM_RANGE = (0, 27)
_ENC = {"a": BCM_RANGE, "b": BCM_RANGE, "push": BCM_RANGE}
SCHEMA = {"genre_encoder": _ENC, "intensity_encoder": _ENC}

# BCM -> physical header pin (40-pin header, all Pi models since the B+)
HEADER_PIN = {2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 0: 27, 5: 29,
              6: 31, 13: 33, 19: 35, 26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22,
              8: 24, 7: 26, 1: 28, 12: 32, 16: 36, 20: 38, 21: 40}


def load_pins(path=None) -> dict:
    path = Path(path or DEFAULT_FILE)
    if not path.exists():
        raise ConfigError([f"{path}: pin file not found"])
    data, lines = load_yaml_with_lines(path.read_text(encoding="utf-8"), str(path))
    report = Report(str(path), lines)
    validate(data or {}, SCHEMA, report)
    used: dict = {}
    for knob, pins in (data.items() if isinstance(data, dict) else ()):
        for role, bcm in (pins.items() if isinstance(pins, dict) else ()):
            where = (knob, role)
            if isinstance(bcm, bool) or not isinstance(bcm, int):
                if isinstance(bcm, float):
                    report.add(where, f"expected a whole BCM number, got {bcm!r}")
                continue
            if bcm in I2C_PINS:
                report.add(where, f"BCM {bcm} is {I2C_PINS[bcm]} (the OLED's I2C bus)")
            if bcm in used:
                report.add(where, f"BCM {bcm} is already used by {'.'.join(used[bcm])}")
            used.setdefault(bcm, where)
    if report.errors:
        raise ConfigError(report.errors)
    return data
