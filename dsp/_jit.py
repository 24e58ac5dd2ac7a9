"""One place that decides how kernels are compiled.

Kernels are ``@njit(cache=True, nogil=True)``.  numba's on-disk cache needs a
writable directory; with none, decorating a ``cache=True`` function raises at
import ("no locator available").  The box must still start (slower, compiling
in memory), so we probe once and fall back to ``cache=False``.
"""
from __future__ import annotations

import os
import tempfile

import numba


def _writable(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
        return True
    except OSError:
        return False


def _cache_possible() -> bool:
    env_dir = os.environ.get("NUMBA_CACHE_DIR")
    if env_dir:
        return _writable(env_dir)
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")
    if _writable(here):
        return True
    # numba's user-wide locator (~/.cache/numba or XDG_CACHE_HOME)
    user_dir = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "numba")
    if _writable(user_dir):
        return True
    return False


CACHE_ENABLED = _cache_possible()


def kernel(fn):
    """Decorate a per-block kernel: nopython, GIL released, cached when possible.

    fastmath stays off on purpose: reassociation would make results depend on
    loop trip counts (block size) and on the CPU, breaking streaming == batch
    and x86 == arm64 bit identity.
    """
    return numba.njit(cache=CACHE_ENABLED, nogil=True)(fn)
