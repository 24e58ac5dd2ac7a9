"""User state that survives restarts and power cuts.

What the knobs set (genre, intensity, target, ceiling, bypass) is saved as
small JSON, atomically: write a temp file in the same directory, fsync it,
``os.replace`` it over the old one, fsync the directory (after mopidy's
``_state_storage``; CamillaDSP's statefile is not atomic).  Saves are
debounced (>= 2 s after the last change) to spare the SD card.  A missing,
corrupt, foreign-version or out-of-range file gives safe defaults and one
log line; the box never fails to start because of its state file.
"""
from __future__ import annotations

import json
import logging
import math
import os
import threading
from pathlib import Path

from . import presets as pr
from .errors import ConfigError
from .schema import read_text

log = logging.getLogger("masterbox.state")

VERSION = 1
KEYS = ("genre", "intensity", "target_lufs", "ceiling_dbtp", "bypass")


MAX_STATE_BYTES = 64 * 1024     # the real file is ~150 bytes


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _valid(data, presets) -> bool:
    try:
        return (isinstance(data, dict) and data.get("version") == VERSION
                and all(_num(data[k]) for k in ("intensity", "target_lufs", "ceiling_dbtp"))
                and isinstance(data["genre"], str) and (not presets or data["genre"] in presets)
                and pr.INTENSITY_RANGE[0] <= float(data["intensity"]) <= pr.INTENSITY_RANGE[1]
                and pr.TARGET_RANGE[0] <= float(data["target_lufs"]) <= pr.TARGET_RANGE[1]
                and pr.CEILING_RANGE[0] <= float(data["ceiling_dbtp"]) <= pr.CEILING_RANGE[1]
                and isinstance(data["bypass"], bool)
                and all(math.isfinite(float(data[k])) for k in ("intensity", "target_lufs",
                                                                "ceiling_dbtp")))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        return False


def load_state(path, defaults: dict, presets=None) -> dict:
    """The saved state, or ``defaults`` (logged) when it is unusable."""
    p = Path(path)
    for stale in p.parent.glob(f".{p.name}.*.tmp"):     # left by a save cut short
        try:
            stale.unlink()
        except OSError:
            pass
    if not os.path.lexists(p):
        log.info("no saved state at %s: starting from defaults", p)
        return dict(defaults)
    try:
        data = json.loads(read_text(p, "state file", MAX_STATE_BYTES))
    except ConfigError as e:
        log.warning("%s: starting from defaults", e.messages[0])
        return dict(defaults)
    except (ValueError, RecursionError) as e:
        msg = (str(e).splitlines() or [type(e).__name__])[0][:200]
        if isinstance(e, RecursionError):
            msg = "nested too deeply"
        log.warning("state file %s unreadable (%s): starting from defaults", p, msg)
        return dict(defaults)
    if not _valid(data, presets):
        log.warning("state file %s invalid or from another version: starting from defaults", p)
        return dict(defaults)
    return {k: data[k] for k in KEYS}


def save_state_atomic(path, state: dict) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    payload = json.dumps({"version": VERSION, **{k: state[k] for k in KEYS}}, indent=1)
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, p)
    fd = os.open(p.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StateStore:
    """Debounced saver.  ``update`` from any control thread; ``flush`` at exit."""

    def __init__(self, path, state: dict, debounce_s: float = 2.0):
        self.path = path
        self.debounce_s = debounce_s
        self._state = dict(state)
        self._lock = threading.Lock()
        self._timer = None
        self._dirty = False

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self._state)

    def update(self, **changes) -> None:
        with self._lock:
            self._state.update(changes)
            self._dirty = True
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce_s, self.flush)
            self._timer.daemon = True
            self._timer.start()

    def flush(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            state = dict(self._state)
            self._dirty = False
        try:
            save_state_atomic(self.path, state)
        except OSError as e:
            log.error("could not save state to %s: %s", self.path, e)

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
        self.flush()
