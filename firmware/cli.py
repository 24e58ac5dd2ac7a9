"""``masterbox``: the command line.

    masterbox render IN OUT [--genre G] [--intensity X] [--target T] [--ceiling C]
                            [--block N] [--pcm] [--report PNG] [--presets DIR]
    masterbox presets [--check DIR] [--presets DIR]
    masterbox bench [--json]
    masterbox warmup
    masterbox run [--config FILE] [--frames N]
    masterbox ctl set KEY VALUE | masterbox ctl bypass on|off
    masterbox status [--json]
    masterbox panel [--sim] [--snapshots DIR]

Heavy modules (numba, the chain) are imported inside the commands so that
``--help`` and argument errors answer at once.  User errors print one line
per problem on stderr and exit with status 2.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

from .errors import ConfigError, InputError

EXIT_USAGE = 2


def _err(msg: str) -> int:
    for line in str(msg).splitlines():
        print(f"masterbox: {line}", file=sys.stderr)
    return EXIT_USAGE


def cmd_render(a) -> int:
    from . import presets as pr
    try:
        presets = pr.load_presets(a.presets)
        preset = pr.resolve_genre(presets, a.genre)
        target = pr.parse_target(a.target)
        intensity = pr.check_range("intensity", a.intensity, pr.INTENSITY_RANGE)
        ceiling = pr.check_range("ceiling", a.ceiling, pr.CEILING_RANGE)
        from .render import check_output, open_input, output_format, render_file
        # fail fast, before compiling anything or writing a byte
        check_output(a.input, a.output)
        output_format(a.output)
        open_input(a.input).close()
        if a.report:
            from .report import check_report_path
            check_report_path(a.report, a.input, a.output)
        params = pr.chain_params(preset, intensity, target, ceiling)
        res = render_file(a.input, a.output, params, block=a.block, pcm=a.pcm,
                          progress=sys.stderr.isatty())
    except (ConfigError, InputError) as e:
        return _err(e)
    print(f"{a.input} -> {a.output}  [{preset.name}, intensity {intensity:g}, "
          f"target {target:g} LUFS, ceiling {ceiling:g} dBTP]")
    for line in res.summary_lines(target, ceiling):
        print("  " + line)
    warn = target_warning(res, target, intensity)
    if warn:
        print(warn, file=sys.stderr)
    if a.report:
        from .report import write_report
        try:
            write_report(res, a.report, f"{preset.name} @ {intensity:g}", target, ceiling,
                         preset.data["adaptive"]["target_db"])
        except InputError as e:
            return _err(e)
        print(f"  report     {a.report}")
    return 0


def target_warning(res, target_lufs: float, intensity: float) -> str:
    """One line when the output misses the target by more than 1 LU (never a
    silent miss): why, when the leveler's range is the reason."""
    from masterbox.dsp.stages.leveler import MAX_BOOST_DB, MAX_CUT_DB
    out = res.out_integrated_lufs
    if intensity <= 0 or not math.isfinite(out) or abs(out - target_lufs) <= 1.0:
        return ""
    line = (f"warning: target {target_lufs:g} LUFS not reached: the output is {out:.1f} LUFS "
            f"({out - target_lufs:+.1f} LU)")
    need = target_lufs - res.in_integrated_lufs
    if math.isfinite(need) and not (MAX_CUT_DB <= need <= MAX_BOOST_DB):
        line += (f"; it needs {need:+.1f} dB from the input ({res.in_integrated_lufs:.1f} LUFS), "
                 f"beyond the leveler's {MAX_CUT_DB:+g}..{MAX_BOOST_DB:+g} dB")
    else:
        line += "; the preset keeps the programme's dynamics, or the file is short"
    return line


def cmd_presets(a) -> int:
    from . import presets as pr
    if a.check:
        errors = pr.check_dir(a.check)
        if errors:
            return _err("\n".join(errors))
        print(f"{a.check}: all presets valid")
        return 0
    try:
        presets = pr.load_presets(a.presets)
    except ConfigError as e:
        return _err(e)
    width = max(len(n) for n in presets)
    for name in sorted(presets):
        print(f"{name:<{width}}  {presets[name].description}")
    print("\ntargets: " + ", ".join(f"{k} {v:g} LUFS" for k, v in pr.TARGETS_LUFS.items()))
    return 0


