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

Views are *borrowed*: ``region`` builds the array struct itself, without a
reference to the arena's memory (no NRT meminfo).  An ordinary slice carries
one, and numba then counts references on every assignment: each helper
inlined into a sample loop increfs and decrefs its array arguments, an
atomic out-of-line call that also forces the loop's registers to the stack
(measured: the limiter ran 2x slower than the same arithmetic without).
A borrowed view is only valid while the arena is: kernels use them inside
the call and never return or store them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from ._jit import helper


@dataclass(frozen=True)
class Region:
    name: str
    size: int
    integer: bool = False


@intrinsic
def _borrow(typingctx, arena, offset, size):
    """``arena[offset:offset + size]`` (1-D, C-contiguous) without a
    reference count: the view's meminfo is NULL, so numba's increfs and
    decrefs of it do nothing.  No bounds check (the layout is checked when
    the arena is built)."""
    if not (isinstance(arena, types.Array) and arena.ndim == 1 and arena.layout == "C"):
        return None
    sig = arena(arena, types.intp, types.intp)

    def codegen(context, builder, sig, args):
        src = make_array(sig.args[0])(context, builder, args[0])
        out = make_array(sig.return_type)(context, builder)
        populate_array(out, data=builder.gep(src.data, [args[1]]),
                       shape=cgutils.pack_array(builder, [args[2]]),
                       strides=cgutils.pack_array(builder, [src.itemsize]),
                       itemsize=src.itemsize, meminfo=None)
        return out._getvalue()

    return sig, codegen


@intrinsic
def borrow(typingctx, arr):
    """The same array without its reference count (NULL meminfo), for a
    kernel to hand its arguments down: valid while the caller's array is."""
    if not isinstance(arr, types.Array):
        return None
    sig = arr(arr)

    def codegen(context, builder, sig, args):
        src = make_array(sig.args[0])(context, builder, args[0])
        out = make_array(sig.return_type)(context, builder)
        populate_array(out, data=src.data, shape=src.shape, strides=src.strides,
                       itemsize=src.itemsize, meminfo=None)
        return out._getvalue()

    return sig, codegen


@intrinsic
def _borrow_rows(typingctx, arena, offset, rows, cols):
    """``arena[offset:offset + rows * cols]`` as a borrowed (rows, cols)
    C-contiguous array (see ``_borrow``)."""
    if not (isinstance(arena, types.Array) and arena.ndim == 1 and arena.layout == "C"):
        return None
    sig = arena.copy(ndim=2)(arena, types.intp, types.intp, types.intp)

    def codegen(context, builder, sig, args):
        src = make_array(sig.args[0])(context, builder, args[0])
        out = make_array(sig.return_type)(context, builder)
        _, _, rows, cols = args
        populate_array(out, data=builder.gep(src.data, [args[1]]),
                       shape=cgutils.pack_array(builder, [rows, cols]),
                       strides=cgutils.pack_array(builder, [builder.mul(cols, src.itemsize),
                                                            src.itemsize]),
                       itemsize=src.itemsize, meminfo=None)
        return out._getvalue()

    return sig, codegen


@helper
def region(arena, lay, r):
    """1-D borrowed view of region ``r`` (global number) of ``arena``."""
    return _borrow(arena, lay[2 * r], lay[2 * r + 1])


@helper
def region_rows(arena, lay, r, cols):
    """Borrowed (size // cols, cols) view of region ``r`` of ``arena``."""
    return _borrow_rows(arena, lay[2 * r], lay[2 * r + 1] // cols, cols)


class Arena:
    """Both arenas and the layout table for an ordered set of stage instances.

    ``instances``: ``[(instance_name, [Region, ...]), ...]`` in chain order.
    The layout table ``lay`` is the head of the int arena ``i`` (one array
    less for a kernel call to unbox: ``lay`` and ``ia`` may be the same
    array); int regions follow it.
    """

    def __init__(self, instances):
        self.base = {}
        self._names = {}
        rows = []                       # (offset, size, integer)
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
                    rows.append((off_i, reg.size, True))
                    off_i += reg.size
                else:
                    rows.append((off_f, reg.size, False))
                    off_f += reg.size
        n_lay = 2 * len(rows)
        self._n_lay = n_lay
        self.f = np.zeros(off_f)
        self.i = np.zeros(n_lay + off_i, dtype=np.int64)
        self.lay = self.i[:n_lay]
        for r, (o, size, integer) in enumerate(rows):
            self.lay[2 * r] = o + n_lay if integer else o
            self.lay[2 * r + 1] = size

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
        """Zero all state (the layout table stays)."""
        self.f[:] = 0.0
        self.i[self._n_lay:] = 0
