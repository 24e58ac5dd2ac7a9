"""The quality report counts issue 10's bars itself (bench/tone.py): the
counting must be the issue's rule ("no value above an earlier one by more
than 0.2 dB/LU of measurement noise"), checked here on small tables whose
answers are worked out by hand."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tone():
    spec = importlib.util.spec_from_file_location("bench_tone", ROOT / "bench" / "tone.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_rise_is_measured_against_every_earlier_value(tone):
    # 1.0 -> 0.8 -> 1.1: 0.3 above the lowest earlier value (0.8), though
    # only 0.1 above the first
    assert tone.rise([1.0, 0.8, 1.1]) == pytest.approx(0.3)
    assert tone.rise([3.0, 2.0, 1.0]) == 0.0
    # falling is the wrong way for a measure that should grow
    assert tone.rise([-12.0, -11.0, -11.6], up_is_worse=False) == pytest.approx(0.6)


def row(track, genre, intensity, lra, side_low=-30.0, side_high=-12.0, distance=4.0):
    return {"track": track, "genre": genre, "intensity": intensity, "plr_db": 12.0,
            "crest_db": 14.0, "lra_lu": lra, "distance_db": distance,
            "band_error_db": [0.0] * 10, "side_mid_db": -10.0, "side_low_db": side_low, "side_high_db": side_high}


def test_the_tally_names_each_failing_pair_and_allows_exactly_the_noise(tone):
    rows = []
    # a: LRA rises by exactly 0.2 (allowed: LRA comes in 0.05 LU steps; in
    # floating point 0.8 - 0.6 is a hair over 0.2);
    # b: by 0.25 (fails); pop's mono bass: b's low side rises by 1 dB
    for i, (la, lb) in enumerate(((0.6, 1.0), (0.7, 1.25), (0.8, 1.0))):
        rows.append(row("a", "pop", float(i * 5), la, distance=4.0 - i))
        rows.append(row("b", "pop", float(i * 5), lb, side_low=-30.0 + (i == 2), distance=4.0 - i))
    by = {(r["track"], r["genre"], r["intensity"]): r for r in rows}
    lines = tone.bars(by, ["a", "b"], ["pop"], [0.0, 5.0, 10.0])
    lra = next(x for x in lines if x.startswith("- LRA non-increasing (0..10)"))
    assert "holds on 1 of 2" in lra and "pop b +0.25" in lra and "pop a" not in lra
    low = next(x for x in lines if "below the low crossover" in x)
    assert "holds on 1 of 2" in low and "pop b +1.00" in low
    # distance 4 -> 3 -> 2: shrink 25 % at 5 and 50 % at 10 exactly: holds
    shrink = next(x for x in lines if x.startswith("- shrink"))
    assert "holds on 2 of 2" in shrink


@pytest.mark.parametrize("rows", [None, "[{\"intensity\": 0.0}]"])
def test_report_only_without_usable_rows_is_one_line_and_exit_2(tmp_path, rows):
    if rows is not None:
        (tmp_path / "tone.json").write_text(rows)
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "tone.py"), "--report-only",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "tone.json" in r.stderr


def test_report_only_remakes_the_page_from_the_rows(tone, tmp_path):
    rows = [row("a", "pop", float(i), 1.0) for i in range(3)]
    (tmp_path / "tone.json").write_text(json.dumps(rows))
    (tmp_path / "tone.meta.json").write_text(json.dumps({"commit": "abc1234", "date": "2026-12-01"}))
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "tone.py"), "--report-only",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "tone.md").read_text()
    assert "Rendered at commit abc1234 on 2026-12-01" in page
    assert "LRA non-increasing (0..10): holds on 1 of 1" in page


def test_a_band_counts_as_past_the_target_only_on_the_other_side(tone):
    """Band 0 starts 0.5 dB over the target: ending 1.2 dB under it fails
    the 1 dB bar; a band that stays on its side, however far, does not."""
    rows = []
    for i, (a0, b0) in enumerate(((0.5, 0.5), (0.2, 3.0), (-0.8, -1.2))):
        for t, e in (("a", a0), ("b", b0)):
            r = row(t, "pop", float(i * 5), 1.0)
            r["band_error_db"] = [e, 4.0 - i] + [0.0] * 8
            rows.append(r)
    by = {(r["track"], r["genre"], r["intensity"]): r for r in rows}
    assert tone.overshoot(by, "a", "pop", [0.0, 5.0, 10.0]) == pytest.approx(0.8)
    lines = tone.bars(by, ["a", "b"], ["pop"], [0.0, 5.0, 10.0])
    over = next(x for x in lines if "past its target" in x)
    assert "holds on 1 of 2" in over and "pop b 1.20" in over


def test_the_lowest_octave_counts_only_moving_away_from_its_target(tone):
    """Track a's 31.5 Hz octave starts 0.5 dB over the target and ends
    0.8 under it: 0.3 dB further away, past the 0.2 dB allowed.  Track b's
    goes from 3.0 to 3.2 dB under (0.2 further: allowed) and then to 1.0."""
    rows = []
    for i, (a, b) in enumerate(((0.5, -3.0), (0.2, -3.2), (-0.8, -1.0))):
        for t, e in (("a", a), ("b", b)):
            r = row(t, "pop", float(i * 5), 1.0)
            r["band_error_db"] = [e] + [0.0] * 9
            rows.append(r)
    by = {(r["track"], r["genre"], r["intensity"]): r for r in rows}
    assert tone.lowest_band_away(by, "a", "pop", [0.0, 5.0, 10.0]) == pytest.approx(0.3)
    lines = tone.bars(by, ["a", "b"], ["pop"], [0.0, 5.0, 10.0])
    low = next(x for x in lines if "lowest octave" in x)
    assert "holds on 1 of 2" in low and "pop a +0.30" in low and "pop b" not in low


def test_the_windowed_side_measure_ignores_how_loud_each_passage_is(tone):
    """Two 10 s passages of noise, one wide (side 6 dB under the mid), one
    narrow (side 20 dB under): raising the wide one by 10 dB moves the
    whole-excerpt ratio by 2.4 dB (energy-weighted) but leaves the
    median of the windows where it was; a steady passage reads its own
    ratio."""
    fs = 48000
    rng = np.random.default_rng(3)

    def passage(side_db, gain_db, seconds=10.0):
        n = int(seconds * fs)
        m = rng.standard_normal(n) * 0.05
        s = rng.standard_normal(n) * 0.05 * 10 ** (side_db / 20)
        return 10 ** (gain_db / 20) * np.stack([m + s, m - s], 1)

    steady = passage(-6.0, 0.0)
    assert tone.side_mid_windowed(steady, fs, 120.0)[1] == pytest.approx(-6.0, abs=0.3)
    even = np.concatenate([passage(-6.0, 0.0), passage(-20.0, 0.0)])
    loud_wide = np.concatenate([passage(-6.0, 10.0), passage(-20.0, 0.0)])
    whole = [tone.side_mid_bands(x, fs, 120.0)[1] for x in (even, loud_wide)]
    win = [tone.side_mid_windowed(x, fs, 120.0)[1] for x in (even, loud_wide)]
    assert whole[1] - whole[0] > 2.0
    assert win[1] == pytest.approx(win[0], abs=0.3)
