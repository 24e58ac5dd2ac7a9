"""hardware/README.md's pin table and wiring diagram agree with pins.yaml."""
import re
from pathlib import Path

import pytest

from masterbox.firmware.errors import ConfigError
from masterbox.ui.pins import HEADER_PIN, load_pins

ROOT = Path(__file__).resolve().parents[1]
ROLE = {"A (CLK)": "a", "B (DT)": "b", "push (SW)": "push"}
KNOB = {"Genre knob": "genre_encoder", "Intensity knob": "intensity_encoder"}


def test_pin_table_matches_pins_yaml():
    pins = load_pins()
    text = (ROOT / "hardware" / "README.md").read_text()
    rows = re.findall(r"^\| (Genre knob|Intensity knob) \| ([^|]+) \| (\d+) \| (\d+) \|$", text, re.M)
    assert len(rows) == 6
    for knob, role, bcm, header in rows:
        assert pins[KNOB[knob]][ROLE[role.strip()]] == int(bcm)
        assert HEADER_PIN[int(bcm)] == int(header)
    for knob, roles in pins.items():
        for role, bcm in roles.items():
            # the ASCII diagram shows every pin on its header position
            assert re.search(rf"---- GP{bcm}\s+\[\s*{HEADER_PIN[bcm]}\]", text), (knob, role, bcm)


def test_oled_on_i2c_pins():
    text = (ROOT / "hardware" / "README.md").read_text()
    assert "| OLED | SDA | 2 | 3 |" in text and "| OLED | SCL | 3 | 5 |" in text


@pytest.mark.parametrize("text,expect", [
    ("genre_encoder: {a: 2, b: 27, push: 22}\nintensity_encoder: {a: 5, b: 6, push: 13}\n", "I2C SDA"),
    ("genre_encoder: {a: 17, b: 27, push: 22}\nintensity_encoder: {a: 17, b: 6, push: 13}\n",
     "already used by genre_encoder.a"),
    ("genre_encoder: {a: 17, b: 27, push: 22}\nintensity_encoder: {a: 5, b: 40, push: 13}\n",
     "out of range; allowed 0..27"),
    ("genre_encoder: {a: 17, b: 27, push: 22}\nintensity_encoder: {a: 5, b: 6, psh: 13}\n",
     "did you mean 'push'"),
])
def test_bad_pin_files(tmp_path, text, expect):
    f = tmp_path / "pins.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_pins(f)
    assert any(expect in m and "pins.yaml:" in m for m in e.value.messages)
