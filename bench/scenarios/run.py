"""Render scenarios, measure them, evaluate the bars, write the report."""
from __future__ import annotations

import json
import math
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import bars as B
from .builders import Scenario
from .chain_adapter import Rendered, render_with_traces
from .loudness import CrossCheck, MeterTrace, meter_trace, seg, true_peak_8x_dbtp

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    sc: Scenario
    r: Rendered
    m_in: MeterTrace
    m_out: MeterTrace
    intensity: float
    bars: list = field(default_factory=list)
    tp_8x_dbtp: float = math.nan


def run_scenario(sc: Scenario, cc: CrossCheck, intensity=5.0, target_lufs=-14.0,
                 ceiling_dbtp=-1.0) -> Result:
    r = render_with_traces(sc.x, sc.fs, sc.genre, intensity, target_lufs, ceiling_dbtp)
    res = Result(sc, r, meter_trace(sc.x, sc.fs), meter_trace(r.y, sc.fs), intensity)
    # whole-signal cross-check of our meter against pyloudnorm, both sides
    cc.compare(f"{sc.name}: in", sc.x, sc.fs)
    cc.compare(f"{sc.name}: out", r.y, sc.fs)
    res.bars = B.evaluate(res, target_lufs, cc)
    res.tp_8x_dbtp = true_peak_8x_dbtp(r.y)
    return res


# ---------------------------------------------------------------- suite-wide bars
def dev_set_loudness(src: dict, cc: CrossCheck, intensity=5.0, target_lufs=-14.0,
                     ceiling_dbtp=-1.0, genre="pop"):
    """Every development track (mastered and unmastered) rendered on its own;
    integrated loudness after the first 10 s (the leveler's acquisition, as in
    ``make report``), by pyloudnorm and by our meter."""
    from .loudness import pyloudnorm_lufs
    rows = []
    for key in sorted(k for k in src if k.startswith(("mastered/", "unmastered/"))):
        x = src[key]
        fs = 48000
        r = render_with_traces(x, fs, genre, intensity, target_lufs, ceiling_dbtp)
        tail = r.y[10 * fs:]
        ours = cc.compare(f"dev set {key}: out after 10 s", tail, fs)
        rows.append({"track": key, "pyloudnorm_lufs": pyloudnorm_lufs(tail, fs), "ours_lufs": ours,
                     "tp_8x_dbtp": true_peak_8x_dbtp(r.y)})
    err = np.array([abs(r["pyloudnorm_lufs"] - target_lufs) for r in rows])
    worst = rows[int(np.argmax(err))]["track"]
    bars = [
        B._le("integrated loudness error, mean abs", "dev_set", float(err.mean()), 0.5, " LU",
              f"{len(rows)} tracks ({genre}), pyloudnorm after 10 s"),
        B._le("integrated loudness error, worst", "dev_set", float(err.max()), 1.0, " LU",
              f"worst: {worst}"),
    ]
    return bars, rows


def identity_checks(sc: Scenario, target_lufs=-14.0, ceiling_dbtp=-1.0, t0_s=15.0, dur_s=20.0):
    """live == render (block 128 vs 512, bit for bit) and intensity 0 bit-exact,
    on ``dur_s`` of a scenario from ``t0_s``."""
    x = np.ascontiguousarray(seg(sc.x, sc.fs, t0_s, t0_s + dur_s))
    a = render_with_traces(x, sc.fs, sc.genre, 5.0, target_lufs, ceiling_dbtp, block=512).y
    b = render_with_traces(x, sc.fs, sc.genre, 5.0, target_lufs, ceiling_dbtp, block=128).y
    z = render_with_traces(x, sc.fs, sc.genre, 0.0, target_lufs, ceiling_dbtp).y
    d_live = float(np.abs(a.astype(np.float64) - b).max())
    d_zero = float(np.abs(z.astype(np.float64) - x).max())
    src = f"{dur_s:g} s of {sc.name} from {t0_s:g} s"
    return [B._le("live == render (block 128 vs 512), max abs difference", "identity", d_live, 0.0,
                  "", src),
            B._le("intensity 0 bit-exact, max abs difference", "identity", d_zero, 0.0, "", src)]


def true_peak_bar(results, dev_rows, ceiling_dbtp):
    tps = [(r.sc.name, r.tp_8x_dbtp) for r in results] + [(d["track"], d["tp_8x_dbtp"]) for d in dev_rows]
    name, worst = max(tps, key=lambda p: p[1])
    return B._le("true peak (8x) max over every output", "true_peak", worst, ceiling_dbtp, " dBTP",
                 f"{len(tps)} outputs; highest: {name}")


def crosscheck_bar(cc: CrossCheck, tol_lu=0.1):
    """Our meter against pyloudnorm over every integrated figure the suite took."""
    d = cc.max_abs_diff_lu()
    mismatch = cc.disagreements()
    detail = f"{len(cc.rows)} integrated-loudness pairs (project meter vs pyloudnorm)"
    if mismatch:
        detail += f"; silence disagreement: {[m[0] for m in mismatch]}"
    return B.Bar("meters", "project meter vs pyloudnorm, max abs difference", d,
                 f"<= {tol_lu:.1f} LU", bool(d <= tol_lu and not mismatch), detail)


