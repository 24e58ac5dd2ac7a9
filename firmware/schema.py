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


MAX_FILE_BYTES = 1 << 20        # 1 MiB: configs and presets are a few hundred bytes
MAX_DEPTH = 32                  # nesting of mappings/lists (after alias expansion)
MAX_NODES = 20000               # values after alias expansion (billion laughs)
MAX_NUMBER_CHARS = 64           # a longer "number" is a mistake (and int() refuses 4300+ digits)
_SCALAR_TAGS = {"tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null",
                                                   "timestamp")}


def _line_of_offset(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def read_text(path, what: str = "file", max_bytes: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a small regular file, or ConfigError with one
    ``file:line: message``.  Never blocks (FIFOs, devices are refused),
    never reads more than ``max_bytes`` + 1, reports encoding errors with
    their line."""
    import errno
    import os
    import stat
    name = str(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        reason = {errno.ENOENT: "not found", errno.ELOOP: "symlink loop",
                  errno.EACCES: "permission denied", errno.EISDIR: "is a directory",
                  errno.ENOTDIR: "a part of the path is not a directory",
                  errno.EMFILE: "too many open files", errno.ENFILE: "too many open files",
                  }.get(e.errno, e.strerror or str(e))
        raise ConfigError([f"{name}:1: cannot read the {what}: {reason}"]) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError([f"{name}:1: cannot read the {what}: is a directory"])
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError([f"{name}:1: cannot read the {what}: not a regular file"])
        if st.st_size > max_bytes:
            raise ConfigError([f"{name}:1: the {what} is {st.st_size} bytes; "
                               f"at most {max_bytes} are accepted"])
        chunks, total = [], 0
        while total <= max_bytes:
            b = os.read(fd, min(65536, max_bytes + 1 - total))
            if not b:
                break
            chunks.append(b)
            total += len(b)
        data = b"".join(chunks)
    except OSError as e:
        raise ConfigError([f"{name}:1: cannot read the {what}: {e.strerror or e}"]) from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ConfigError([f"{name}:1: the {what} is larger than {max_bytes} bytes"])
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError([f"{name}:1: the {what} is UTF-16 text; save it as UTF-8"])
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    nul = data.find(b"\0")
    if nul >= 0:
        raise ConfigError([f"{name}:{_line_of_offset(data, nul)}: the {what} is binary "
                           f"(a NUL byte), not text"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = _line_of_offset(data, e.start)
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError([f"{name}:{line}: the {what} is not UTF-8 text (byte "
                           f"0x{data[e.start]:02x} at column {col}); save it as UTF-8"]) from None


def load_yaml_file(path, what: str = "file"):
    """``read_text`` + ``load_yaml_with_lines``: every failure a ConfigError."""
    return load_yaml_with_lines(read_text(path, what), str(path))


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer refuses nesting deeper than MAX_DEPTH (the
    composer recurses per level: a file of 10^5 '[' would exhaust the stack)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.MarkedYAMLError(problem=f"nested deeper than {MAX_DEPTH} levels",
                                           problem_mark=mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml_with_lines(text: str, filename: str):
    """Parse YAML; return (data, lines): lines maps key paths to line numbers.

    Raises ConfigError ``file:line: message`` for every way the text can be
    unusable: syntax, nesting deeper than MAX_DEPTH, more than MAX_NODES
    values after alias expansion (recursive aliases, "billion laughs"),
    tags other than YAML's plain scalars, non-text keys, duplicate keys,
    absurdly long numbers.
    """
    def fail(line, msg):
        raise ConfigError([f"{filename}:{line}: {msg}"])

    try:
        loader = _BoundedLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(e, "problem", None) or (str(e).splitlines() or ["?"])[0]
        fail(line, f"YAML syntax error: {problem}")
    except RecursionError:
        fail(1, f"YAML nested too deeply (more than {MAX_DEPTH} levels)")
    lines: dict = {}
    constructor = yaml.SafeLoader("")
    count = [0]

    def build(n, path, depth):
        line = n.start_mark.line + 1
        count[0] += 1
        if count[0] > MAX_NODES:
            fail(line, f"more than {MAX_NODES} values once aliases are expanded "
                       f"(an alias bomb?)")
        if depth > MAX_DEPTH:
            fail(line, f"nested deeper than {MAX_DEPTH} levels (a recursive alias?)")
        lines.setdefault(path, line)
        if isinstance(n, yaml.MappingNode):
            if n.tag != "tag:yaml.org,2002:map":
                fail(line, f"unsupported tag {n.tag} on a mapping")
            out = {}
            for k, v in n.value:
                kline = k.start_mark.line + 1
                if not isinstance(k, yaml.ScalarNode):
                    fail(kline, "a key must be plain text, not a list or mapping")
                if k.tag == "tag:yaml.org,2002:merge":
                    fail(kline, "merge keys (<<) are not supported")
                if k.value in out:
                    fail(kline, f"{fmt_path(path + (k.value,))}: duplicate key")
                lines[path + (k.value,)] = kline
                out[k.value] = build(v, path + (k.value,), depth + 1)
            return out
        if isinstance(n, yaml.SequenceNode):
            if n.tag != "tag:yaml.org,2002:seq":
                fail(line, f"unsupported tag {n.tag} on a list")
            return [build(v, path + (i,), depth + 1) for i, v in enumerate(n.value)]
        if n.tag not in _SCALAR_TAGS:
            fail(line, f"unknown or unsupported tag {n.tag!s}".replace("tag:yaml.org,2002:", "!!"))
        if n.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") \
                and len(n.value) > MAX_NUMBER_CHARS:
            fail(line, f"a number of {len(n.value)} characters; at most {MAX_NUMBER_CHARS}")
        try:
            return constructor.construct_object(n, deep=True)   # a scalar, tag resolved
        except (yaml.YAMLError, ValueError, OverflowError) as e:
            fail(line, f"cannot read the value: {(str(e).splitlines() or ['?'])[0][:120]}")

    if node is None:
        return None, lines
    return build(node, (), 0), lines


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
        self.bad_paths: list = []      # key paths with a problem (tuples)

    def line_of(self, path) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def add(self, path, msg) -> None:
        self.bad_paths.append(tuple(path))
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
