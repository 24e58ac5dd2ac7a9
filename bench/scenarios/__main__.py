"""`make scenarios`: python -m bench.scenarios [--out DIR] [--strict] [--only NAME ...]"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.scenarios",
                                 description="Live-moment scenarios of issue 9: render, measure, "
                                             "plot, and judge every bar.")
    ap.add_argument("--out", default=str(ROOT / "docs" / "scenarios"))
    ap.add_argument("--music", default=None, help="get-dev-music.sh directory "
                                                  "(default ~/.cache/masterbox-music)")
    ap.add_argument("--only", nargs="*", default=(), help="scenario names or kinds")
    ap.add_argument("--no-dev-set", action="store_true", help="skip the 12 dev-set renders")
    ap.add_argument("--intensity", type=float, default=5.0)
    ap.add_argument("--target", type=float, default=-14.0)
    ap.add_argument("--ceiling", type=float, default=-1.0)
    ap.add_argument("--before", default=None,
                    help="results.json of an earlier run, shown as a 'before' column "
                         "(default: OUT/before.json if present)")
    ap.add_argument("--before-traces", default=None,
                    help="traces.npz of an earlier run, drawn dashed in the plots "
                         "(default: OUT/before_traces.npz if present)")
    ap.add_argument("--strict", action="store_true", help="exit 1 if any bar fails")
    a = ap.parse_args(argv)
    from bench.scenarios.run import run_all
    from bench.scenarios.sources import MissingMaterial
    try:
        before = a.before or Path(a.out) / "before.json"
        bars = run_all(Path(a.out), a.music, tuple(a.only), a.intensity, a.target, a.ceiling,
                       with_dev_set=not a.no_dev_set, before_json=before,
                       before_traces=a.before_traces or Path(a.out) / "before_traces.npz")
    except MissingMaterial as e:
        print(f"scenarios: {e}", file=sys.stderr)
        return 2
    failed = [b for b in bars if not b.ok]
    return 1 if (a.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
