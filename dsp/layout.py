"""Arena layout: stages declare named regions, the chain packs them.

A stage module declares its regions as an ordered list of ``Region``s
(float regions first, then int regions); region *numbers* are module
constants of the stage (``ST, XS, ... = range(...)``), region *sizes* may
depend on the sample rate.  The chain lays every stage instance's regions
end to end in one float64 and one int64 arena and records (offset, size)
pairs in ``lay``; a stage kernel gets the arenas, ``lay`` and its instance's
first region number ``base`` and takes 1-D views with ``region``.  Views are
1-D on purpose: a numba reshape costs ~70 ns, a 1-D slice next to nothing,
and the audio block's fixed cost is what is left of a 2.7 ms budget.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._jit import helper, kernel


@dataclass(frozen=True)
class Region:
    name: str
    size: int
    integer: bool = False


@helper
def region(arena, lay, r):
    """1-D view of region ``r`` (global number) of ``arena``."""
    o = lay[2 * r]
    return arena[o:o + lay[2 * r + 1]]


class Arena:
    """Both arenas and the layout table for an ordered set of stage instances.

    ``instances``: ``[(instance_name, [Region, ...]), ...]`` in chain order.
    """

    def __init__(self, instances):
        self.base = {}
        self._names = {}
        rows = []
        off_f = 0
        off_i = 0
        for inst, regions in instances:
            self.base[inst] = len(rows)
            seen_int = False
            for k, reg in enumerate(regions):
                if reg.size < 0:
                    raise ValueError(f"{inst}.{reg.name}: negative size")
                if seen_int and not reg.integer:
                    raise ValueError(f"{inst}: float region {reg.name} after an int region")
                seen_int = seen_int or reg.integer
                self._names[(inst, reg.name)] = (len(rows), reg.integer)
                if reg.integer:
                    rows.append((off_i, reg.size))
                    off_i += reg.size
                else:
                    rows.append((off_f, reg.size))
                    off_f += reg.size
        self.lay = np.array(rows, dtype=np.int64).ravel()
        self.f = np.zeros(off_f)
        self.i = np.zeros(max(off_i, 1), dtype=np.int64)

    @staticmethod
    def bases(instances) -> dict:
        """First region number of each instance (without allocating)."""
        out = {}
        k = 0
        for inst, regions in instances:
            out[inst] = k
            k += len(regions)
        return out

    def view(self, inst: str, name: str) -> np.ndarray:
        r, integer = self._names[(inst, name)]
        o, s = int(self.lay[2 * r]), int(self.lay[2 * r + 1])
        return (self.i if integer else self.f)[o:o + s]

    def views(self, inst: str):
        """``name -> view`` accessor for one stage instance (Python side)."""
        return lambda name: self.view(inst, name)

    def clear(self) -> None:
        self.f[:] = 0.0
        self.i[:] = 0
