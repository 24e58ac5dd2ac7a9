"""`make bench`: every figure side by side in one run, as a table and JSON.

* real-time factor, same input (the synthesized demo mix, 48 kHz stereo):
  Masterbox at 128-frame blocks, pedalboard (HighpassFilter -> Compressor ->
  Gain -> Limiter, 128-frame blocks, reset=False) and ffmpeg
  ``acompressor,alimiter`` (whole file, its own buffering), medians of runs
  interleaved so all see the same machine load;
* DSP load in % of the block period, 32..512 frames (`masterbox bench`);
* start -> audio and start -> mastering, cold and warm cache, and RSS
  (the daemon on the JACK dummy server; skipped without jackd).

    python bench/run_all.py [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def ffmpeg_rtf(wav: Path, seconds: float, runs: int) -> float | None:
    if shutil.which("ffmpeg") is None:
        return None
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), "-af",
                        "acompressor=threshold=-18dB:ratio=2.5:attack=10:release=150,"
                        "alimiter=limit=0.89:release=80", "-f", "null", "-"], check=True)
        times.append(time.perf_counter() - t)
    return seconds / float(np.median(times))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=str(ROOT / "bench" / "results.json"))
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    import soundfile as sf

    from masterbox.firmware.demo import synth_mix
    res: dict = {"machine": {"python": sys.version.split()[0]}}
    tmp = Path(tempfile.mkdtemp(prefix="mb-bench-"))
    wav = tmp / "in.wav"
    sf.write(wav, synth_mix(48000, a.seconds), 48000, subtype="FLOAT")

    out = subprocess.run([sys.executable, str(ROOT / "bench" / "vs_pedalboard.py"), "--json",
                          "--seconds", str(a.seconds), "--runs", str(a.runs)],
                         capture_output=True, text=True, check=True)
    res["rtf"] = json.loads(out.stdout)
    res["rtf"]["ffmpeg_rtf"] = ffmpeg_rtf(wav, a.seconds, a.runs)
    if res["rtf"]["ffmpeg_rtf"]:
        res["rtf"]["ratio_vs_ffmpeg"] = res["rtf"]["masterbox_rtf"] / res["rtf"]["ffmpeg_rtf"]
    out = subprocess.run([sys.executable, "-m", "masterbox.firmware.cli", "bench", "--json"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    res["blocks"] = json.loads(out.stdout)
    if shutil.which("jackd"):
        out = subprocess.run([sys.executable, str(ROOT / "bench" / "startup.py"), "--json"],
                             cwd=ROOT, capture_output=True, text=True, timeout=900)
        try:
            res["startup"] = json.loads(out.stdout)
        except ValueError:
            res["startup"] = {"error": out.stderr[-500:]}
    r = res["rtf"]
    print(f"real-time factor at 128 frames (median of {a.runs}, same input, one run):")
    print(f"  masterbox   {r['masterbox_rtf']:8.0f}x   ({r['masterbox_us_per_block']:.1f} us/block)")
    print(f"  pedalboard  {r['pedalboard_rtf']:8.0f}x   ratio ours/pedalboard {r['ratio']:.2f}")
    if r.get("ffmpeg_rtf"):
        print(f"  ffmpeg      {r['ffmpeg_rtf']:8.0f}x   ratio ours/ffmpeg {r['ratio_vs_ffmpeg']:.2f}"
              "   (whole file, not 128-frame blocks)")
    print(f"DSP load at 48 kHz (process CPU time; fixed cost per block "
          f"{res['blocks'].get('fixed_us_per_block', float('nan')):.2f} us):")
    for row in res["blocks"]["blocks"]:
        print(f"  {row['block']:4d} frames  {row['us_per_block']:7.1f} us  {row['load_pct']:5.2f} %"
              f"  {row['rtf']:6.0f}x")
    if "startup" in res and "cold" in res["startup"]:
        for k in ("cold", "warm"):
            s = res["startup"][k]
            print(f"start ({k} cache): audio {s.get('spawn_to_audio_s', float('nan')):.2f} s, "
                  f"mastering {s.get('spawn_to_mastering_s', float('nan')):.2f} s, "
                  f"RSS {s.get('rss_mb', float('nan')):.0f} MB")
    Path(a.json).write_text(json.dumps(res, indent=2))
    print(f"JSON: {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
