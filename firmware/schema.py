"""YAML with line numbers, and a small schema validator that reports every
error at once as ``file:line: key.path: message`` with ranges and
did-you-mean (after mopidy's config schemas and CamillaDSP's
validate_config).

Spec forms:
    str                          non-empty text
    bool                         true / false
    (lo, hi)                     a number in [lo, hi]
    ("choice", (a, b, ...))      one of the values
    ("list", n, (lo, hi))        exactly n numbers in range
    ("strlist",)                 a list of texts
    ("any",)                     anything (checked by the caller)
    ("bands", n, {schema})       exactly n mappings, each validated
    {key: spec, ...}             a nested mapping
"""
from __future__ import annotations

import copy
import difflib

import yaml

from .errors import ConfigError

_NUM = (int, float)


def load_yaml_with_lines(text: str, filename: str):
    """Parse YAML; return (data, lines): lines maps key paths to line numbers.

    Raises ConfigError with the line of a syntax error.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError([f"{filename}:{line}: YAML syntax error: {problem}"]) from None
    lines: dict = {}
    constructor = yaml.SafeLoader("")

    def build(n, path):
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            out = {}
            for k, v in n.value:
                lines[path + (k.value,)] = k.start_mark.line + 1
                out[k.value] = build(v, path + (k.value,))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(v, path + (i,)) for i, v in enumerate(n.value)]
        return constructor.construct_object(n, deep=True)   # a scalar, tag resolved

    if node is None:
        return None, lines
    return build(node, ()), lines


def fmt_path(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (("." if out else "") + str(p))
    return out


def did_you_mean(word, options) -> str:
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


class Report:
    """Collects ``file:line: path: message`` lines."""

    def __init__(self, filename: str, lines: dict):
        self.filename = filename
        self.lines = lines
        self.errors: list = []

    def line_of(self, path) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def add(self, path, msg) -> None:
        self.errors.append(f"{self.filename}:{self.line_of(tuple(path))}: {fmt_path(path)}: {msg}")


def validate(data, schema: dict, report: Report, optional=(), partial=False) -> None:
    """Check ``data`` against ``schema``; add every problem to ``report``.

    ``optional``: top-level keys that may be missing; ``partial``: every key
    may be missing (an override of something complete).
    """
    def number(path, v, rng):
        if isinstance(v, bool) or not isinstance(v, _NUM):
            report.add(path, f"expected a number in {rng[0]:g}..{rng[1]:g}, got {v!r}")
        elif v != v or not (rng[0] <= float(v) <= rng[1]):
            report.add(path, f"{v!r} is out of range; allowed {rng[0]:g}..{rng[1]:g}")

    def walk(node, sch, path, top):
        if not isinstance(node, dict):
            report.add(path, f"expected a mapping of keys, got {type(node).__name__}")
            return
        for key in node:
            if key not in sch:
                hint = did_you_mean(key, sch) or f"; allowed keys: {', '.join(map(str, sch))}"
                report.add(path + (key,), f"unknown key{hint}")
        for key, spec in sch.items():
            p = path + (key,)
            if key not in node:
                if not partial and not (top and key in optional):
                    report.add(p, "missing")
                continue
            check(node[key], spec, p)

    def check(v, spec, p):
        if spec is str:
            if not isinstance(v, str) or not v.strip():
                report.add(p, f"expected text, got {v!r}")
        elif spec is bool:
            if not isinstance(v, bool):
                report.add(p, f"expected true or false, got {v!r}")
        elif isinstance(spec, dict):
            walk(v, spec, p, False)
        elif spec[0] == "any":
            pass
        elif spec[0] == "choice":
            if v not in spec[1] or isinstance(v, bool):
                report.add(p, f"{v!r} is not allowed; choose one of "
                              f"{', '.join(map(str, spec[1]))}{did_you_mean(v, spec[1])}")
        elif spec[0] == "strlist":
            if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
                report.add(p, "expected a list of texts")
        elif spec[0] == "list":
            _, count, rng = spec
            if not isinstance(v, list) or len(v) != count:
                report.add(p, f"expected a list of {count} numbers in {rng[0]:g}..{rng[1]:g}")
            else:
                for i, item in enumerate(v):
                    number(p + (i,), item, rng)
        elif spec[0] == "bands":
            _, count, bsch = spec
            if not isinstance(v, list) or len(v) != count:
                report.add(p, f"expected a list of {count} bands")
            else:
                for i, item in enumerate(v):
                    walk(item, bsch, p + (i,), False)
        else:
            number(p, v, spec)

    walk(data, schema, (), True)


def merge(base: dict, over: dict) -> dict:
    """``base`` with ``over`` laid on top, mappings merged key by key."""
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out
