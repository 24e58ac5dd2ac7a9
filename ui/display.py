"""The OLED: the one module that builds a luma device.

SSD1306 128x64 (or SH1106 1.3") on I2C, address 0x3C.  ``Display.show``
sends a frame only when the image changed and at most ``max_fps`` times a
second.  A missing display or an I2C error never reaches the audio: the
panel runs in its own process, errors are logged once and retried with
exponential backoff (1 s .. 60 s).
"""
from __future__ import annotations

import logging
import time

log = logging.getLogger("masterbox.display")

DIM_CONTRAST = 0x08
FULL_CONTRAST = 0xCF


def make_device(kind: str = "ssd1306", port: int = 1, address: int = 0x3C, bus=None):
    """A real luma device.  ``bus``: an smbus-like object (tests record bytes)."""
    from luma.core.interface.serial import i2c
    serial = i2c(bus=bus, address=address) if bus is not None else i2c(port=port, address=address)
    if kind == "sh1106":
        from luma.oled.device import sh1106
        return sh1106(serial, width=128, height=64)
    from luma.oled.device import ssd1306
    return ssd1306(serial, width=128, height=64)


class Display:
    def __init__(self, factory, max_fps: float = 15.0, clock=time.monotonic):
        self.factory = factory            # () -> luma device; may raise
        self.min_interval = 1.0 / max_fps
        self.clock = clock
        self.device = None
        self._last_image = None
        self._last_sent = -1e9
        self._retry_at = 0.0
        self._backoff = 1.0
        self._logged = False
        self._dim = None
        self.frames_sent = 0
        self.frame_time_s = 0.0

    def _ensure(self) -> bool:
        if self.device is not None:
            return True
        now = self.clock()
        if now < self._retry_at:
            return False
        try:
            self.device = self.factory()
            if self._logged:
                log.info("display is back")
            self._logged = False
            self._backoff = 1.0
            self._last_image = None
            self._dim = None
            return True
        except Exception as e:   # noqa: BLE001 - DeviceNotFoundError, OSError, ...
            self._fail(e)
            return False

    def _fail(self, e) -> None:
        if not self._logged:
            log.warning("display unavailable (%s): audio is unaffected; retrying", e)
            self._logged = True
        self.device = None
        self._retry_at = self.clock() + self._backoff
        self._backoff = min(60.0, self._backoff * 2)

    def show(self, image, dim: bool = False, force: bool = False) -> bool:
        """Send ``image`` if it changed (rate-limited); True if a frame went out."""
        now = self.clock()
        if not force and now - self._last_sent < self.min_interval:
            return False
        if not self._ensure():
            return False
        try:
            if dim != self._dim:
                self.device.contrast(DIM_CONTRAST if dim else FULL_CONTRAST)
                self._dim = dim
            if self._last_image is not None and image.tobytes() == self._last_image:
                return False
            t0 = time.perf_counter()
            self.device.display(image)
            self.frame_time_s = time.perf_counter() - t0
        except Exception as e:   # noqa: BLE001 - I2C errors (OSError), bus gone
            self._fail(e)
            return False
        self._last_image = image.tobytes()
        self._last_sent = now
        self.frames_sent += 1
        return True

    def blank(self) -> None:
        if self.device is not None:
            try:
                self.device.hide()
            except Exception as e:   # noqa: BLE001
                self._fail(e)
        self._last_image = None