# ---------------------------------------------------------------- report
def _git_rev():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _v(x, nd=1):
    return "-inf" if x == -math.inf else "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) \
        else f"{x:.{nd}f}"


def load_before(path) -> dict:
    """(scenario, bar) -> (value, ok, commit) from an earlier run's results.json."""
    if not path or not Path(path).is_file():
        return {}
    js = json.loads(Path(path).read_text())
    commit = js.get("settings", {}).get("commit", "?")
    return {(b["scenario"], b["bar"]): (b["value"], b["ok"], commit) for b in js["bars"]}


TRACE_FIELDS = ("t_s", "in_momentary_lufs", "in_short_term_lufs", "out_momentary_lufs",
                "out_short_term_lufs", "leveler_gain_db", "limiter_gr_max_db", "comp_gr_max_db")


def scenario_traces(res) -> dict:
    """The 100 ms series of one result, float32, for traces.npz."""
    return {"t_s": res.m_out.t_s, "in_momentary_lufs": res.m_in.momentary_lufs,
            "in_short_term_lufs": res.m_in.short_term_lufs,
            "out_momentary_lufs": res.m_out.momentary_lufs,
            "out_short_term_lufs": res.m_out.short_term_lufs,
            "leveler_gain_db": res.r.leveler_gain_db, "limiter_gr_max_db": res.r.limiter_gr_max_db,
            "comp_gr_max_db": res.r.comp_gr_db.max(axis=1)}


def save_traces(path: Path, results) -> None:
    # rounded to 0.01 (dB, LU, s): plenty for plots, and it compresses to a third
    np.savez_compressed(path, **{f"{r.sc.name}/{k}": np.round(np.asarray(v, dtype=np.float64), 2)
                                 .astype(np.float32)
                                 for r in results for k, v in scenario_traces(r).items()})


def load_before_traces(path) -> dict:
    """scenario name -> {field: array} from an earlier run's traces.npz ({} if none)."""
    if not path or not Path(path).is_file():
        return {}
    out: dict = {}
    with np.load(path) as z:
        for key in z.files:
            name, field_name = key.split("/", 1)
            out.setdefault(name, {})[field_name] = z[key].astype(np.float64)
    return out


def _differs(prev, res):
    """``prev`` if it differs from this run (an identical dashed line only hides
    today's), else None."""
    if prev is None:
        return None
    now = scenario_traces(res)
    for k in ("out_short_term_lufs", "leveler_gain_db"):
        a, b = np.asarray(prev[k]), np.round(np.asarray(now[k], dtype=np.float64), 2)
        if a.shape != b.shape or not np.allclose(a, b, atol=0.011, equal_nan=True):
            return prev
    return None


def _before_cell(before, b):
    if (b.scenario, b.bar) not in before:
        return "-"
    v, ok, _ = before[(b.scenario, b.bar)]
    v = math.nan if v is None else v
    return f"{_v(v, 2)} {'PASS' if ok else 'FAIL'}"