def cmd_bench(a) -> int:
    """DSP load per block size and the fixed cost of a block.

    Times are process CPU time (``time.process_time``, medians of 3 runs):
    on a shared machine, time spent preempted is not the chain's.  The
    fixed cost is a call with an empty block (dispatch and per-block set-up,
    no samples)."""
    t0 = time.perf_counter()
    import numpy as np
    from masterbox import dsp
    from . import presets as pr
    t_import = time.perf_counter() - t0
    t_warm = dsp.warmup()
    preset = pr.load_presets()["pop"]
    params = pr.chain_params(preset, 5.0, -14.0, -1.0)
    fs = 48000
    seconds = a.seconds
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal((fs * seconds, 2))).astype(np.float32)
    rows = []
    for block in (32, 64, 128, 256, 512):
        y = np.empty((block, 2), dtype=np.float32)
        per_block = []
        for _rep in range(3):
            ch = dsp.Chain(fs, params)
            n_blocks = x.shape[0] // block
            t = time.process_time()
            for b in range(n_blocks):
                ch.process_into(x[b * block:(b + 1) * block], y)
            per_block.append((time.process_time() - t) / n_blocks)
        us = float(np.median(per_block)) * 1e6
        period_us = block / fs * 1e6
        rows.append({"block": block, "us_per_block": us, "load_pct": 100.0 * us / period_us,
                     "rtf": period_us / us})
    ch = dsp.Chain(fs, params)
    empty = np.zeros((0, 2), dtype=np.float32)
    reps = []
    for _rep in range(3):
        t = time.process_time()
        for _k in range(20000):
            ch.process_into(empty, empty)
        reps.append((time.process_time() - t) / 20000)
    fixed_us = float(np.median(reps)) * 1e6
    out = {"fs_hz": fs, "import_s": t_import, "warmup_s": t_warm,
           "numba_cache": dsp._jit.CACHE_ENABLED if hasattr(dsp, "_jit") else None,
           "clock": "process_time", "fixed_us_per_block": fixed_us, "blocks": rows}
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"import {t_import:.2f} s, warm-up {t_warm:.2f} s (48 kHz stereo, preset pop @ 5, "
              "process CPU time)")
        print(f"{'block':>6} {'us/block':>10} {'% period':>9} {'x realtime':>11}")
        for r in rows:
            print(f"{r['block']:>6} {r['us_per_block']:>10.1f} {r['load_pct']:>8.1f}% {r['rtf']:>10.0f}x")
        print(f"fixed cost per block (empty block): {fixed_us:.2f} us")
    return 0


def cmd_warmup(a) -> int:
    if a.verdict:
        # For the daemon (its child): "compiling" on stdout at the first real
        # compile (numba fires numba:compile only on a cache miss), so the
        # daemon starts the dry signal at once; exit 0 = every kernel loaded.
        import numba.core.event as ev

        class FirstCompile(ev.Listener):
            said = False

            def on_start(self, event):
                if not self.said:
                    self.said = True
                    print("compiling", flush=True)

            def on_end(self, event):
                pass
        ev.register("numba:compile", FirstCompile())
    delay = float(os.environ.get("MASTERBOX_WARMUP_DELAY_S", "0"))
    if delay > 0:
        # Test hook: a loaded machine, where even loading a warm cache is slow
        time.sleep(delay)
    from masterbox import dsp
    t = dsp.warmup()
    print(f"kernels ready in {t:.1f} s (numba cache {'on' if dsp._jit.CACHE_ENABLED else 'off'})")
    return 0


def cmd_run(a) -> int:
    from .daemon import run
    return run(a.config, max_frames=a.frames, socket_path=a.socket,
               wait_for_device=a.wait_for_device)


def _socket_path(a) -> str:
    from .control import DEFAULT_SOCKET
    return a.socket or os.environ.get("MASTERBOX_SOCKET") or DEFAULT_SOCKET


def cmd_ctl(a) -> int:
    from .control import ControlError, reply_status, request
    if a.action == "bypass":
        key, value = "bypass", a.args[0] if a.args else None
        if value not in ("on", "off"):
            return _err("usage: masterbox ctl bypass on|off")
    else:
        if len(a.args) != 2:
            return _err("usage: masterbox ctl set KEY VALUE (genre, intensity, target, ceiling, bypass)")
        key, value = a.args
    path = _socket_path(a)
    try:
        st = reply_status(request(path, {"cmd": "set", "key": key, "value": value}), path)
    except ControlError as e:
        return _err(e)
    from .notify import status_line
    print(status_line(st))
    return 0


def cmd_status(a) -> int:
    from .control import ControlError, query_status
    try:
        st = query_status(_socket_path(a))
    except ControlError as e:
        return _err(e)
    if a.json:
        print(json.dumps(st, indent=2))
    else:
        from .notify import status_line
        from .status import Status, level
        s = Status.from_dict(st)
        print(status_line(s))
        print(f"devices: {s.input_device or '—'} -> {s.output_device or '—'}, "
              f"{level(s.samplerate_hz, ' Hz', '{:d}')}, {s.blocksize_frames} frames, "
              f"latency {level(s.latency_ms, ' ms', '{:.2f}')}, uptime {s.uptime_s:.0f} s")
        for line in latency_lines(s):
            print(line)
    return 0


