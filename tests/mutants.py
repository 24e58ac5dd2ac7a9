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

    python tests/mutants.py            # what mutmut runs (see Makefile)
    python tests/mutants.py --which    # print the order for the current mutant

A full run over the dsp logic files is ~1000 mutants, far more than an
hour on a shared 2-core machine, so ``--campaign`` (``make mutants``)
registers every mutant in mutmut's ``.mutmut-cache``, times the baseline,
then checks random untested mutants round-robin over the files (``--sample
N`` per file, 0 = all) with ``mutmut run <id>`` until ``--budget-min``
minutes are spent, and prints per-file counts.  Re-running continues with
the mutants still untested; ``mutmut results`` / ``mutmut show <id>`` list
and show them:

    python tests/mutants.py --campaign --files dsp/stages/limiter.py,... \
        --types operator,keyword,and_test,or_test --sample 0 --budget-min 55
    python tests/mutants.py --report
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
         "tests/test_stages.py", "tests/test_meters.py", "tests/test_leveler_moments.py",
         "tests/test_tone_adaptive.py", "tests/test_ab_switch.py"]

# mutated module -> regex on the pytest node id of the tests that see it first
FOCUS = {
    "dsp/stages/eq.py": r"test_eq_|peak_and_shelves|butterworth",
    "dsp/stages/multiband.py": r"band|compressor|gain_computer",
    "dsp/stages/stereo.py": r"width|leakage|bass_below|mono_bass|side_passes|correlation_meter",
    "dsp/stages/limiter.py": r"sliding_min|box_average|delay_line|limiter_gain",
    "dsp/stages/leveler.py": r"leveler|pause|programme|talk|song|wind_up|quiet|trim|more_crest",
    "dsp/stages/meters.py": r"test_meters",
    "dsp/stages/guard.py": r"nan_inf|silence",
    "dsp/stages/mix.py": r"intensity_zero|bypass|click_free|test_ab_switch",
    "dsp/stages/tone.py": r"test_tone_adaptive",
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


def _db_rows(where: str = "1"):
    import sqlite3
    db = sqlite3.connect(".mutmut-cache")
    rows = db.execute("select m.id, s.filename, m.status from Mutant m join Line l on m.line = l.id "
                      "join SourceFile s on l.sourcefile = s.id where " + where +
                      " order by m.id").fetchall()
    db.close()
    return rows


def register(files: list[str], types: set[str]) -> None:
    """Put every mutant of ``files`` into ``.mutmut-cache`` as untested
    (what ``mutmut run`` does before it starts), without running any."""
    import mutmut
    from mutmut.cache import register_mutants, update_line_numbers

    class Cfg:                      # the fields mutmut's Context reads
        mutation_types_to_apply = types
        covered_lines_by_filename = None
        coverage_data = None

    for f in files:
        update_line_numbers(f)
        by_file: dict = {}
        mutmut.add_mutations_by_file(by_file, f, [], Cfg())


def baseline(runner: str) -> None:
    """Time the unmutated run once (mutmut's timeout is based on it)."""
    import subprocess
    import time
    from mutmut.cache import hash_of_tests, set_cached_test_time
    t = time.time()
    subprocess.run(runner, shell=True, check=True, stdout=subprocess.DEVNULL)
    set_cached_test_time(time.time() - t, hash_of_tests(["tests"]))


def sample(n: int, seed: int, budget_s: float, opts: list[str]) -> None:
    """Check up to ``n`` random untested mutants per file (all if n <= 0),
    round-robin over the files, each with ``mutmut run <id>``; start no
    new mutant after ``budget_s`` seconds."""
    import random
    import subprocess
    import time
    by_file: dict[str, list[int]] = {}
    for pk, fn, _ in _db_rows("m.status = 'untested'"):
        by_file.setdefault(fn, []).append(pk)
    rng = random.Random(seed)
    picks = [rng.sample(ids, len(ids) if n <= 0 else min(n, len(ids))) for ids in by_file.values()]
    order = [p[k] for k in range(max(map(len, picks), default=0)) for p in picks if k < len(p)]
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    print(f"checking {len(order)} mutants over {len(by_file)} files", flush=True)
    t0 = time.time()
    for pk in order:
        if time.time() - t0 > budget_s:
            print("time budget spent: the rest stays untested", flush=True)
            break
        subprocess.run([mutmut, "run", str(pk), "--paths-to-mutate", "dsp", *opts],
                       stdout=subprocess.DEVNULL)


def report() -> None:
    """Per-file counts from ``.mutmut-cache``."""
    from collections import Counter
    per: dict[str, Counter] = {}
    for _, fn, st in _db_rows():
        per.setdefault(fn, Counter())[st] += 1
    print(f"{'file':28s} {'killed':>6s} {'timeout':>7s} {'survived':>8s} {'untested':>8s}")
    for fn, c in per.items():
        k, t, s = c["ok_killed"], c["bad_timeout"] + c["ok_suspicious"], c["bad_survived"]
        print(f"{fn:28s} {k:6d} {t:7d} {s:8d} {c['untested']:8d}")


def restore_originals() -> list[str]:
    """Put back every original mutmut left beside its mutant (``.py.bak``):
    an interrupted run leaves the last mutant in dsp/ (tests/conftest.py
    refuses to run on such a tree)."""
    done = []
    for bak in sorted((ROOT / "dsp").rglob("*.py.bak")):
        os.replace(bak, bak.with_suffix(""))
        done.append(str(bak.with_suffix("").relative_to(ROOT)))
    return done


def campaign(argv: list[str]) -> int:
    """``make mutants``: register, time the baseline, check a sample, report.
    Restores any mutant left in place, before and after (also when stopped
    by SIGTERM/SIGHUP/Ctrl-C)."""
    import signal

    def opt(name, default):
        return argv[argv.index(name) + 1] if name in argv else default
    os.chdir(ROOT)
    for f in restore_originals():
        print(f"{f}: restored the original (a mutant was left in place by an interrupted run)")

    def stop(signum, _frame):
        raise SystemExit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, stop)
    try:
        return _campaign(argv, opt)
    finally:
        for f in restore_originals():
            print(f"{f}: restored the original (run stopped while its mutant was in place)")


