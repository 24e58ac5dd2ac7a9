"""The knobs through gpiozero's real RotaryEncoder/Button on its mock pins,
driven with real quadrature sequences (EC11: one full cycle per detent)."""
import random
import time

import pytest

pytest.importorskip("gpiozero")
from gpiozero.pins.mock import MockFactory  # noqa: E402

from masterbox.ui.knobs import Knobs  # noqa: E402
from masterbox.ui.pins import load_pins  # noqa: E402

PINS = load_pins()


class Recorder:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *a: self.calls.append((name, *a))


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture
def rig():
    factory = MockFactory()
    rec = Recorder()
    clock = Clock()
    knobs = Knobs(PINS, rec, pin_factory=factory, clock=clock)
    yield factory, rec, clock
    knobs.close()
    factory.reset()


def pins_of(factory, knob):
    p = PINS[knob]
    return factory.pin(p["a"]), factory.pin(p["b"]), factory.pin(p["push"])


def detent(a, b, cw=True, bounce=0, rng=random.Random(0)):
    """One detent: both pins go low and back high, A first for clockwise.
    ``bounce``: extra chatter edges on the pin that just moved."""
    first, second = (a, b) if cw else (b, a)
    for pin, level in ((first, 0), (second, 0), (first, 1), (second, 1)):
        for _ in range(bounce):
            (pin.drive_high if level == 0 else pin.drive_low)()
            (pin.drive_low if level == 0 else pin.drive_high)()
        (pin.drive_low if level == 0 else pin.drive_high)()


def test_single_detents_both_ways(rig):
    factory, rec, clock = rig
    ga, gb, _ = pins_of(factory, "genre_encoder")
    ia, ib, _ = pins_of(factory, "intensity_encoder")
    detent(ga, gb, cw=True)
    detent(ga, gb, cw=False)
    clock.t += 1.0
    detent(ia, ib, cw=True)
    clock.t += 1.0
    detent(ia, ib, cw=False)
    assert rec.calls == [("genre_step", 1), ("genre_step", -1),
                         ("intensity_step", 0.5), ("intensity_step", -0.5)]


def test_jiggle_is_not_a_step(rig):
    factory, rec, clock = rig
    a, b, _ = pins_of(factory, "genre_encoder")
    for _ in range(10):            # resting on a detent, A chatters, B never moves
        a.drive_low()
        a.drive_high()
    a.drive_low()                  # half-way into a detent and back
    b.drive_low()
    b.drive_high()
    a.drive_high()
    assert rec.calls == []


@pytest.mark.parametrize("cw", [True, False])
def test_bounce_gives_exactly_one_step(rig, cw):
    factory, rec, clock = rig
    a, b, _ = pins_of(factory, "genre_encoder")
    detent(a, b, cw=cw, bounce=3)
    assert rec.calls == [("genre_step", 1 if cw else -1)]


def test_fast_spin_accelerates_intensity(rig):
    factory, rec, clock = rig
    a, b, _ = pins_of(factory, "intensity_encoder")
    for _ in range(10):            # slow: 0.2 s per detent
        clock.t += 0.2
        detent(a, b)
    slow = sum(c[1] for c in rec.calls)
    rec.calls.clear()
    for _ in range(10):            # fast: 10 ms per detent
        clock.t += 0.01
        detent(a, b)
    fast = sum(c[1] for c in rec.calls)
    assert slow == pytest.approx(10 * 0.5)
    assert len(rec.calls) == 10 and fast > 2 * slow


def test_fast_genre_spin_counts_every_detent(rig):
    factory, rec, clock = rig
    a, b, _ = pins_of(factory, "genre_encoder")
    for _ in range(25):
        detent(a, b, cw=False, bounce=1)
    assert rec.calls == [("genre_step", -1)] * 25


def test_short_push_toggles_bypass(rig):
    factory, rec, clock = rig
    _, _, push = pins_of(factory, "genre_encoder")
    push.drive_low()
    time.sleep(0.05)               # a real press: 50 ms (input, not a timing assert)
    push.drive_high()
    time.sleep(0.05)
    assert rec.calls == [("toggle_bypass",)]


def test_long_push_cycles_target_without_bypass(rig):
    factory, rec, clock = rig
    _, _, push = pins_of(factory, "genre_encoder")
    push.drive_low()
    time.sleep(1.0)
    assert rec.calls == []         # 1 s is not yet a long push (hold time 1.5 s)
    end = time.monotonic() + 5.0   # keep holding until gpiozero reports the hold
    while not rec.calls and time.monotonic() < end:
        time.sleep(0.02)
    push.drive_high()
    time.sleep(0.05)
    assert rec.calls == [("cycle_target",)]     # and releasing it is not a bypass toggle


def test_intensity_push_opens_details(rig):
    factory, rec, clock = rig
    _, _, push = pins_of(factory, "intensity_encoder")
    push.drive_low()
    time.sleep(0.02)
    push.drive_high()
    assert rec.calls == [("details",)]
