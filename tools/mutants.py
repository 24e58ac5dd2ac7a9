"""Test runner for mutation testing (``make mutants``; mutmut 2.x calls it once per mutant).

mutmut writes a mutant into the source file in place and keeps the
original beside it as ``<file>.bak``; numba then recompiles (the cache dir
is keyed on a hash of every dsp source, see ``dsp/_jit.py``).  A cold
compile of the whole chain costs ~15 s here, a single stage's kernels a few
seconds, so this runner orders the fast dsp tests to kill early:

1. the tests that exercise the mutated module (``FOCUS``, matched on the
   test id, never on line numbers; unknown modules match on their name);
2. the golden renders (``tests/mutation_golden.py``, stop at the first
   changed hash), then the chain, design, stage and meter tests;

and stops at the first failure (``pytest -x``).  Without a mutant (mutmut's
baseline run) everything runs in the default order.

    python tools/mutants.py            # what mutmut runs (see Makefile)
    python tools/mutants.py --which    # print the order for the current mutant
"""
from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# fast dsp subset: after the focus tests the golden renders, which kill most
# mutants that change sound at all (one chain compile, shared by the chain
# tests and, as numba compiles each kernel once per process, by the stage
# tests after them)
TESTS = ["tests/mutation_golden.py", "tests/test_chain.py", "tests/test_design.py",
         "tests/test_stages.py", "tests/test_meters.py"]

# mutated module -> regex on the pytest node id of the tests that see it first
FOCUS = {
    "dsp/stages/eq.py": r"test_eq_|peak_and_shelves|butterworth",
    "dsp/stages/multiband.py": r"band|compressor|gain_computer",
    "dsp/stages/stereo.py": r"width|leakage|bass_below",
    "dsp/stages/limiter.py": r"sliding_min|box_average|delay_line|limiter_gain",
    "dsp/stages/leveler.py": r"leveler",
    "dsp/stages/meters.py": r"test_meters",
    "dsp/stages/guard.py": r"nan_inf|silence",
    "dsp/stages/mix.py": r"intensity_zero|bypass|click_free",
    "dsp/truepeak.py": r"oversampler|parabola|limiter_gain|true_peak",
    "dsp/biquad.py": r"test_eq_|each_band|band_sum",
    "dsp/units.py": r"test_meters|leveler",
    "dsp/design.py": r"test_design",
    "dsp/meters.py": r"test_meters",
}


def mutated_files() -> list[str]:
    """Sources with a ``.bak`` beside them: mutmut's mutant in place."""
    return sorted(str(p.with_suffix("").relative_to(ROOT)) for p in (ROOT / "dsp").rglob("*.py.bak"))


def focus_regex(files: list[str]) -> str | None:
    pats = [FOCUS.get(f, re.escape(Path(f).stem)) for f in files]
    return "|".join(f"(?:{p})" for p in pats) if pats else None


class Order:
    """pytest plugin: focus tests first, then file order of TESTS."""

    def __init__(self, regex: str | None):
        self.rx = re.compile(regex) if regex else None

    def pytest_collection_modifyitems(self, session, config, items):
        def key(it):
            f = it.nodeid.split("::")[0]
            rank = TESTS.index(f) if f in TESTS else len(TESTS)
            return (0 if self.rx and self.rx.search(it.nodeid) else 1, rank)
        items.sort(key=key)     # stable: keeps each file's own order


def main(argv: list[str]) -> int:
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))          # the dsp/ being mutated, not an installed copy
    files = mutated_files()
    rx = focus_regex(files)
    if "--which" in argv:
        print("mutated:", files or "none (baseline)", "focus:", rx)
    import pytest
    args = ["-x", "-q", "-p", "no:cacheprovider", "--no-header", *TESTS]
    if "--which" in argv:
        args.append("--collect-only")
    rc = int(pytest.main(args, plugins=[Order(rx)]))
    if files and "dsp._jit" in sys.modules:
        # a mutant's numba cache (keyed on its source hash) is never hit again
        d = sys.modules["dsp._jit"].CACHE_DIR
        if d:
            shutil.rmtree(d, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
