"""The user-facing parameters and their one writer path into the chain.

Controllers (control socket, front panel) call ``set``; it validates, stores,
asks the state store to persist (debounced), and writes the new target
vector into the running chain's ``targets`` (the audio thread reads it once
per block and glides; a torn read is harmless by design, see dsp.params).
No lock is shared with the audio thread.
"""
from __future__ import annotations

import math
import threading

from masterbox.dsp import params as P

from . import presets as pr
from .errors import InputError

KEYS = ("genre", "intensity", "target", "ceiling", "bypass")


class Parameters:
    def __init__(self, presets: dict, state: dict, store=None, loudness_match: bool = True):
        self.presets = presets
        self.store = store
        self.loudness_match = loudness_match
        self._lock = threading.Lock()
        self.genre = state["genre"]
        self.intensity = float(state["intensity"])
        self.target_lufs = float(state["target_lufs"])
        self.ceiling_dbtp = float(state["ceiling_dbtp"])
        self.bypass = bool(state["bypass"])
        self.bypass_match_db = 0.0
        self.chain = None          # set by the audio engine once a chain runs
        self.changes = 0           # bumped on every change (the panel shows overlays)

    def vector(self, bypass=None):
        v = pr.chain_params(self.presets[self.genre], self.intensity, self.target_lufs,
                            self.ceiling_dbtp, self.bypass if bypass is None else bypass)
        v[P.BYPASS_MATCH_DB] = self.bypass_match_db if self.bypass else 0.0
        return v

    def state(self) -> dict:
        return {"genre": self.genre, "intensity": self.intensity, "target_lufs": self.target_lufs,
                "ceiling_dbtp": self.ceiling_dbtp, "bypass": self.bypass}

    def set(self, key: str, value) -> None:
        """Validate and apply one change; raises InputError with a clear line."""
        with self._lock:
            if key == "genre":
                self.genre = pr.resolve_genre(self.presets, str(value)).name
            elif key == "intensity":
                v = round(_number(key, value), 1)
                self.intensity = pr.check_range("intensity", v, pr.INTENSITY_RANGE)
            elif key == "target":
                self.target_lufs = pr.parse_target(value)
            elif key == "ceiling":
                self.ceiling_dbtp = pr.check_range("ceiling", _number(key, value), pr.CEILING_RANGE)
            elif key == "bypass":
                on = _boolean(value)
                if on and not self.bypass:
                    self.bypass_match_db = self._match_db() if self.loudness_match else 0.0
                self.bypass = on
            else:
                raise InputError(f"unknown parameter '{key}' (one of {', '.join(KEYS)})")
            self.changes += 1
            self._push()
        if self.store is not None:
            self.store.update(**self.state())

    def _match_db(self) -> float:
        """Gain that brings the dry signal to the mastered loudness: the
        output's short-term loudness minus the input's (as the leveler sees it)."""
        ch = self.chain
        if ch is None:
            return 0.0
        snap = ch.snapshot()
        lev_in = snap.leveler_input_short_lufs
        if not (math.isfinite(snap.short_term_lufs) and lev_in > -70.0):
            return 0.0
        return max(-12.0, min(18.0, snap.short_term_lufs - lev_in))

    def _push(self) -> None:
        ch = self.chain
        if ch is not None:
            ch.targets[:] = self.vector()

    def attach(self, chain) -> None:
        with self._lock:
            self.chain = chain
            self._push()

    def replace_presets(self, presets: dict) -> None:
        with self._lock:
            self.presets = presets
            if self.genre not in presets:
                self.genre = "pop" if "pop" in presets else sorted(presets)[0]
            self._push()


def _number(key, value) -> float:
    if isinstance(value, bool):        # JSON true is not 1.0
        raise InputError(f"{key} must be a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{key} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise InputError(f"{key} must be a finite number")
    return v


def _boolean(value) -> bool:
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in ("on", "1", "true", "yes"):
        return True
    if s in ("off", "0", "false", "no"):
        return False
    raise InputError(f"bypass must be on or off, got {value!r}")
