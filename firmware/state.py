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
    """Write, fsync, rename, fsync the folder; raises OSError on any failure
    (and leaves no temporary file behind)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    payload = json.dumps({"version": VERSION, **{k: state[k] for k in KEYS}}, indent=1)
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fd = os.open(p.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StateStore:
    """Debounced, retrying saver.  ``update`` from any thread; ``flush`` saves
    now; ``close`` at exit stops the saver thread and saves what is pending.

    A change stays pending ("dirty") until a save of it has been fsynced and
    renamed into place.  A failed save (disk full, read-only, no file handles
    left) is retried with backoff (``retry_s`` doubling up to ``retry_max_s``)
    and reported in ``error`` until a save succeeds.
    """

    def __init__(self, path, state: dict, debounce_s: float = 2.0, retry_s: float = 1.0,
                 retry_max_s: float = 30.0):
        self.path = path
        self.debounce_s = debounce_s
        self.retry_s = retry_s
        self.retry_max_s = retry_max_s
        self._state = dict(state)
        self._cond = threading.Condition()
        self._save_lock = threading.Lock()     # one save at a time (same temp name)
        self._gen = 0                          # bumped by every change
        self._saved_gen = 0                    # the newest change known to be on disk
        self._due = None                       # monotonic time of the next save
        self._failures = 0
        self._closed = False
        self._thread = None
        self.error = None                      # the last save's failure, until one succeeds

    def snapshot(self) -> dict:
        with self._cond:
            return dict(self._state)

    @property
    def dirty(self) -> bool:
        with self._cond:
            return self._gen != self._saved_gen

    def status(self) -> dict:
        with self._cond:
            return {"state_unsaved": self._gen != self._saved_gen, "state_save_error": self.error}

    def update(self, **changes) -> None:
        import time
        with self._cond:
            self._state.update(changes)
            self._gen += 1
            due = time.monotonic() + self.debounce_s
            if self._failures and self._due is not None:
                due = max(due, self._due)          # keep backing off
            self._due = due
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="state-saver", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        import time
        while True:
            with self._cond:
                while not self._closed and (self._due is None or time.monotonic() < self._due):
                    timeout = None if self._due is None else max(0.0, self._due - time.monotonic())
                    self._cond.wait(timeout)
                if self._closed:
                    return
                self._due = None
            self.flush()

    def flush(self) -> bool:
        """Save pending changes now; True when nothing is left unsaved."""
        import time
        with self._save_lock:
            with self._cond:
                if self._gen == self._saved_gen:
                    return True
                state, gen = dict(self._state), self._gen
            try:
                save_state_atomic(self.path, state)
            except OSError as e:
                with self._cond:
                    self._failures += 1
                    wait = min(self.retry_max_s, self.retry_s * 2 ** (self._failures - 1))
                    self.error = f"cannot save {self.path}: {e.strerror or e}"
                    if not self._closed:
                        self._due = time.monotonic() + wait
                        self._cond.notify_all()
                log.error("%s (attempt %d; retrying in %.0f s)", self.error, self._failures, wait)
                return False
            with self._cond:
                self._saved_gen = max(self._saved_gen, gen)
                if self._failures:
                    log.warning("state saved to %s after %d failed attempts", self.path,
                                self._failures)
                self._failures = 0
                self.error = None
                return self._gen == self._saved_gen

    def close(self) -> bool:
        """Stop the saver thread and save what is pending (at exit)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            t = self._thread
        if t is not None:
            t.join(timeout=10)
        return self.flush()
