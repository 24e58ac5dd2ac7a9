"""One place that decides how kernels are compiled and cached.

Kernels are ``@njit(cache=True, nogil=True)``.  Two numba cache facts shape
this module:

* numba invalidates a cached function only when *its own* source file
  changes; ``chain_block`` links every kernel from other files, so an edited
  kernel would keep running stale inside a cached chain.  We therefore cache
  into a directory keyed by a hash of all ``dsp/*.py`` sources and of the
  package's import name (``masterbox.dsp``): a cached entry names its module
  and loading it imports that module, so a cache written when the package was
  the top-level ``dsp`` (before issue 11) must never be found by
  ``masterbox.dsp``; it failed with "No module named 'dsp'".
* ``cache=True`` needs a writable directory; with none, decorating raises at
  import ("no locator available").  The box must still start (slower,
  compiling in memory), so we probe and fall back to ``cache=False``.

Base directory: ``NUMBA_CACHE_DIR`` (systemd ``CacheDirectory=`` on the box),
else ``$XDG_CACHE_HOME/masterbox-numba``, else a temporary directory.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numba

_HERE = Path(__file__).resolve().parent


def _writable(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
        return True
    except OSError:
        return False


def _source_digest() -> str:
    h = hashlib.sha256()
    h.update(__package__.encode() + b"\0")
    for f in sorted(_HERE.rglob("*.py")):
        h.update(str(f.relative_to(_HERE)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _choose_cache_dir():
    candidates = []
    if os.environ.get("NUMBA_CACHE_DIR"):
        candidates.append(os.environ["NUMBA_CACHE_DIR"])
    candidates.append(os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                                   "masterbox-numba"))
    candidates.append(os.path.join(tempfile.gettempdir(), f"masterbox-numba-{os.getuid()}"))
    digest = _source_digest()
    for base in candidates:
        d = os.path.join(base, digest)
        if _writable(d):
            return d
    return None


CACHE_DIR = _choose_cache_dir()
CACHE_ENABLED = CACHE_DIR is not None
if CACHE_ENABLED:
    numba.config.CACHE_DIR = CACHE_DIR


def kernel(fn):
    """Decorate a per-block kernel: nopython, GIL released, cached when possible.

    fastmath stays off on purpose: reassociation would make results depend on
    loop trip counts (block size) and on the CPU, breaking streaming == batch
    and x86 == arm64 bit identity.
    """
    return numba.njit(cache=CACHE_ENABLED, nogil=True)(fn)


def helper(fn):
    """Decorate a small per-sample helper (a biquad tick, an index, a
    sub-kernel step): like ``kernel``, and inlined into its caller at numba's
    IR level.  Measured: left to LLVM, calls across these small functions
    were not inlined and cost the chain 2-3x its time per frame."""
    return numba.njit(cache=CACHE_ENABLED, nogil=True, inline="always")(fn)
