"""The two rotary encoders with push switches (EC11 / KY-040 class).

The one module that imports the GPIO stack (gpiozero; RPi.GPIO or lgpio
underneath).  Decoding is gpiozero's ``RotaryEncoder`` (a transition table
over both edges of both pins: jiggle and contact bounce never count as a
step; no ``bounce_time`` on encoder pins, which would drop real edges).

    genre knob      turn: next / previous preset (wrapping)
                    push: bypass on/off;  hold >= 1.5 s: next loudness target
    intensity knob  turn: +-0.5 per detent, x2 / x4 on fast turns
                    push: details page (and wakes the screen)
"""
from __future__ import annotations

import os
import time

from masterbox.firmware.errors import MasterboxError

LONG_PUSH_S = 1.5
INTENSITY_STEP = 0.5
ACCEL = ((0.04, 4.0), (0.09, 2.0))     # (seconds between detents, multiplier)


class GPIOUnavailable(MasterboxError, RuntimeError):
    """No usable GPIO stack here (library missing, or not a Raspberry Pi):
    restarting the panel cannot help."""


_FACTORIES = {
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory", "RPi.GPIO (Pi <= 4)"),
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory", "rpi-lgpio or lgpio (Pi 5)"),
}


def make_pin_factory(name: str = "auto"):
    """gpiozero pin factory: 'rpigpio' (Pi <= 4), 'lgpio' (Pi 5), 'mock', or
    'auto' (GPIOZERO_PIN_FACTORY if set, else by the board model).  Raises
    GPIOUnavailable (one line) when the library is missing or refuses this
    machine."""
    if name == "auto":
        name = os.environ.get("GPIOZERO_PIN_FACTORY", "")
        if not name:
            try:
                model = open("/proc/device-tree/model", encoding="ascii", errors="ignore").read()
            except OSError:
                model = ""
            name = "lgpio" if "Raspberry Pi 5" in model else "rpigpio"
    if name == "mock":
        from gpiozero.pins.mock import MockFactory
        return MockFactory()
    if name not in _FACTORIES:
        raise ValueError(f"unknown pin factory '{name}' (auto, rpigpio, lgpio, mock)")
    module, cls, lib = _FACTORIES[name]
    try:
        import importlib
        factory = getattr(importlib.import_module(module), cls)
    except ImportError as e:
        raise GPIOUnavailable(f"no GPIO library for pin factory '{name}' ({e}): install {lib}, "
                              "or set panel.pin_factory in the config") from None
    except RuntimeError as e:        # RPi.GPIO / rpi-lgpio off a Pi
        raise GPIOUnavailable(f"pin factory '{name}' refuses this machine: {e}") from None
    try:
        return factory()
    except Exception as e:   # noqa: BLE001 - e.g. lgpio: no /dev/gpiochip0
        raise GPIOUnavailable(f"pin factory '{name}' cannot open the GPIO: "
                              f"{type(e).__name__}: {e}".replace("\n", " ")) from None


class Knobs:
    """Wire the encoders to ``handler``, an object with ``genre_step(+-1)``,
    ``intensity_step(delta)``, ``toggle_bypass()``, ``cycle_target()`` and
    ``details()``.  Callbacks run on gpiozero's threads; the handler only
    queues work (the panel loop does the rest)."""

    def __init__(self, pins: dict, handler, pin_factory=None, clock=time.monotonic):
        from gpiozero import Button, RotaryEncoder
        self.handler = handler
        self.clock = clock
        self.factory = pin_factory
        g, i = pins["genre_encoder"], pins["intensity_encoder"]
        self.genre = RotaryEncoder(g["a"], g["b"], max_steps=0, pin_factory=pin_factory)
        self.intensity = RotaryEncoder(i["a"], i["b"], max_steps=0, pin_factory=pin_factory)
        self.genre_push = Button(g["push"], pull_up=True, bounce_time=0.01,
                                 hold_time=LONG_PUSH_S, pin_factory=pin_factory)
        self.intensity_push = Button(i["push"], pull_up=True, bounce_time=0.01,
                                     pin_factory=pin_factory)
        self.genre.when_rotated_clockwise = lambda: handler.genre_step(+1)
        self.genre.when_rotated_counter_clockwise = lambda: handler.genre_step(-1)
        self.intensity.when_rotated_clockwise = lambda: self._intensity(+1)
        self.intensity.when_rotated_counter_clockwise = lambda: self._intensity(-1)
        self._held = False
        self.genre_push.when_held = self._long_push
        self.genre_push.when_released = self._release
        self.intensity_push.when_pressed = lambda: handler.details()
        self._last_detent = -1e9

    def _intensity(self, direction: int) -> None:
        now = self.clock()
        gap = now - self._last_detent
        self._last_detent = now
        mult = 1.0
        for limit, m in ACCEL:
            if gap < limit:
                mult = m
                break
        self.handler.intensity_step(direction * INTENSITY_STEP * mult)

    def _long_push(self) -> None:
        self._held = True
        self.handler.cycle_target()

    def _release(self) -> None:
        if not self._held:
            self.handler.toggle_bypass()
        self._held = False

    def close(self) -> None:
        for dev in (self.genre, self.intensity, self.genre_push, self.intensity_push):
            dev.close()
