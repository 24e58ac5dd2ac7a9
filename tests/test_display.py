"""luma's real ssd1306 driver over a recording I2C bus: the init burst the
SSD1306 datasheet asks for, then a frame decoded back into the image."""
import logging

import numpy as np
import pytest

pytest.importorskip("luma.oled")
from masterbox.ui.display import Display, make_device  # noqa: E402
from masterbox.ui.panel import DEMO_STATUS  # noqa: E402
from masterbox.ui.screens import UiState, render  # noqa: E402


class RecordingBus:
    """Stands in for smbus2.SMBus: records every block write."""

    def __init__(self):
        self.writes = []

    def write_i2c_block_data(self, addr, reg, data):
        self.writes.append((addr, reg, list(data)))

    def commands(self):
        return [b for a, reg, data in self.writes if reg == 0x00 for b in data]

    def data(self):
        return [b for a, reg, data in self.writes if reg == 0x40 for b in data]


def test_init_burst_and_frame_bytes():
    bus = RecordingBus()
    dev = make_device("ssd1306", bus=bus, address=0x3C)
    assert all(a == 0x3C for a, _, _ in bus.writes)
    cmds = bus.commands()
    # SSD1306 datasheet init: display off, clock, multiplex 64, offset 0, start
    # line 0, charge pump on, horizontal addressing, segment remap, COM scan
    # direction, COM pins, pre-charge, VCOMH, resume RAM, normal, contrast
    expect = [0xAE, 0xD5, 0x80, 0xA8, 0x3F, 0xD3, 0x00, 0x40, 0x8D, 0x14, 0x20, 0x00, 0xA1,
              0xC8, 0xDA, 0x12, 0xD9, 0xF1, 0xDB, 0x40, 0xA4, 0xA6, 0x81, 0xCF]
    assert cmds[:len(expect)] == expect
    bus.writes.clear()
    img = render(DEMO_STATUS, UiState())
    d = Display(lambda: dev)
    assert d.show(img)
    cmds = bus.commands()
    # full contrast on the first frame, then the column and page window
    assert cmds == [0x81, 0xCF, 0x21, 0x00, 0x7F, 0x22, 0x00, 0x07]
    data = bus.data()
    assert len(data) == 1024
    # decode: byte x of page p holds rows 8p..8p+7, LSB on top
    pages = np.array(data, dtype=np.uint8).reshape(8, 128)
    decoded = np.zeros((64, 128), dtype=bool)
    for p in range(8):
        for bit in range(8):
            decoded[8 * p + bit] = (pages[p] >> bit) & 1
    assert np.array_equal(decoded, np.array(img.convert("1")))


def test_unchanged_frames_are_not_sent_and_rate_is_limited():
    bus = RecordingBus()
    dev = make_device("ssd1306", bus=bus)
    t = [0.0]
    d = Display(lambda: dev, max_fps=15, clock=lambda: t[0])
    img = render(DEMO_STATUS, UiState())
    assert d.show(img)
    t[0] += 0.01
    assert not d.show(render(dict(DEMO_STATUS, intensity=2.0), UiState()))   # too soon
    t[0] += 0.1
    assert not d.show(img)                                                   # unchanged
    assert d.show(render(dict(DEMO_STATUS, intensity=2.0), UiState()))
    assert d.frames_sent == 2


def test_sh1106_option_builds():
    bus = RecordingBus()
    dev = make_device("sh1106", bus=bus)
    assert dev.width == 128 and dev.height == 64 and bus.writes


def test_missing_display_retries_with_backoff_and_logs_once(caplog):
    from luma.core.error import DeviceNotFoundError
    t = [0.0]
    attempts = []

    def factory():
        attempts.append(t[0])
        raise DeviceNotFoundError("I2C device not found: /dev/i2c-1")
    d = Display(factory, clock=lambda: t[0])
    img = render(DEMO_STATUS, UiState())
    with caplog.at_level(logging.WARNING, logger="masterbox.display"):
        for _ in range(200):
            t[0] += 0.1
            assert d.show(img) is False
    assert len([r for r in caplog.records if "display unavailable" in r.message]) == 1
    gaps = np.diff(attempts)
    assert gaps[0] == pytest.approx(1.0, abs=0.11) and gaps[-1] > gaps[0]    # backing off


def test_i2c_error_mid_frame_is_survived():
    class FlakyBus(RecordingBus):
        fail = False

        def write_i2c_block_data(self, addr, reg, data):
            if self.fail:
                raise OSError(121, "Remote I/O error")
            super().write_i2c_block_data(addr, reg, data)
    bus = FlakyBus()
    t = [0.0]
    d = Display(lambda: make_device("ssd1306", bus=bus), clock=lambda: t[0])
    assert d.show(render(DEMO_STATUS, UiState()))
    bus.fail = True
    t[0] += 1.0
    assert d.show(render(dict(DEMO_STATUS, intensity=1.0), UiState())) is False
    bus.fail = False
    t[0] += 1.5                                     # after the first backoff
    assert d.show(render(dict(DEMO_STATUS, intensity=1.0), UiState())) is True
