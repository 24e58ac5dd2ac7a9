"""The bars of issue 9, each measured on a rendered scenario.

A bar's figure is computed from the aligned input/output audio and the
100 ms meter traces (``loudness.MeterTrace``: a value at t is the window
*ending* at t).  "Within (t0, t1]" below means trace points with
t0 < t <= t1.  Each evaluator returns a list of ``Bar``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .loudness import rms_window_db, seg


@dataclass
class Bar:
    scenario: str
    bar: str               # what is measured
    value: float           # the figure compared with the limit
    limit: str             # e.g. "<= -11.0 LUFS"
    ok: bool
    detail: str = ""       # supporting figures (input side, components)

    def row(self) -> dict:
        return {"scenario": self.scenario, "bar": self.bar,
                "value": None if not math.isfinite(self.value) else round(float(self.value), 2),
                "limit": self.limit, "ok": bool(self.ok), "detail": self.detail}


def _w(t, v, t0, t1):
    """Trace values with t0 < t <= t1 (tolerant of float time stamps)."""
    sel = (t > t0 + 1e-6) & (t <= t1 + 1e-6)
    return v[sel]


def _max(v):
    """max of finite values; nan for an empty window (a short synthetic scenario
    makes the bar fail instead of crashing the report)."""
    v = np.asarray(v, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.max()) if len(v) else math.nan


def _median(v):
    v = np.asarray(v, dtype=float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if len(v) else math.nan


def _le(name, scen, v, lim, unit, detail=""):
    return Bar(scen, name, v, f"<= {lim:.1f}{unit}", bool(v <= lim), detail)


def _ge(name, scen, v, lim, unit, detail=""):
    return Bar(scen, name, v, f">= {lim:.1f}{unit}", bool(v >= lim), detail)


def _within(name, scen, v, centre, tol, unit, detail=""):
    return Bar(scen, name, v, f"{centre - tol:.1f}..{centre + tol:.1f}{unit}",
               bool(abs(v - centre) <= tol), detail)


def _spread_after(m, after_s):
    st = m.short_term_lufs[m.t_s > after_s + 1e-6]
    st = st[np.isfinite(st)]
    return float(np.percentile(st, 95) - np.percentile(st, 5))


# ---------------------------------------------------------------- per scenario
def steady(res, target, cc):
    n = res.sc.name
    d_lra = res.m_out.lra_lu - res.m_in.lra_lu
    sp_in = _spread_after(res.m_in, 10.0)
    sp_out = _spread_after(res.m_out, 10.0)
    return [
        _le("LRA out - in", n, d_lra, 0.5, " LU",
            f"LRA in {res.m_in.lra_lu:.1f} -> out {res.m_out.lra_lu:.1f} LU"),
        _le("short-term spread (p95-p5 after 10 s) out - in", n, sp_out - sp_in, 1.0, " LU",
            f"spread in {sp_in:.1f} -> out {sp_out:.1f} LU"),
    ]


def _contrast(m, a0, a1, b0, b1):
    """median short-term in (a0, a1] minus median short-term in (b0, b1]."""
    return _median(_w(m.t_s, m.short_term_lufs, a0, a1)) - _median(_w(m.t_s, m.short_term_lufs, b0, b1))


def quiet_ending(res, target, cc):
    k = res.sc.marks
    body = (k["diminuendo"] - 10.0, k["diminuendo"])
    tail = (k["end"] - 10.0, k["end"])
    c_in = _contrast(res.m_in, *body, *tail)
    c_out = _contrast(res.m_out, *body, *tail)
    return [_ge("body-to-tail contrast kept", res.sc.name, 100.0 * c_out / c_in, 60.0, " %",
                f"contrast in {c_in:.1f} -> out {c_out:.1f} LU (median short-term, last 10 s "
                f"of body vs last 10 s of tail); LRA in {res.m_in.lra_lu:.1f} -> out "
                f"{res.m_out.lra_lu:.1f} LU")]


def settle_time_s(m, t0, target, tol_lu=1.5, frac=0.9, span_s=10.0):
    """Earliest offset after t0 at which >= frac of the short-term values in the
    next span_s are within +-tol_lu of target; inf if never."""
    t, st = m.t_s, m.short_term_lufs
    for off in np.arange(0.0, t[-1] - t0 - span_s + 1e-6, 0.1):
        v = _w(t, st, t0 + off, t0 + off + span_s)
        if len(v) and np.mean(np.abs(v - target) <= tol_lu) >= frac:
            return float(off)
    return math.inf


def quiet_intro_drop(res, target, cc):
    n, k = res.sc.name, res.sc.marks
    mom = _w(res.m_out.t_s, res.m_out.momentary_lufs, k["drop"], k["drop"] + 0.8)
    settle = settle_time_s(res.m_out, k["drop"], target)
    lim = _w(res.r.t_s, res.r.limiter_gr_max_db, k["drop"], k["drop"] + 0.8)
    return [
        _le("drop: momentary max in first 0.8 s", n, _max(mom), target + 3, " LUFS",
            f"limiter up to {_max(lim):.1f} dB GR meanwhile"),
        _le("drop: time until 90 % of 10 s within +-1.5 LU (short-term)", n, settle, 5.0, " s"),
    ]


def talk_song_talk(res, target, cc):
    n, k, fs = res.sc.name, res.sc.marks, res.sc.fs
    y = res.r.y
    mom = _w(res.m_out.t_s, res.m_out.momentary_lufs, k["song"], k["song"] + 1.0)
    lim = _w(res.r.t_s, res.r.limiter_gr_max_db, k["song"], k["song"] + 1.0)
    first3 = cc.compare(f"{n}: talk 2 first 3 s out", seg(y, fs, k["talk2"], k["talk2"] + 3.0), fs)
    t1 = cc.compare(f"{n}: talk 1 out", seg(y, fs, 0.0, k["song"]), fs)
    t2 = cc.compare(f"{n}: talk 2 out", seg(y, fs, k["talk2"], k["end"]), fs)
    song = cc.compare(f"{n}: song out", seg(y, fs, k["song"], k["talk2"]), fs)
    return [
        _le("song: momentary max in first 1 s", n, _max(mom), target + 3, " LUFS",
            f"limiter up to {_max(lim):.1f} dB GR meanwhile"),
        _ge("talk after song: integrated over first 3 s", n, first3, target - 5, " LUFS"),
        _within("talk 1: integrated", n, t1, target, 2.0, " LUFS"),
        _within("talk 2: integrated", n, t2, target, 2.0, " LUFS", f"song integrated {song:.1f} LUFS"),
    ]


def pause(res, target, cc):
    n, k, fs = res.sc.name, res.sc.marks, res.sc.fs
    mom = _w(res.m_out.t_s, res.m_out.momentary_lufs, k["return"], k["return"] + 1.0)
    st = _w(res.m_out.t_s, res.m_out.short_term_lufs, k["return"] + 3.0, k["return"] + 6.0)
    worst = float(st[np.argmax(np.abs(st - target))]) if len(st) else math.nan
    g = _w(res.r.t_s, res.r.leveler_gain_db, k["pause"] - 0.1, k["return"])
    bars = [
        _le("return: momentary max in first 1 s", n, _max(mom), target + 2, " LUFS",
            f"leveler gain {g[0]:.1f} dB at the pause -> {_max(g):.1f} dB max during it"),
        _within("return: short-term 3-6 s after (worst value)", n, worst, target, 1.0, " LUFS",
                f"range {-_max(-st):.1f}..{_max(st):.1f}"),
    ]
    if res.sc.info.get("noise_dbfs") is not None:
        # skip the first 2 s (the song's 3 s windows and release) and the last 0.5 s
        a, b = k["pause"] + 2.0, k["return"] - 0.5
        raised = rms_window_db(res.r.y, fs, a, b) - rms_window_db(res.sc.x, fs, a, b)
        bars.append(_le("noise in the pause raised by", n, raised, 3.0, " dB",
                        f"in {rms_window_db(res.sc.x, fs, a, b):.1f} -> out "
                        f"{rms_window_db(res.r.y, fs, a, b):.1f} dBFS RMS over ({a:g}, {b:g}) s"))
    return bars


def buildup_drop(res, target, cc):
    n, k = res.sc.name, res.sc.marks

    def fig(m):
        drop = _median(_w(m.t_s, m.short_term_lufs, k["drop"] + 3.0, k["drop"] + 13.0))
        build_max = _max(_w(m.t_s, m.short_term_lufs, k["build"] + 3.0, k["drop"]))
        return drop, build_max
    d_in, b_in = fig(res.m_in)
    d_out, b_out = fig(res.m_out)
    return [_ge("drop short-term minus build-up max", n, d_out - b_out, -0.5, " LU",
                f"out: drop {d_out:.1f}, build-up max {b_out:.1f} LUFS; in: drop {d_in:.1f}, "
                f"build-up max {b_in:.1f} LUFS")]


def crescendo(res, target, cc):
    n, k = res.sc.name, res.sc.marks
    span = ((k["end"] - 2.0, k["end"]), (k["crescendo"] - 2.0, k["crescendo"]))
    c_in = _contrast(res.m_in, *span[0], *span[1])
    c_out = _contrast(res.m_out, *span[0], *span[1])
    return [_ge("crescendo contrast kept", n, 100.0 * c_out / c_in, 50.0, " %",
                f"contrast in {c_in:.1f} -> out {c_out:.1f} LU (short-term, top vs before)")]


def crossfade_down(res, target, cc):
    n, k, fs = res.sc.name, res.sc.marks, res.sc.fs
    b = cc.compare(f"{n}: song B out after settling", seg(res.r.y, fs, k["fade_end"] + 10.0, k["end"]), fs)
    st = _w(res.m_out.t_s, res.m_out.short_term_lufs, k["fade_end"], k["end"])
    return [
        _within("quiet song B integrated, from 10 s after the fade", n, b, target, 1.5, " LUFS"),
        _le("short-term max after the fade", n, _max(st), target + 2, " LUFS"),
    ]


def crossfade_up(res, target, cc):
    n, k = res.sc.name, res.sc.marks
    st = _w(res.m_out.t_s, res.m_out.short_term_lufs, k["fade_end"], k["fade_end"] + 5.0)
    during = _w(res.m_out.t_s, res.m_out.short_term_lufs, k["fade"], k["fade_end"])
    return [_le("short-term max in the 5 s after the fade", n, _max(st), target + 2, " LUFS",
                f"max during the fade {_max(during):.1f} LUFS")]


def cold_start(res, target, cc):
    n = res.sc.name
    mom = _w(res.m_out.t_s, res.m_out.momentary_lufs, 0.0, 1.0)
    return [_le("momentary max in first 1 s", n, _max(mom), target + 3, " LUFS",
                f"input integrated {res.m_in.integrated_lufs:.1f} LUFS")]


def kick_swing_db(x, y, fs, period_s, skip_s=10.0, frame_s=0.01, band_hz=(2000.0, 8000.0)):
    """Kick-synchronous gain swing: the chain's gain on the noise alone (a band
    the kick has no energy in), in 10 ms frames, averaged over every kick
    period after ``skip_s`` at each phase of the period; max - min, dB."""
    from scipy.signal import butter, sosfiltfilt
    sos = butter(4, band_hz, btype="band", fs=fs, output="sos")
    xf = sosfiltfilt(sos, np.asarray(x, dtype=np.float64), axis=0)
    yf = sosfiltfilt(sos, np.asarray(y, dtype=np.float64), axis=0)
    fr = int(round(frame_s * fs))
    per = int(round(period_s / frame_s))
    s0 = int(round(skip_s * fs))
    n_fr = (len(x) - s0) // fr // per * per
    ex = (xf[s0:s0 + n_fr * fr] ** 2).reshape(n_fr, -1).sum(axis=1).reshape(-1, per).sum(axis=0)
    ey = (yf[s0:s0 + n_fr * fr] ** 2).reshape(n_fr, -1).sum(axis=1).reshape(-1, per).sum(axis=0)
    g_db = 10.0 * np.log10(ey / ex)
    return float(g_db.max() - g_db.min()), g_db


def pumping(res, target, cc):
    n = res.sc.name
    swing, _ = kick_swing_db(res.sc.x, res.r.y, res.sc.fs, res.sc.info["period_s"])
    lev = _w(res.r.t_s, res.r.leveler_gain_db, 10.0, res.sc.dur_s)
    return [_le("kick-synchronous gain swing (2-8 kHz noise)", n, swing, 2.0, " dB",
                f"leveler gain {-_max(-lev):.1f}..{_max(lev):.1f} dB after 10 s (100 ms snapshots)")]


EVALUATORS = {
    "steady": steady, "quiet_ending": quiet_ending, "quiet_intro_drop": quiet_intro_drop,
    "talk_song_talk": talk_song_talk, "pause": pause, "buildup_drop": buildup_drop,
    "crescendo": crescendo, "crossfade_down": crossfade_down, "crossfade_up": crossfade_up,
    "cold_start": cold_start, "pumping": pumping,
}


def evaluate(res, target, cc) -> list:
    return EVALUATORS[res.sc.kind](res, target, cc)