def write_report(out_dir: Path, results, all_bars, dev_rows, cc, settings, before=None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    n_ok = sum(b.ok for b in all_bars)
    before = before or {}
    commits = sorted({c for _, _, c in before.values()})
    cols = "| scenario | bar | before | measured | bar | pass | detail |" if before else \
        "| scenario | bar | measured | bar | pass | detail |"
    lines = [
        "# Live-moment scenarios: results",
        "",
        f"Chain at commit `{settings['commit']}`; intensity {settings['intensity']:g}, target "
        f"{settings['target_lufs']:g} LUFS, ceiling {settings['ceiling_dbtp']:g} dBTP. "
        f"Generated by `make scenarios` (see README.md for what each bar measures).",
        "",
        f"**{n_ok} of {len(all_bars)} bars pass.**"
        + (f" The *before* column is the run at commit `{', '.join(commits)}`."
           if before else ""),
        "",
        cols,
        "|" + "---|" * (cols.count("|") - 1),
    ]
    for b in all_bars:
        prev = f" {_before_cell(before, b)} |" if before else ""
        lines.append(f"| {b.scenario} | {b.bar} |{prev} {_v(b.value, 2)} | "
                     f"{b.limit} | {'PASS' if b.ok else '**FAIL**'} | {b.detail} |")
    lines += ["", "## Scenarios", "",
              "| scenario | genre | length (s) | in LUFS | out LUFS | in LRA | out LRA | "
              "out true peak 8x (dBTP) | max limiter GR (dB) | plot |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.sc.name} | {r.sc.genre} | {r.sc.dur_s:.0f} | {_v(r.m_in.integrated_lufs)} | "
                     f"{_v(r.m_out.integrated_lufs)} | {_v(r.m_in.lra_lu)} | {_v(r.m_out.lra_lu)} | "
                     f"{_v(r.tp_8x_dbtp, 2)} | {_v(float(r.r.limiter_gr_max_db.max()))} | "
                     f"[png]({r.sc.name}.png) |")
    if dev_rows:
        lines += ["", "## Development set (integrated loudness after 10 s)", "",
                  "| track | pyloudnorm LUFS | project meter LUFS | out true peak 8x (dBTP) |",
                  "|---|---|---|---|"]
        for d in dev_rows:
            lines.append(f"| {d['track']} | {d['pyloudnorm_lufs']:.2f} | {d['ours_lufs']:.2f} | "
                         f"{d['tp_8x_dbtp']:.2f} |")
    lines += ["", f"Meter cross-check: {len(cc.rows)} pairs, max |project - pyloudnorm| = "
              f"{cc.max_abs_diff_lu():.3f} LU.", ""]
    (out_dir / "results.md").write_text("\n".join(lines))
    js = {
        "settings": settings,
        "bars": [b.row() for b in all_bars],
        "scenarios": [{
            "name": r.sc.name, "kind": r.sc.kind, "title": r.sc.title, "genre": r.sc.genre,
            "duration_s": round(r.sc.dur_s, 2), "marks_s": r.sc.marks,
            "built_from": {k: v for k, v in r.sc.info.items()},
            "in_integrated_lufs": _j(r.m_in.integrated_lufs), "out_integrated_lufs": _j(r.m_out.integrated_lufs),
            "in_lra_lu": _j(r.m_in.lra_lu), "out_lra_lu": _j(r.m_out.lra_lu),
            "out_true_peak_8x_dbtp": _j(r.tp_8x_dbtp),
            "max_limiter_gr_db": _j(float(r.r.limiter_gr_max_db.max())),
            "plot": f"{r.sc.name}.png",
        } for r in results],
        "dev_set": [{k: (_j(v) if isinstance(v, float) else v) for k, v in d.items()} for d in dev_rows],
        "meter_crosscheck": [{"what": a, "project_lufs": _j(b), "pyloudnorm_lufs": _j(c)}
                             for a, b, c in cc.rows],
    }
    (out_dir / "results.json").write_text(json.dumps(js, indent=1) + "\n")


def _j(v):
    v = float(v)
    return round(v, 3) if math.isfinite(v) else None


def run_all(out_dir: Path, music_dir=None, only=(), intensity=5.0, target_lufs=-14.0,
            ceiling_dbtp=-1.0, with_dev_set=True, before_json=None, before_traces=None, log=print):
    """Everything ``make scenarios`` does; returns the list of Bar.  With
    ``before_json`` (an earlier run's results.json) the table shows both; with
    ``before_traces`` (its traces.npz) the plots do."""
    from .builders import dev_scenarios, dev_sources
    from .plots import plot_scenario
    t_start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    src = dev_sources(music_dir)
    scenarios = dev_scenarios(src)
    if only:
        scenarios = [s for s in scenarios if s.name in only or s.kind in only]
    cc = CrossCheck()
    prev_traces = load_before_traces(before_traces)
    results, all_bars = [], []
    for sc in scenarios:
        t = time.perf_counter()
        res = run_scenario(sc, cc, intensity, target_lufs, ceiling_dbtp)
        plot_scenario(res, res.bars, target_lufs, out_dir / f"{sc.name}.png",
                      before=_differs(prev_traces.get(sc.name), res))
        results.append(res)
        all_bars += res.bars
        log(f"{sc.name}: {sc.dur_s:.0f} s rendered and measured in {time.perf_counter() - t:.1f} s")
        for b in res.bars:
            log(_line(b))
    dev_rows = []
    if with_dev_set:
        dev_bars, dev_rows = dev_set_loudness(src, cc, intensity, target_lufs, ceiling_dbtp)
        all_bars += dev_bars
        for b in dev_bars:
            log(_line(b))
    suite = [true_peak_bar(results, dev_rows, ceiling_dbtp)]
    drop = [s for s in scenarios if s.kind == "quiet_intro_drop"]
    if drop:
        suite += identity_checks(drop[0], target_lufs, ceiling_dbtp)
    suite.append(crosscheck_bar(cc))
    for b in suite:
        log(_line(b))
    all_bars += suite
    settings = {"commit": _git_rev(), "intensity": intensity, "target_lufs": target_lufs,
                "ceiling_dbtp": ceiling_dbtp, "fs_hz": 48000}
    write_report(out_dir, results, all_bars, dev_rows, cc, settings, load_before(before_json))
    save_traces(out_dir / "traces.npz", results)
    log(f"{sum(b.ok for b in all_bars)} of {len(all_bars)} bars pass; "
        f"report in {out_dir} ({time.perf_counter() - t_start:.0f} s)")
    return all_bars


def _line(b) -> str:
    return f"  {'PASS' if b.ok else 'FAIL'}  {b.scenario}: {b.bar} = {_v(b.value, 2)} ({b.limit})" + \
        (f"  [{b.detail}]" if b.detail else "")
