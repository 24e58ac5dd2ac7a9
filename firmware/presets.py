"""Genre presets: YAML files, validated at the edge, turned into chain params.

Built-in presets live in ``firmware/presets/*.yaml``.  Users add or override
presets with files in a directory (``--presets DIR``; the daemon reads
``/etc/masterbox/presets.d``).  A user file may say ``inherit: pop`` and give
only the keys it changes.  Validation reports every error at once with
``file:line``, the key, the allowed range and a did-you-mean.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConfigError, InputError
from .schema import Report, did_you_mean, load_yaml_file, merge, validate

BUILTIN_DIR = Path(__file__).with_name("presets")

# Named loudness targets (LUFS): Spotify/YouTube, "loud" streaming,
# Apple Music, EBU R128 broadcast, club.
TARGETS_LUFS = {"stream": -14.0, "loud": -11.0, "apple": -16.0, "broadcast": -23.0, "club": -9.0}
TARGET_ORDER = ("stream", "loud", "apple", "broadcast", "club")
TARGET_RANGE = (-36.0, -5.0)
CEILING_RANGE = (-6.0, 0.0)
INTENSITY_RANGE = (0.0, 10.0)

EQ_SLOTS = ("low_shelf", "peak1", "peak2", "high_shelf")
_NUM = (int, float)

# key path -> (allowed range) ; lists are described separately
SCHEMA = {
    "name": str,
    "description": str,
    "inherit": str,
    "subsonic_hz": (10.0, 60.0),
    "eq": {slot: {"f_hz": (20.0, 20000.0), "gain_db": (-12.0, 12.0), "q": (0.1, 10.0)}
           for slot in EQ_SLOTS},
    "adaptive": {"amount": (0.0, 1.0), "target_db": ("list", 10, (-40.0, 20.0))},
    "multiband": {"crossovers_hz": ("list", 3, (40.0, 16000.0)),
                  "bands": ("bands", 4, {"threshold_db": (-30.0, 20.0), "ratio": (1.0, 20.0),
                                         "knee_db": (0.0, 24.0), "attack_ms": (1.0, 500.0),
                                         "release_ms": (10.0, 5000.0)})},
    "stereo": {"width": (0.0, 2.0), "mono_bass": (0.0, 1.0)},
    "limiter": {"release_ms": (5.0, 1000.0)},
    "leveler": {"levelling": (0.0, 2.0), "programme_change_lu": (6.0, 40.0)},
}
OPTIONAL = {"inherit", "leveler"}
# a preset without a leveler section (user presets written before it existed)
LEVELER_DEFAULTS = {"levelling": 0.8, "programme_change_lu": 12.0}


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    data: dict          # validated, complete tree
    source: str         # file it came from


def _validate(data, lines, filename, partial=False):
    report = Report(filename, lines)
    validate(data, SCHEMA, report, optional=OPTIONAL, partial=partial)
    return report.errors


def _check_filters(data, lines, filename):
    """Settings that are each in range but together unusable or unstable."""
    errors = []
    if not isinstance(data, dict):
        return errors
    mb = data.get("multiband", {})
    xo = mb.get("crossovers_hz") if isinstance(mb, dict) else None
    if isinstance(xo, list) and len(xo) == 3 and all(isinstance(v, _NUM) for v in xo):
        if not (xo[0] * 1.5 <= xo[1] and xo[1] * 1.5 <= xo[2]):
            line = lines.get(("multiband", "crossovers_hz"), 1)
            errors.append(f"{filename}:{line}: multiband.crossovers_hz: {xo} must ascend, "
                          f"each at least 1.5x the one below (bands would overlap)")
        if xo[2] >= 0.45 * 44100:
            line = lines.get(("multiband", "crossovers_hz"), 1)
            errors.append(f"{filename}:{line}: multiband.crossovers_hz: {xo[2]} Hz is too "
                          f"close to Nyquist at 44.1 kHz (max {0.45 * 44100:g})")
    eq = data.get("eq", {})
    if not isinstance(eq, dict):
        return errors
    for slot in EQ_SLOTS:
        s = eq.get(slot)
        if isinstance(s, dict) and isinstance(s.get("f_hz"), _NUM) and s["f_hz"] >= 0.45 * 44100:
            line = lines.get(("eq", slot, "f_hz"), 1)
            errors.append(f"{filename}:{line}: eq.{slot}.f_hz: {s['f_hz']} Hz is too close to "
                          f"Nyquist at 44.1 kHz; allowed up to {0.45 * 44100:g}")
    return errors




def _read(path: Path):
    return load_yaml_file(path, "preset")


def _outside(path: Path, folders) -> bool:
    """A symlink in a preset folder that leads out of every preset folder."""
    if not path.is_symlink():
        return False
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return False                       # a loop or dangling: read_text reports it
    for f in folders:
        try:
            target.relative_to(Path(f).resolve())
            return False
        except (ValueError, OSError, RuntimeError):
            continue
    return True


def load_presets(user_dirs=()) -> dict:
    """Built-in presets plus those in ``user_dirs`` (later ones override).

    A user preset may ``inherit`` from any preset, built-in or in any user
    file (in any order; cycles are reported).  Raises ConfigError listing
    every problem found in every file.
    """
    presets, errors = load_presets_partial(user_dirs)
    if errors:
        raise ConfigError(errors)
    return presets


def load_presets_partial(user_dirs=()):
    """(the presets that are valid, every problem as ``file:line: message``)."""
    presets: dict = {}
    errors: list = []
    for path in sorted(BUILTIN_DIR.glob("*.yaml")):
        try:
            data, lines = _read(path)
        except ConfigError as e:
            errors += e.messages
            continue
        errs = _validate(data, lines, str(path)) + _check_filters(data, lines, str(path))
        if errs:
            errors += errs
            continue
        presets[data["name"]] = Preset(data["name"], data["description"], data, str(path))
    pending = []                    # (path, data, lines), in directory then file order
    for d in user_dirs:
        d = Path(d)
        if not d.is_dir():
            errors.append(f"{d}: preset directory not found")
            continue
        for path in sorted(list(d.glob("*.yaml")) + list(d.glob("*.yml"))):
            if _outside(path, user_dirs):
                errors.append(f"{path}:1: a symlink to a file outside the preset folders; "
                              f"copy the preset into {d} instead")
                continue
            try:
                data, lines = _read(path)
            except ConfigError as e:
                errors += e.messages
                continue
            if not isinstance(data, dict):
                errors.append(f"{path}:1: expected a preset (a mapping with name, description, ...)")
                continue
            if "inherit" in data:
                base = data["inherit"]
                if not isinstance(base, str) or not base.strip():
                    errors.append(f"{path}:{lines.get(('inherit',), 1)}: inherit: expected the "
                                  f"name of one preset, got {type(base).__name__}")
                    continue
                if "name" not in data:
                    errors.append(f"{path}:1: name: missing (a preset that inherits needs its own "
                                  f"name, else it would silently replace '{base}')")
                    continue
            pending.append((path, data, lines))
    # resolve inheritance in dependency order: a pass adds every preset whose
    # base is known; what is left has an unknown base or is part of a cycle
    while pending:
        left = []
        defined_later = {e[1].get("name") for e in pending if isinstance(e[1].get("name"), str)}
        for path, data, lines in pending:
            base_name = data.get("inherit")
            if base_name is not None and (base_name not in presets
                                          or (base_name in defined_later
                                              and base_name != data.get("name"))):
                left.append((path, data, lines))
                continue
            if base_name is not None:
                errs = _validate(data, lines, str(path), partial=True)
                merged = merge(presets[base_name].data, data)
                merged.pop("inherit", None)
                if "description" not in data:
                    merged["description"] = presets[base_name].description
            else:
                errs = _validate(data, lines, str(path))
                merged = data
            errs += _check_filters(merged, lines, str(path))
            if isinstance(data.get("name"), str):
                defined_later.discard(data["name"])
            if errs:
                errors += errs
                continue
            presets[merged["name"]] = Preset(merged["name"], merged["description"], merged, str(path))
        if len(left) == len(pending):        # no progress: unknown bases or a cycle
            names = {e[1].get("name") for e in left if isinstance(e[1].get("name"), str)}
            for path, data, lines in left:
                base_name = data["inherit"]
                where = f"{path}:{lines.get(('inherit',), 1)}: inherit:"
                if base_name in names:
                    errors.append(f"{where} '{base_name}' inherits back from "
                                  f"'{data.get('name')}' (a cycle)")
                else:
                    known = set(presets) | names
                    errors.append(f"{where} unknown preset '{base_name}'"
                                  f"{did_you_mean(base_name, known)}")
            break
        pending = left
    return presets, errors


def check_dir(d) -> list:
    """Validate a user preset directory; return the list of error lines."""
    try:
        load_presets([d])
    except ConfigError as e:
        return e.messages
    return []


def resolve_genre(presets: dict, name: str) -> Preset:
    if name in presets:
        return presets[name]
    hint = did_you_mean(name, presets)
    raise InputError(f"unknown genre '{name}'{hint} (known: {', '.join(sorted(presets))})")


def parse_target(value) -> float:
    """A named target (stream, loud, apple, broadcast, club) or a LUFS number."""
    if isinstance(value, str) and value.strip().lower() in TARGETS_LUFS:
        return TARGETS_LUFS[value.strip().lower()]
    try:
        v = float(value)
    except (TypeError, ValueError):
        hint = did_you_mean(value, TARGETS_LUFS)
        raise InputError(f"target '{value}' is neither a LUFS number nor one of "
                         f"{', '.join(TARGET_ORDER)}{hint}") from None
    if not (TARGET_RANGE[0] <= v <= TARGET_RANGE[1]):
        raise InputError(f"target {v:g} LUFS is out of range {TARGET_RANGE[0]:g}..{TARGET_RANGE[1]:g}")
    return v


def check_range(name: str, v: float, rng) -> float:
    if not (rng[0] <= v <= rng[1]):
        raise InputError(f"{name} {v:g} is out of range {rng[0]:g}..{rng[1]:g}")
    return v


def chain_params(preset: Preset, intensity: float, target_lufs: float,
                 ceiling_dbtp: float = -1.0, bypass: bool = False) -> np.ndarray:
    """The parameter-target vector for ``dsp.Chain`` (see ``dsp.params``)."""
    d = preset.data
    # imported here, not at the top: the panel loads the config (and so
    # this module) and must not import dsp, whose numba needs W+X memory
    # (masterbox-panel.service has MemoryDenyWriteExecute=yes)
    from masterbox.dsp import params as P
    p = np.zeros(P.N_PARAMS)
    p[P.INTENSITY] = round(float(intensity), 1)
    p[P.TARGET_LUFS] = target_lufs
    p[P.CEILING_DBTP] = ceiling_dbtp
    p[P.BYPASS] = 1.0 if bypass else 0.0
    p[P.SUBSONIC_HZ] = d["subsonic_hz"]
    for j, slot in enumerate(EQ_SLOTS):
        s = d["eq"][slot]
        p[P.EQ_BASE + 3 * j: P.EQ_BASE + 3 * j + 3] = (s["f_hz"], s["gain_db"], s["q"])
    p[P.ADAPT_AMOUNT] = d["adaptive"]["amount"]
    p[P.TARGET_SPECTRUM:P.TARGET_SPECTRUM + 10] = d["adaptive"]["target_db"]
    p[P.XOVER_HZ:P.XOVER_HZ + 3] = d["multiband"]["crossovers_hz"]
    for b, band in enumerate(d["multiband"]["bands"]):
        o = P.BAND_BASE + b * P.BAND_STRIDE
        p[o:o + 5] = (band["threshold_db"], band["ratio"], band["knee_db"],
                      band["attack_ms"], band["release_ms"])
    p[P.WIDTH] = d["stereo"]["width"]
    p[P.MONO_BASS] = d["stereo"]["mono_bass"]
    p[P.LIMITER_RELEASE_MS] = d["limiter"]["release_ms"]
    lev = {**LEVELER_DEFAULTS, **d.get("leveler", {})}
    p[P.LEV_LEVELLING] = lev["levelling"]
    p[P.LEV_CHANGE_LU] = lev["programme_change_lu"]
    return p


def default_user_dirs() -> list:
    d = os.environ.get("MASTERBOX_PRESETS_DIR")
    return [d] if d else []