def latency_lines(s) -> list:
    """The end-to-end latency (and, in the gadget modes, what OBS needs) and
    the USB state, for ``masterbox status``."""
    from .status import level
    out = []
    if s.end_to_end_latency_ms is not None:
        spread = (f" (varies {s.measured_delay_spread_ms:.2f} ms)"
                  if s.measured_delay_spread_ms else "")
        out.append(f"end-to-end latency {s.end_to_end_latency_ms:.1f} ms, input to output, "
                   f"buffers included{spread}")
    if s.audio_mode != "interface":
        usb = {"no-host": "no USB host", "host-connected": "USB host connected, not streaming",
               "streaming": "USB host streaming"}.get(s.usb_state or "", "USB state unknown")
        rate = f" at {level(s.usb_host_rate_hz, ' Hz', '{:d}')}" if s.usb_host_rate_hz else ""
        out.append(f"mode {s.audio_mode}: {usb}{rate}")
        if s.end_to_end_latency_ms is not None and s.audio_mode in ("gadget", "gadget-to-interface",
                                                                    "interface-to-gadget"):
            out.append(f"set OBS sync offset to {round(s.end_to_end_latency_ms):d} ms "
                       f"(the box's part; add your PC's own audio buffering)")
    return out


def cmd_panel(a) -> int:
    from masterbox.ui import panel as P
    sock = _socket_path(a)
    if a.snapshots:
        for path in P.write_snapshots(a.snapshots, sock):
            print(path)
        return 0
    if a.sim:
        return P.run_sim(sock, frames=a.frames)
    from . import config as cfgmod
    try:
        cfg, _ = cfgmod.load_config(a.config)
    except ConfigError as e:
        return _err(e)
    logging_setup(cfg)
    from masterbox.ui.knobs import GPIOUnavailable
    try:
        return P.run_hardware(cfg, sock)
    except GPIOUnavailable as e:
        # exit 2: masterbox-panel.service has RestartPreventExitStatus=2
        print(f"masterbox panel: {e}", file=sys.stderr)
        return EXIT_USAGE


def logging_setup(cfg) -> None:
    import logging
    logging.basicConfig(level=getattr(logging, cfg["log_level"].upper()),
                        format="%(levelname)s %(name)s: %(message)s")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="masterbox", description="Live stereo mastering box.")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="master a file with the live chain")
    r.add_argument("input")
    r.add_argument("output")
    r.add_argument("--genre", default="pop")
    r.add_argument("--intensity", type=float, default=5.0, help="0..10 (0 = transparent)")
    r.add_argument("--target", default="stream",
                   help="LUFS number or stream/loud/apple/broadcast/club (default stream = -14)")
    r.add_argument("--ceiling", type=float, default=-1.0, help="true-peak ceiling, dBTP")
    r.add_argument("--block", type=int, default=512, help="block size 1..4096 (result is the same)")
    r.add_argument("--pcm", action="store_true",
                   help="write the input's integer format (PCM_16/24) with TPDF dither")
    r.add_argument("--report", metavar="PNG", help="write a before/after picture")
    r.add_argument("--presets", action="append", default=[], metavar="DIR",
                   help="extra preset directory (may repeat)")
    r.set_defaults(func=cmd_render)
    s = sub.add_parser("presets", help="list genres, or validate a preset directory")
    s.add_argument("--check", metavar="DIR")
    s.add_argument("--presets", action="append", default=[], metavar="DIR")
    s.set_defaults(func=cmd_presets)
    b = sub.add_parser("bench", help="measure the chain's cost per block")
    b.add_argument("--json", action="store_true")
    b.add_argument("--seconds", type=int, default=10)
    b.set_defaults(func=cmd_bench)
    w = sub.add_parser("warmup", help="compile every kernel into the numba cache")
    w.add_argument("--verdict", action="store_true",
                   help='print "compiling" at the first kernel not in the cache (for the daemon)')
    w.set_defaults(func=cmd_warmup)
    rn = sub.add_parser("run", help="the box's daemon: master the audio interface live")
    rn.add_argument("--config", help="config file (default /etc/masterbox/config.yaml)")
    rn.add_argument("--frames", type=int, default=0, help="stop after N frames (smoke tests)")
    rn.add_argument("--socket", help="control socket path (default from config)")
    rn.add_argument("--wait-for-device", action="store_true",
                    help="if the audio device is missing, wait for it instead of exiting 2")
    rn.set_defaults(func=cmd_run)
    c = sub.add_parser("ctl", help="change a setting of the running daemon")
    c.add_argument("action", choices=["set", "bypass"])
    c.add_argument("args", nargs="*")
    c.add_argument("--socket")
    c.set_defaults(func=cmd_ctl)
    pn = sub.add_parser("panel", help="the front panel (knobs + OLED), or its simulator")
    pn.add_argument("--sim", action="store_true", help="in this terminal: keys act as knobs")
    pn.add_argument("--snapshots", metavar="DIR", help="write every screen as PNG and exit")
    pn.add_argument("--frames", type=int, default=0, help="(--sim) stop after N frames")
    pn.add_argument("--config")
    pn.add_argument("--socket")
    pn.set_defaults(func=cmd_panel)
    st = sub.add_parser("status", help="the running daemon's status")
    st.add_argument("--json", action="store_true")
    st.add_argument("--socket")
    st.set_defaults(func=cmd_status)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
