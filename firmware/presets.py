"""Genre presets: YAML files, validated at the edge, turned into chain params.

Built-in presets live in ``firmware/presets/*.yaml``.  Users add or override
presets with files in a directory (``--presets DIR``; the daemon reads
``/etc/masterbox/presets.d``).  A user file may say ``inherit: pop`` and give
only the keys it changes.  Validation reports every error at once with
``file:line``, the key, the allowed range and a did-you-mean.
"""
from __future__ import annotations

import copy
import difflib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from dsp import params as P

from .errors import ConfigError, InputError

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
    "stereo": {"width": (0.0, 2.0), "mono_below_hz": (0.0, 300.0)},
    "limiter": {"release_ms": (5.0, 1000.0)},
}
OPTIONAL = {"inherit"}


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    data: dict          # validated, complete tree
    source: str         # file it came from


# ------------------------------------------------------------------ YAML with lines
def _load_with_lines(text: str, filename: str):
    """Parse YAML; return (data, lines) where lines maps key paths to line numbers."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: dict = {}

    def build(n, path):
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            out = {}
            for k, v in n.value:
                key = k.value
                lines[path + (key,)] = k.start_mark.line + 1
                out[key] = build(v, path + (key,))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(v, path + (i,)) for i, v in enumerate(n.value)]
        return yaml.SafeLoader("").construct_object(n, deep=True)  # scalar: resolved tag

    if node is None:
        return None, lines
    return build(node, ()), lines


def _fmt_path(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (("." if out else "") + str(p))
    return out


def _validate(data, lines, filename, schema=SCHEMA, partial=False):
    errors = []

    def err(path, msg):
        line = lines.get(path) or lines.get(path[:-1]) or 1
        errors.append(f"{filename}:{line}: {_fmt_path(path)}: {msg}")

    def number(path, v, rng):
        if isinstance(v, bool) or not isinstance(v, _NUM):
            err(path, f"expected a number in {rng[0]:g}..{rng[1]:g}, got {v!r}")
            return
        if not (rng[0] <= float(v) <= rng[1]) or v != v:
            err(path, f"{v!r} is out of range; allowed {rng[0]:g}..{rng[1]:g}")

    def walk(node, sch, path):
        if not isinstance(node, dict):
            err(path, f"expected a mapping of keys, got {type(node).__name__}")
            return
        for key in node:
            if key not in sch:
                close = difflib.get_close_matches(str(key), list(sch), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else \
                    f"; allowed keys: {', '.join(sch)}"
                err(path + (key,), f"unknown key{hint}")
        for key, spec in sch.items():
            p = path + (key,)
            if key not in node:
                if not partial and not (path == () and key in OPTIONAL):
                    err(p, "missing")
                continue
            v = node[key]
            if spec is str:
                if not isinstance(v, str) or not v.strip():
                    err(p, f"expected text, got {v!r}")
            elif isinstance(spec, dict):
                walk(v, spec, p)
            elif spec[0] == "list":
                _, count, rng = spec
                if not isinstance(v, list) or len(v) != count:
                    err(p, f"expected a list of {count} numbers in {rng[0]:g}..{rng[1]:g}")
                else:
                    for i, item in enumerate(v):
                        number(p + (i,), item, rng)
            elif spec[0] == "bands":
                _, count, bsch = spec
                if not isinstance(v, list) or len(v) != count:
                    err(p, f"expected a list of {count} bands")
                else:
                    for i, item in enumerate(v):
                        walk(item, bsch, p + (i,))
            else:
                number(p, v, spec)

    walk(data, schema, ())
    return errors


def _check_filters(data, lines, filename):
    """Settings that are each in range but together unusable or unstable."""
    errors = []
    mb = data.get("multiband", {})
    xo = mb.get("crossovers_hz")
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
    for slot in EQ_SLOTS:
        s = eq.get(slot)
        if isinstance(s, dict) and isinstance(s.get("f_hz"), _NUM) and s["f_hz"] >= 0.45 * 44100:
            line = lines.get(("eq", slot, "f_hz"), 1)
            errors.append(f"{filename}:{line}: eq.{slot}.f_hz: {s['f_hz']} Hz is too close to "
                          f"Nyquist at 44.1 kHz; allowed up to {0.45 * 44100:g}")
    return errors


def _merge(base, over):
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read(path: Path):
    text = path.read_text(encoding="utf-8")
    try:
        return _load_with_lines(text, str(path))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError([f"{path}:{line}: YAML syntax error: {problem}"]) from None


def load_presets(user_dirs=()) -> dict:
    """Built-in presets plus those in ``user_dirs`` (later ones override).

    Raises ConfigError listing every problem found in every file.
    """
    presets: dict = {}
    errors: list = []
    for path in sorted(BUILTIN_DIR.glob("*.yaml")):
        data, lines = _read(path)
        errs = _validate(data, lines, str(path)) + _check_filters(data or {}, lines, str(path))
        if errs:
            errors += errs
            continue
        presets[data["name"]] = Preset(data["name"], data["description"], data, str(path))
    for d in user_dirs:
        d = Path(d)
        if not d.is_dir():
            errors.append(f"{d}: preset directory not found")
            continue
        for path in sorted(list(d.glob("*.yaml")) + list(d.glob("*.yml"))):
            try:
                data, lines = _read(path)
            except ConfigError as e:
                errors += e.messages
                continue
            if not isinstance(data, dict):
                errors.append(f"{path}:1: expected a preset (a mapping with name, description, ...)")
                continue
            base_name = data.get("inherit")
            if base_name is not None:
                if base_name not in presets:
                    close = difflib.get_close_matches(str(base_name), list(presets), n=1)
                    hint = f"; did you mean '{close[0]}'?" if close else ""
                    errors.append(f"{path}:{lines.get(('inherit',), 1)}: inherit: unknown "
                                  f"preset '{base_name}'{hint}")
                    continue
                errs = _validate(data, lines, str(path), partial=True)
                merged = _merge(presets[base_name].data, data)
                merged.pop("inherit", None)
                if "description" not in data:
                    merged["description"] = presets[base_name].description
            else:
                errs = _validate(data, lines, str(path))
                merged = data
            errs += _check_filters(merged, lines, str(path))
            if errs:
                errors += errs
                continue
            presets[merged["name"]] = Preset(merged["name"], merged["description"], merged, str(path))
    if errors:
        raise ConfigError(errors)
    return presets


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
    close = difflib.get_close_matches(name, list(presets), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise InputError(f"unknown genre '{name}'{hint} (known: {', '.join(sorted(presets))})")


def parse_target(value) -> float:
    """A named target (stream, loud, apple, broadcast, club) or a LUFS number."""
    if isinstance(value, str) and value.strip().lower() in TARGETS_LUFS:
        return TARGETS_LUFS[value.strip().lower()]
    try:
        v = float(value)
    except (TypeError, ValueError):
        close = difflib.get_close_matches(str(value), list(TARGETS_LUFS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
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
    p[P.MONO_BELOW_HZ] = d["stereo"]["mono_below_hz"]
    p[P.LIMITER_RELEASE_MS] = d["limiter"]["release_ms"]
    return p


def default_user_dirs() -> list:
    d = os.environ.get("MASTERBOX_PRESETS_DIR")
    return [d] if d else []