def _campaign(argv, opt) -> int:
    files = [f for f in opt("--files", ",".join(FOCUS)).split(",") if f]
    types = set(opt("--types", "operator,keyword,and_test,or_test").split(","))
    runner = f"{sys.executable} {Path(__file__).resolve()}"
    mm_opts = ["--runner", runner, "--tests-dir", "tests", "--test-time-multiplier", "2",
               "--test-time-base", "30", "--simple-output", "--no-progress"]
    register(files, types)
    baseline(runner)
    sample(int(opt("--sample", "0")), int(opt("--seed", "8")), 60.0 * float(opt("--budget-min", "55")),
           mm_opts)
    report()
    return 0


def main(argv: list[str]) -> int:
    if "--campaign" in argv:
        return campaign(argv)
    if "--report" in argv:
        os.chdir(ROOT)
        report()
        return 0
    os.chdir(ROOT)
    os.environ["MASTERBOX_MUTANT_RUN"] = "1"      # tests/conftest.py: the .bak is expected
    # a mutant that indexes past a region (e.g. an int region declared
    # float) reads other memory in nopython code: make that an IndexError,
    # not undefined behaviour that may pass or hang
    os.environ.setdefault("NUMBA_BOUNDSCHECK", "1")
    # masterbox.dsp is this checkout's dsp/ (the editable install): the
    # files being mutated, not an installed copy
    files = mutated_files()
    rx = focus_regex(files)
    if "--which" in argv:
        print("mutated:", files or "none (baseline)", "focus:", rx)
    import pytest
    args = ["-x", "-q", "-p", "no:cacheprovider", "--no-header", *TESTS]
    if "--which" in argv:
        args.append("--collect-only")
    rc = int(pytest.main(args, plugins=[Order(rx)]))
    if files and "masterbox.dsp._jit" in sys.modules:
        # a mutant's numba cache (keyed on its source hash) is never hit again
        d = sys.modules["masterbox.dsp._jit"].CACHE_DIR
        if d:
            shutil.rmtree(d, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
