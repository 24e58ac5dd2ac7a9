"""Hostile and careless use (issue 11): real processes, real files, real
sockets.  Each test reproduced a failure on edb97ae (see the notes) and pins
the fix."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


def mb(*args, env=None, timeout=600):
    e = dict(os.environ if env is None else env)
    return subprocess.run([sys.executable, "-m", "masterbox.firmware.cli", *map(str, args)], env=e,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def one_line(r, expect):
    """Exit 2, exactly one line on stderr containing ``expect``, no traceback."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    assert len(lines) == 1, r.stderr
    assert expect in lines[0], lines[0]


# ---------------------------------------------------------------- 1. files

@pytest.fixture
def song(tmp_path):
    from masterbox.firmware.demo import synth_mix
    p = tmp_path / "song.wav"
    sf.write(p, synth_mix(48000, 1.5), 48000, subtype="FLOAT")
    return p


def no_temp_left(folder: Path):
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("how", ["same", "dot", "symlink", "hardlink"])
def test_render_never_overwrites_its_input(song, tmp_path, how):
    # before: "render song.wav song.wav" truncated the input to an 88-byte header
    before = song.read_bytes()
    out = {"same": song, "dot": tmp_path / "." / "song.wav",
           "symlink": tmp_path / "link.wav", "hardlink": tmp_path / "hard.wav"}[how]
    if how == "symlink":
        out.symlink_to(song)
    elif how == "hardlink":
        os.link(song, out)
    r = mb("render", song, out)
    one_line(r, "is the input file")
    assert song.read_bytes() == before
    no_temp_left(tmp_path)


@pytest.mark.parametrize("ext,fmt", [(".wav", "WAV"), (".flac", "FLAC"), (".ogg", "OGG"),
                                     (".FLAC", "FLAC")])
def test_output_format_follows_the_extension(song, tmp_path, ext, fmt):
    # before: out.flac held WAV data
    out = tmp_path / f"out{ext}"
    r = mb("render", song, out, "--intensity", 3)
    assert r.returncode == 0, r.stderr
    info = sf.info(out)
    assert info.format == fmt and info.channels == 2
    assert info.frames == sf.info(song).frames
    no_temp_left(tmp_path)


@pytest.mark.parametrize("name", ["out.mp3", "out", "out.wav.bak"])
def test_unknown_output_format_is_refused(song, tmp_path, name):
    # before: out.mp3 was written as WAV data
    r = mb("render", song, tmp_path / name)
    one_line(r, "unsupported output format")
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("case", ["nodir", "proc", "directory", "input_dir"])
def test_render_io_errors_are_one_line_exit_2(song, tmp_path, case):
    # before: traceback and exit 1
    out = {"nodir": "/nonexistent/dir/out.wav", "proc": "/proc/out.wav",
           "directory": str(tmp_path), "input_dir": str(tmp_path / "o.wav")}[case]
    src = tmp_path if case == "input_dir" else song
    r = mb("render", src, out)
    expect = {"nodir": "does not exist", "proc": "cannot write", "directory": "is a directory",
              "input_dir": "is a directory"}[case]
    one_line(r, expect)


def test_failed_render_keeps_the_old_output(song, tmp_path):
    """A render cut short (here: the input ends early) never leaves a half
    file where the user's previous output was."""
    out = tmp_path / "out.wav"
    out.write_bytes(b"previous render")
    bad = tmp_path / "cut.wav"
    data = song.read_bytes()
    bad.write_bytes(data[: len(data) // 2])   # header says more frames than there are
    r = mb("render", bad, out)
    assert r.returncode in (0, 2) and "Traceback" not in r.stderr
    if r.returncode == 2:
        assert out.read_bytes() == b"previous render"
    no_temp_left(tmp_path)


def _small_file_limit():
    import resource
    import signal as sig
    sig.signal(sig.SIGXFSZ, sig.SIG_IGN)          # a write over the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))


@pytest.mark.parametrize("ext", [".wav", ".flac"])
def test_write_error_mid_render_is_one_line_and_keeps_the_old_output(song, tmp_path, ext):
    """A real write failure part-way (RLIMIT_FSIZE: "File too large", as a
    full disk would give ENOSPC).  Before: traceback, exit 1, a truncated file."""
    out = tmp_path / f"out{ext}"
    out.write_bytes(b"previous render")
    e = dict(os.environ)
    r = subprocess.run([sys.executable, "-m", "masterbox.firmware.cli", "render", song, out, "--pcm"]
                       if ext == ".wav" else
                       [sys.executable, "-m", "masterbox.firmware.cli", "render", song, out], env=e,
                       capture_output=True, text=True, timeout=600, cwd=ROOT,
                       preexec_fn=_small_file_limit)
    if r.returncode == 0:
        pytest.skip("the output fitted under the limit")
    one_line(r, "cannot write")
    assert out.read_bytes() == b"previous render"
    no_temp_left(tmp_path)


@pytest.mark.parametrize("where", ["/nonexistent/x.png", "dir", "audio", "input"])
def test_report_to_a_bad_path_is_refused_before_work(song, tmp_path, where):
    # before: traceback after the WAV was written
    out = tmp_path / "out.wav"
    png = {"/nonexistent/x.png": "/nonexistent/x.png", "dir": str(tmp_path),
           "audio": str(out), "input": str(song)}[where]
    before = song.read_bytes()
    r = mb("render", song, out, "--report", png)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1
    assert song.read_bytes() == before
    assert not out.exists()


def test_report_without_matplotlib_names_the_extra(song, tmp_path):
    """A real interpreter whose import path holds every installed package but
    matplotlib (symlinks to the venv's site-packages, ``-S``: no site hooks,
    so masterbox is a folder of symlinks to this checkout's packages)."""
    import numpy
    site = Path(numpy.__file__).resolve().parents[1]
    lib = tmp_path / "site"
    lib.mkdir()
    for entry in site.iterdir():
        if entry.name.startswith(("matplotlib", "mpl_toolkits")) or entry.suffix == ".pth":
            continue
        (lib / entry.name).symlink_to(entry)
    (lib / "masterbox").mkdir()
    for pkg in ("dsp", "firmware", "ui"):
        (lib / "masterbox" / pkg).symlink_to(ROOT / pkg)
    env = dict(os.environ, PYTHONPATH=str(lib))
    probe = subprocess.run([sys.executable, "-S", "-c", "import matplotlib"], env=env,
                           capture_output=True, text=True)
    assert probe.returncode != 0            # really absent
    r = subprocess.run([sys.executable, "-S", "-m", "masterbox.firmware.cli", "render", song,
                        tmp_path / "o.wav", "--report", tmp_path / "r.png"], env=env,
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    one_line(r, "masterbox[report]")
    assert not (tmp_path / "o.wav").exists()


def test_true_peak_of_a_file_with_nan_is_reported(tmp_path):
    # before: "true peak in -inf dBTP"
    from conftest import true_peak_8x_dbtp
    x = (0.1 * np.random.default_rng(0).standard_normal((48000 * 2, 2))).astype(np.float32)
    clean = x.copy()
    x[1000:2000] = np.nan
    x[5000, 1] = np.inf
    clean[1000:2000] = 0.0
    clean[5000, 1] = 0.0
    src = tmp_path / "nan.wav"
    sf.write(src, x, 48000, subtype="FLOAT")
    r = mb("render", src, tmp_path / "o.wav")
    assert r.returncode == 0, r.stderr
    m = re.search(r"true peak\s+in (\S+) dBTP", r.stdout)
    assert m and m.group(1) != "-inf", r.stdout
    assert float(m.group(1)) == pytest.approx(true_peak_8x_dbtp(clean), abs=0.3)


# ------------------------------------------------- 2. config, presets, state

BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"] +
                 [f"{c}: &{c} [{', '.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")]) + "\n"
DEEP_FLOW = "a: " + "[" * 100000 + "\n"
DEEP_MAP = "a: " + "{b: " * 200 + "1" + "}" * 200 + "\n"
BIG_INT = "1" * 5000


def _special(kind):
    """Files that are not text: made in the folder by ``make(path)``."""
    def make(path: Path):
        if kind == "dir":
            path.mkdir()
        elif kind == "loop":
            path.symlink_to(path.name)
        elif kind == "dangling":
            path.symlink_to(path.parent / "nowhere.yaml")
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "chardev":
            path.symlink_to("/dev/zero")
    return make


# content (bytes or str or maker), expected substring
CONFIG_CASES = {
    "binary": (bytes(range(256)) * 4, "binary"),
    "utf16": ("audio: {blocksize: 128}\n".encode("utf-16"), "UTF-16"),
    "latin1": ("defaults: {genre: café}\n".encode("latin-1"), "not UTF-8"),
    "latin1_line3": ("log_level: info\n\n# é\n".encode("latin-1"), "config.yaml:3:"),
    "tag_mapping": ("audio: !foo {blocksize: 128}\n", "tag"),
    "tag_scalar": ("log_level: !foo info\n", "tag"),
    "tag_python": ("log_level: !!python/object/apply:os.system [true]\n", "tag"),
    "tag_binary": ("state_file: !!binary aGVsbG8=\n", "tag"),
    "tag_set": ("presets_dirs: !!set {a, b}\n", "tag"),
    "complex_key_list": ("? [a]\n: 1\n", "key must be plain text"),
    "complex_key_map": ("? {a: 1}\n: 1\n", "key must be plain text"),
    "recursive_alias_list": ("x: &a [*a]\n", "nested deeper"),
    "recursive_alias_map": ("x: &a {y: *a}\n", "nested deeper"),
    "big_int": (f"audio: {{blocksize: {BIG_INT}}}\n", "a number of 5000 characters"),
    "big_float": (f"defaults: {{intensity: {BIG_INT}.5}}\n", "a number of"),
    "big_int_hex": (f"audio: {{blocksize: 0x{'f' * 5000}}}\n", "a number of"),
    "billion_laughs": (BOMB, "alias"),
    "deep_flow": (DEEP_FLOW, "nested"),
    "deep_mapping": (DEEP_MAP, "nested"),
    "too_big": (("# " + "x" * 1024 + "\n") * 1100, "bytes"),
    "dir": (_special("dir"), "is a directory"),
    "symlink_loop": (_special("loop"), "symlink loop"),
    "dangling_symlink": (_special("dangling"), "not found"),
    "fifo": (_special("fifo"), "not a regular file"),
    "char_device": (_special("chardev"), "not a regular file"),
    "duplicate_key": ("log_level: info\nlog_level: debug\n", "duplicate key"),
    "merge_key": ("base: &b {blocksize: 128}\naudio:\n  <<: *b\n", "merge keys"),
    "two_documents": ("log_level: info\n---\nlog_level: debug\n", "YAML"),
    "control_char": ("log_level: in\x07fo\n", "YAML"),
    "tab_indent": ("audio:\n\tblocksize: 128\n", "YAML"),
    "not_mapping": ("- a\n- b\n", "expected a mapping"),
    "scalar_doc": ("just text\n", "expected a mapping"),
    "intensity_true": ("defaults: {intensity: true}\n", "expected a number"),
    "intensity_nan": ("defaults: {intensity: .nan}\n", "out of range"),
    "target_list": ("defaults: {target: [1, 2]}\n", "target"),
    "presets_dirs_text": ("presets_dirs: /etc\n", "list of texts"),
    "state_file_number": ("state_file: 5\n", "expected text"),
    "audio_number": ("audio: 5\n", "expected a mapping"),
    "genre_list": ("defaults: {genre: [rock]}\n", "expected text"),
}

GOOD_PRESET = "name: mine\ninherit: pop\nstereo: {width: 1.2}\n"

PRESET_CASES = {
    "binary": (b"\x00\x01\x02name: x\n", "binary"),
    "utf16": (GOOD_PRESET.encode("utf-16"), "UTF-16"),
    "latin1": ("name: café\ninherit: pop\n".encode("latin-1"), "not UTF-8"),
    "tag": ("name: !foo x\ninherit: pop\n", "tag"),
    "recursive_alias": ("name: x\ninherit: pop\neq: &a {peak1: *a}\n", "nested deeper"),
    "billion_laughs": ("name: x\ninherit: pop\n" + BOMB, "alias"),
    "big_int": (f"name: x\ninherit: pop\nsubsonic_hz: {BIG_INT}\n", "a number of"),
    "complex_key": ("name: x\n? [inherit]\n: pop\n", "key must be plain text"),
    "inherit_list": ("name: x\ninherit: [pop]\n", "inherit: expected the name of one preset"),
    "inherit_mapping": ("name: x\ninherit: {pop: 1}\n", "inherit: expected the name of one preset"),
    "inherit_unknown": ("name: x\ninherit: popp\n", "did you mean 'pop'"),
    "inherit_no_name": ("inherit: pop\nstereo: {width: 1.2}\n", "needs its own name"),
    "inherit_self": ("name: x\ninherit: x\n", "inherit"),
    "symlink_loop": (_special("loop"), "symlink loop"),
    "dir": (_special("dir"), "is a directory"),
    "fifo": (_special("fifo"), "not a regular file"),
    "empty": ("", "expected a preset"),
    "name_list": ("name: [1, 2]\ninherit: pop\n", "name"),
    "eq_list": ("name: x\ninherit: pop\neq: [1, 2]\n", "eq"),
    "multiband_number": ("name: x\ninherit: pop\nmultiband: 5\n", "multiband"),
    "too_big": ("name: x\n" + "# " + "x" * (1 << 20) + "\n", "bytes"),
}


def _remove(path: Path):
    if path.is_dir() and not path.is_symlink():
        path.rmdir()
    elif os.path.lexists(path):
        path.unlink()


def _place(path: Path, content):
    _remove(path)
    if callable(content):
        content(path)
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


def _file_line_errors(r, expect, timeout_note=""):
    assert r.returncode == 2, (r.returncode, r.stderr[-1500:])
    assert "Traceback" not in r.stderr, r.stderr[-1500:]
    lines = r.stderr.strip().splitlines()
    assert lines
    for line in lines:
        assert re.match(r"^masterbox: [^:]+:\d+: \S", line), line
    assert expect in r.stderr, r.stderr


def _run_config(cfg: Path):
    # exit 2 at config load, before audio: no PortAudio needed
    return mb("run", "--config", cfg, timeout=30)


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_fuzz_config(tmp_path, case):
    content, expect = CONFIG_CASES[case]
    cfg = tmp_path / "config.yaml"
    _place(cfg, content)
    _file_line_errors(_run_config(cfg), expect)


@pytest.mark.parametrize("case", sorted(PRESET_CASES))
def test_fuzz_preset(tmp_path, case):
    content, expect = PRESET_CASES[case]
    d = tmp_path / "presets.d"
    d.mkdir()
    _place(d / "user.yaml", content)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"presets_dirs: [{d}]\nstate_file: {tmp_path}/s.json\n")
    _file_line_errors(_run_config(cfg), expect)
    r = mb("presets", "--check", d, timeout=30)
    _file_line_errors(r, expect)


def test_preset_symlinked_outside_is_refused_unread(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("password: hunter2\n")
    d = tmp_path / "presets.d"
    d.mkdir()
    (d / "x.yaml").symlink_to(secret)
    r = mb("presets", "--check", d, timeout=30)
    _file_line_errors(r, "outside the preset folders")
    assert "hunter2" not in r.stderr and "password" not in r.stderr


def test_inherit_from_a_later_file_and_cycles(tmp_path):
    d = tmp_path / "presets.d"
    d.mkdir()
    # before: "unknown preset 'z'" although z.yaml sits in the same folder
    (d / "a.yaml").write_text("name: a\ninherit: z\n")
    (d / "z.yaml").write_text("name: z\ninherit: pop\nstereo: {width: 1.3}\n")
    r = mb("presets", "--presets", d, timeout=30)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^a ", r.stdout, re.M) and re.search(r"^z ", r.stdout, re.M)
    (d / "c1.yaml").write_text("name: c1\ninherit: c2\n")
    (d / "c2.yaml").write_text("name: c2\ninherit: c1\n")
    _file_line_errors(mb("presets", "--check", d, timeout=30), "cycle")


def test_every_config_problem_reported_at_once(tmp_path):
    # before: config errors hid the preset, genre and target errors
    d = tmp_path / "presets.d"
    d.mkdir()
    (d / "bad.yaml").write_text("name: b\ninherit: pop\nstereo: {width: 9}\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"audio: {{blocksize: 8}}\npresets_dirs: [{d}]\n"
                   "defaults: {genre: rok, target: loudd, intensity: 11}\nlog_level: loud\n")
    r = _run_config(cfg)
    _file_line_errors(r, "blocksize")
    for expect in ("blocksize", "stereo.width", "did you mean 'rock'", "did you mean 'loud'",
                   "intensity", "log_level"):
        assert expect in r.stderr, (expect, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 6


STATE_CASES = {
    "binary": bytes(range(256)),
    "utf16": '{"version": 1}'.encode("utf-16"),
    "latin1": '{"genre": "café"}'.encode("latin-1"),
    "deep_list": b"[" * 60000 + b"]" * 60000,
    "deep_dict": b'{"a":' * 20000 + b"1" + b"}" * 20000,
    "big_int": b'{"version": 1, "intensity": ' + b"1" * 5000 + b"}",
    "huge_int_4000": (b'{"version": 1, "genre": "pop", "intensity": ' + b"9" * 4000 +
                      b', "target_lufs": -14, "ceiling_dbtp": -1, "bypass": false}'),
    "too_big": b'{"version": 1, "pad": "' + b"x" * (2 << 20) + b'"}',
    "dir": _special("dir"),
    "symlink_loop": _special("loop"),
    "fifo": _special("fifo"),
    "char_device": _special("chardev"),
    "intensity_true": b'{"version": 1, "genre": "pop", "intensity": true, "target_lufs": -14, '
                      b'"ceiling_dbtp": -1, "bypass": false}',
    "nan": b'{"version": 1, "genre": "pop", "intensity": NaN, "target_lufs": -14, '
           b'"ceiling_dbtp": -1, "bypass": false}',
    "inf": b'{"version": 1, "genre": "pop", "intensity": 5, "target_lufs": 1e999, '
           b'"ceiling_dbtp": -1, "bypass": false}',
    "list": b"[1, 2, 3]",
    "null": b"null",
    "genre_list": b'{"version": 1, "genre": ["pop"], "intensity": 5, "target_lufs": -14, '
                  b'"ceiling_dbtp": -1, "bypass": false}',
    "truncated": b'{"version": 1, "genre": "po',
    "version_2": b'{"version": 2, "genre": "pop", "intensity": 5, "target_lufs": -14, '
                 b'"ceiling_dbtp": -1, "bypass": false}',
}


def test_fuzz_state_files_give_defaults_and_one_warning(tmp_path):
    """Every hostile state file: safe defaults and exactly one warning line,
    in a real interpreter reading real files."""
    for name, content in STATE_CASES.items():
        d = tmp_path / name
        d.mkdir()
        _place(d / "state.json", content)
    code = (
        "import logging, sys, json\n"
        "from masterbox.firmware.state import load_state\n"
        "from masterbox.firmware import presets as pr\n"
        "logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s', stream=sys.stdout)\n"
        "ps = pr.load_presets()\n"
        "D = {'genre': 'rock', 'intensity': 6.0, 'target_lufs': -14.0, 'ceiling_dbtp': -1.0, 'bypass': False}\n"
        "for name in sys.argv[1:]:\n"
        "    print('CASE', name, flush=True)\n"
        f"    st = load_state('{tmp_path}/' + name + '/state.json', D, ps)\n"
        "    print('RESULT', json.dumps(st == D), flush=True)\n")
    r = subprocess.run([sys.executable, "-c", code, *STATE_CASES], capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    blocks = r.stdout.split("CASE ")[1:]
    assert len(blocks) == len(STATE_CASES)
    for b in blocks:
        name = b.split()[0]
        assert "RESULT true" in b, b[:500]
        assert b.count("WARNING") == 1, (name, b[:500])
        assert len(b) < 2000, (name, "the warning must be short")


# --------------------------------------------- the daemon (ALSA file devices)

import ctypes.util  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402

from daemon_util import alsa_home, env_for, start_daemon, wait_for_socket, write_config  # noqa: E402

needs_portaudio = pytest.mark.skipif(ctypes.util.find_library("portaudio") is None,
                                     reason="libportaudio2 not installed")


@pytest.fixture(scope="module")
def warm_cache():
    r = subprocess.run([sys.executable, "-m", "masterbox.firmware.cli", "warmup"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.fixture
def live(tmp_path, warm_cache):
    """(tmp, env, cfg): a config for a daemon that runs until stopped
    (input and output are files; output to /dev/null)."""
    from masterbox.firmware.demo import synth_mix
    synth_mix(48000, 2.0).tofile(tmp_path / "in.raw")
    env = env_for(alsa_home(tmp_path, out_file=None))
    return tmp_path, env, write_config(tmp_path)


def status(sock, env, timeout=10):
    r = mb("status", "--json", "--socket", sock, env=env, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def stop(p, timeout=15):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


SIGHUP_CASES = ["binary", "latin1", "tag_scalar", "complex_key_list", "recursive_alias_list",
                "big_int", "symlink_loop", "billion_laughs", "deep_flow", "dir", "fifo"]
SIGHUP_PRESET_CASES = ["symlink_loop", "binary", "inherit_list", "billion_laughs"]


@needs_portaudio
def test_sighup_with_hostile_files_keeps_running(live):
    """Before: 9 of 13 kinds of bad file killed the daemon on SIGHUP; an alias
    bomb hung the main loop at 1.9 GB.  Now every one is logged once, shown in
    status, and the running config stays."""
    tmp, env, cfg = live
    good = cfg.read_text()
    presets_d = tmp / "presets.d"
    presets_d.mkdir()
    p = start_daemon(cfg, env, stderr=subprocess.PIPE, text=True)
    sock = tmp / "control.sock"
    try:
        assert wait_for_socket(sock, 30)
        assert mb("ctl", "set", "genre", "jazz", "--socket", sock, env=env).returncode == 0
        st0 = status(sock, env)
        n = 0

        def hup_and_check(expect_file):
            nonlocal n
            t0 = time.monotonic()
            p.send_signal(signal.SIGHUP)
            n += 1
            while True:
                if "reloads" not in st0:          # edb97ae had no reload counter
                    time.sleep(2)
                    assert p.poll() is None, f"daemon died on SIGHUP: exit {p.returncode}"
                st = status(sock, env)
                if st.get("reloads", n) >= n:
                    break
                assert time.monotonic() - t0 < 10, "reload did not finish"
                time.sleep(0.1)
            assert p.poll() is None
            assert st["config_error"] and expect_file in st["config_error"], st["config_error"]
            assert st["genre"] == "jazz" and st["state"] in ("running", "starting")
            return time.monotonic() - t0

        for case in SIGHUP_CASES:
            _place(cfg, CONFIG_CASES[case][0])
            dt = hup_and_check("config.yaml")
            assert dt < 5, (case, dt)
        _remove(cfg)
        cfg.write_text(good.replace("presets_dirs: []", f"presets_dirs: [{presets_d}]"))
        for case in SIGHUP_PRESET_CASES:
            for f in presets_d.iterdir():
                _remove(f)
            _place(presets_d / "user.yaml", PRESET_CASES[case][0])
            hup_and_check("user.yaml")
        for f in presets_d.iterdir():
            _remove(f)
        p.send_signal(signal.SIGHUP)
        t0 = time.monotonic()
        while status(sock, env)["reloads"] < n + 1:
            assert time.monotonic() - t0 < 10
            time.sleep(0.1)
        assert status(sock, env)["config_error"] is None
    finally:
        stop(p)
    err = p.stderr.read()
    assert p.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    assert err.count("keeping the running configuration") == n


@needs_portaudio
@pytest.mark.parametrize("case", ["deep_list", "binary", "dir", "fifo", "intensity_true"])
def test_hostile_state_file_starts_with_defaults(live, case):
    """Before: a deeply nested state.json stopped every start (RecursionError)."""
    tmp, env, cfg = live
    _place(tmp / "state.json", STATE_CASES[case])
    p = start_daemon(cfg, env, stderr=subprocess.PIPE, text=True)
    sock = tmp / "control.sock"
    try:
        assert wait_for_socket(sock, 30), "daemon did not start"
        st = status(sock, env)
        assert st["genre"] == "rock" and st["intensity"] == 6.0      # the config's defaults
    finally:
        stop(p)
    err = p.stderr.read()
    assert p.returncode == 0 and "Traceback" not in err, err[-3000:]
    assert len([ln for ln in err.splitlines() if "state" in ln and "WARNING" in ln]) == 1, err


# ------------------------------------------------------------ 3. state saving

@needs_portaudio
def test_setting_survives_a_bad_reload_and_kill_9(live):
    """Before: ctl set genre speech, then a SIGHUP with a bad file: the
    daemon died and the state file still held the old genre.  The debounce is
    stretched to 60 s so only the flush before the reload can save it."""
    tmp, env, cfg = live
    env["MASTERBOX_STATE_DEBOUNCE_S"] = "60"
    p = start_daemon(cfg, env, stderr=subprocess.PIPE, text=True)
    sock = tmp / "control.sock"
    try:
        assert wait_for_socket(sock, 30)
        assert mb("ctl", "set", "genre", "speech", "--socket", sock, env=env).returncode == 0
        _place(cfg, CONFIG_CASES["binary"][0])
        p.send_signal(signal.SIGHUP)
        t0 = time.monotonic()
        while not (tmp / "state.json").exists() and p.poll() is None and time.monotonic() - t0 < 5:
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        if p.poll() is None:
            p.kill()                # no exit flush: only the pre-reload flush counts
        p.wait()
    assert (tmp / "state.json").exists(), (p.returncode, p.stderr.read()[-2000:])
    saved = json.loads((tmp / "state.json").read_text())
    assert saved["genre"] == "speech"


@needs_portaudio
def test_pending_setting_is_flushed_on_sigterm(live):
    tmp, env, cfg = live
    env["MASTERBOX_STATE_DEBOUNCE_S"] = "60"
    p = start_daemon(cfg, env, stderr=subprocess.PIPE, text=True)
    sock = tmp / "control.sock"
    try:
        assert wait_for_socket(sock, 30)
        assert mb("ctl", "set", "intensity", "3.5", "--socket", sock, env=env).returncode == 0
        assert not (tmp / "state.json").exists()
    finally:
        stop(p)
    assert p.returncode == 0
    assert json.loads((tmp / "state.json").read_text())["intensity"] == 3.5


@needs_portaudio
def test_failed_save_is_retried_and_shown_in_status(live):
    """Before: the saver cleared its "changed" flag before writing, so a failed
    save was never retried and the setting was lost even at a clean exit.
    Here the state folder is a regular file (ENOTDIR, real even as root)
    until the test replaces it with a folder."""
    tmp, env, cfg = live
    sub = tmp / "statedir"
    sub.write_text("not a folder")
    cfg.write_text(cfg.read_text().replace(f"state_file: {tmp}/state.json",
                                           f"state_file: {sub}/state.json"))
    env["MASTERBOX_STATE_DEBOUNCE_S"] = "0.5"
    p = start_daemon(cfg, env, stderr=subprocess.PIPE, text=True)
    sock = tmp / "control.sock"
    try:
        assert wait_for_socket(sock, 30)
        assert mb("ctl", "set", "genre", "jazz", "--socket", sock, env=env).returncode == 0
        t0 = time.monotonic()
        st = {}
        while time.monotonic() - t0 < 10:
            st = status(sock, env)
            if st.get("state_save_error"):
                break
            time.sleep(0.2)
        assert st.get("state_save_error") and st.get("state_unsaved") is True, st
        r = mb("status", "--socket", sock, env=env)
        assert "SETTINGS NOT SAVED" in r.stdout
        sub.unlink()
        sub.mkdir()
        t0 = time.monotonic()
        while not (sub / "state.json").exists() and time.monotonic() - t0 < 15:
            time.sleep(0.2)
        assert json.loads((sub / "state.json").read_text())["genre"] == "jazz"
        st = status(sock, env)
        assert st["state_save_error"] is None and st["state_unsaved"] is False
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
    err = p.stderr.read()
    assert "retrying in" in err and "after" in err and "failed attempts" in err


# ---------------------------------------------------------- 4. control socket

import socket  # noqa: E402
import threading  # noqa: E402


def _proc(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _connect(sock_path, timeout=5.0):
    end = time.monotonic() + 2
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(str(sock_path))
            return s
        except BlockingIOError:                  # backlog full for a moment: retry
            s.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.01)


def _read_line(s, limit=1 << 20):
    buf = b""
    while not buf.endswith(b"\n") and len(buf) < limit:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


@pytest.fixture
def daemon(live):
    tmp, env, cfg = live
    p = start_daemon(cfg, env, stderr=subprocess.PIPE, text=True)
    sock = tmp / "control.sock"
    assert wait_for_socket(sock, 30)
    yield p, sock, env, tmp
    stop(p)


@needs_portaudio
def test_client_cap_busy_line_and_idle_eviction(daemon):
    """Before: one thread per connection, no cap (3000 idle connections left
    ~2800 threads and status unreachable)."""
    from masterbox.firmware.control import MAX_CLIENTS, query_status
    p, sock, env, tmp = daemon
    idle = [_connect(sock) for _ in range(MAX_CLIENTS)]
    time.sleep(0.1)
    extra = _connect(sock)                       # all slots young: busy, closed
    line = _read_line(extra)
    assert b'"busy' in line and _read_line(extra) == b""
    time.sleep(0.6)                              # now the idle ones may make room
    st = query_status(str(sock))
    assert st["state"] in ("running", "starting")
    assert _proc(p.pid, "Threads") < 30
    for s in idle:
        s.close()
    extra.close()


@needs_portaudio
def test_long_line_is_refused_and_closed(daemon):
    p, sock, env, tmp = daemon
    rss0 = _proc(p.pid, "VmRSS")
    s = _connect(sock)
    s.settimeout(10)
    sent = 0
    try:
        while sent < 64 << 20:                   # try 64 MiB without a newline
            sent += s.send(b"x" * (1 << 20))
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    line = _read_line(s)
    assert b"longer than 65536 bytes" in line, line[:200]
    assert sent < 32 << 20                       # the daemon stopped reading early
    assert _proc(p.pid, "VmRSS") - rss0 < 20 * 1024
    s.close()
    # a value near the limit is answered with a short error, not echoed back
    s = _connect(sock)
    s.sendall(json.dumps({"cmd": "set", "key": "bypass", "value": "y" * 60000}).encode() + b"\n")
    reply = _read_line(s)
    assert len(reply) < 1000 and b'"ok": false' in reply
    s.close()
    # JSON true is not intensity 1.0 (before: accepted as 1.0)
    s = _connect(sock)
    s.sendall(b'{"cmd": "set", "key": "intensity", "value": true}\n')
    reply = _read_line(s)
    assert b'"ok": false' in reply and b"must be a number" in reply
    s.close()
    assert status(sock, env)["intensity"] == 6.0


@needs_portaudio
def test_read_timeout_and_early_hangups(daemon):
    from masterbox.firmware.control import CLIENT_TIMEOUT_S
    p, sock, env, tmp = daemon
    s = _connect(sock, timeout=CLIENT_TIMEOUT_S + 5)
    s.sendall(b'{"cmd": "sta')                   # half a request, then nothing
    t0 = time.monotonic()
    line = _read_line(s)
    dt = time.monotonic() - t0
    assert b"timeout" in line and _read_line(s) == b""
    assert CLIENT_TIMEOUT_S - 0.5 <= dt <= CLIENT_TIMEOUT_S + 2
    s.close()
    for _ in range(50):                          # ask, and hang up before the reply
        c = _connect(sock)
        c.sendall(b'{"cmd": "status"}\n' * 20)
        c.close()
    time.sleep(0.5)
    assert p.poll() is None
    stop(p)
    err = p.stderr.read()
    # before: every early hang-up wrote a BrokenPipe traceback to the log
    assert "Traceback" not in err and "BrokenPipe" not in err


class ScriptedDaemon:
    """A real UNIX socket that answers every connection with fixed bytes."""

    def __init__(self, path, reply: bytes, delay=0.0):
        self.path, self.reply, self.delay = str(path), reply, delay
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(16)
        self.srv.settimeout(0.2)
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop:
            try:
                c, _ = self.srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                c.settimeout(2)
                c.recv(65536)
                time.sleep(self.delay)
                c.sendall(self.reply)
            except OSError:
                pass
            c.close()

    def close(self):
        self.stop = True
        self.t.join(timeout=2)
        self.srv.close()


REPLIES = {
    "empty": (b"", "without a reply"),
    "partial": (b'{"ok": true, "stat', "cut short"),
    "not_json": (b"hello\n", "not valid JSON"),
    "not_object": (b"[1, 2]\n", "not a status object"),
    "ok_false": (b'{"ok": false, "error": "something broke"}\n', "something broke"),
    "ok_false_bare": (b'{"ok": false}\n', "refused"),
    "no_status": (b'{"ok": true}\n', "holds no status"),
    "status_list": (b'{"ok": true, "status": [1]}\n', "holds no status"),
    "busy": (b'{"ok": false, "error": "busy: 16 clients connected; try again"}\n', "busy"),
}


@pytest.mark.parametrize("case", sorted(REPLIES))
def test_cli_and_panel_survive_bad_replies(tmp_path, case):
    """Before: status and the panel crashed (exit 1, traceback) on an empty,
    half or {"ok": false} reply."""
    reply, expect = REPLIES[case]
    path = tmp_path / "d.sock"
    d = ScriptedDaemon(path, reply)
    try:
        for args in (["status"], ["status", "--json"], ["ctl", "set", "genre", "rock"]):
            r = mb(*args, "--socket", path, timeout=30)
            one_line(r, expect)
        code = ("import sys, logging\n"
                "logging.basicConfig(level=logging.WARNING)\n"
                "from masterbox.ui.panel import Panel\n"
                f"p = Panel({str(path)!r})\n"
                "p.tick(0.0); p.tick(10.0)\n"
                "print('STATUS', p.status)\n")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                           timeout=60)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
        assert "STATUS None" in r.stdout
    finally:
        d.close()


def test_cli_retries_a_full_backlog_then_says_busy(tmp_path):
    """Before: a raw "[Errno 11] Resource temporarily unavailable"."""
    path = tmp_path / "full.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)                                 # never accepts: the backlog fills
    fill = []
    for _ in range(8):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(str(path))
        except BlockingIOError:
            c.close()
            break
        fill.append(c)
    t0 = time.monotonic()
    r = mb("status", "--socket", path, timeout=30)
    one_line(r, "too busy")
    assert time.monotonic() - t0 < 6
    # the same, but the daemon frees up after 0.5 s: the CLI's retry gets through
    def accept_later():
        time.sleep(0.5)
        for c in fill:
            c.close()
        srv.settimeout(5)
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            try:
                conn.settimeout(2)
                if conn.recv(65536):
                    conn.sendall(b'{"ok": true, "status": {"state": "running"}}\n')
            except OSError:
                pass
            conn.close()
    t = threading.Thread(target=accept_later, daemon=True)
    t.start()
    r = mb("status", "--json", "--socket", path, timeout=30)
    srv.close()
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["state"] == "running"


# -------------------------------------------------------------- 5. one instance

@needs_portaudio
def test_second_daemon_exits_2_and_leaves_the_first_alone(daemon):
    """Before: a second ``masterbox run`` deleted the first one's socket, took
    over, both played; when it exited, status said "not running"."""
    p, sock, env, tmp = daemon
    ino = os.stat(sock).st_ino
    r = mb("run", "--config", tmp / "config.yaml", env=env, timeout=60)
    one_line(r, "already running")
    assert str(p.pid) in r.stderr
    assert os.stat(sock).st_ino == ino and p.poll() is None
    assert status(sock, env)["state"] in ("running", "starting")


@needs_portaudio
@pytest.mark.parametrize("what", ["file", "symlink", "dir", "live_socket"])
def test_never_deletes_what_is_not_its_socket(live, what):
    tmp, env, cfg = live
    sock = tmp / "control.sock"
    target = tmp / "precious.txt"
    target.write_text("keep me")
    other = None
    if what == "file":
        sock.write_text("keep me too")
    elif what == "symlink":
        sock.symlink_to(target)
    elif what == "dir":
        sock.mkdir()
    else:                                         # some other program listens there
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        other.bind(str(sock))
        other.listen(1)
    before = os.lstat(sock)
    r = mb("run", "--config", cfg, env=env, timeout=60)
    try:
        one_line(r, str(sock))
        after = os.lstat(sock)
        assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
        assert target.read_text() == "keep me"
        if what == "file":
            assert sock.read_text() == "keep me too"
    finally:
        if other is not None:
            other.close()


@needs_portaudio
def test_stale_socket_is_replaced_and_foreign_file_kept_at_exit(live):
    tmp, env, cfg = live
    sock = tmp / "control.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(sock))
    s.close()                                     # a socket left by a crash: nobody listens
    p = start_daemon(cfg, env, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30:
            try:
                if status(sock, env, timeout=5)["state"]:
                    break
            except AssertionError:
                time.sleep(0.2)
        # someone replaces the socket path with a file while the daemon runs
        sock.unlink()
        sock.write_text("not yours")
    finally:
        stop(p)
    assert p.returncode == 0
    assert sock.read_text() == "not yours"        # the daemon removed only its own socket


# ------------------------------------------- 4. measured: a flood of clients

N_IDLE = 3000
BIG_LINE = 1 << 30


def _raw_status(sock_path, timeout=5.0):
    """(seconds, ok) for one status request with a plain socket (no retry)."""
    t0 = time.monotonic()
    end = t0 + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            s.connect(str(sock_path))
            s.sendall(b'{"cmd": "status"}\n')
            line = _read_line(s)
            if line.startswith(b'{"ok": true'):
                return time.monotonic() - t0, True
        except BlockingIOError:
            pass                                  # backlog full: retry, as the CLI does
        except OSError:
            pass
        finally:
            s.close()
        if time.monotonic() >= end:
            return time.monotonic() - t0, False
        time.sleep(0.01)


@pytest.fixture
def jack_server(jack_dummy):
    """The private JACK dummy server's name (conftest.jack_dummy)."""
    return jack_dummy.name


@needs_portaudio
def test_flood_of_idle_clients_and_a_1gb_line(tmp_path, warm_cache, jack_server):
    """3000 idle connections and a 1 GiB line without a newline against the
    daemon on a real-time paced (JACK dummy) device.  Before (issue 11):
    ~2800 threads, status unreachable, 2.4-3.5 GB RSS, ~150 xruns/s."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, N_IDLE + 500)), hard))
    cfg = write_config(tmp_path, input_device="system", output_device="system")
    env = env_for(tmp_path, JACK_DEFAULT_SERVER=jack_server)
    p = start_daemon(cfg, env, stderr=subprocess.PIPE, text=True)
    sock = tmp_path / "control.sock"
    res = {}
    idle = []
    try:
        assert wait_for_socket(sock, 30)
        time.sleep(2)
        st = json.loads(_status_json(sock))
        xr0, t_base = st["xruns_input"] + st["xruns_output"], time.monotonic()
        time.sleep(4)
        st = json.loads(_status_json(sock))
        res["baseline_xruns_per_s"] = round((st["xruns_input"] + st["xruns_output"] - xr0)
                                            / (time.monotonic() - t_base), 2)
        res["rss_before_kb"] = rss0 = _proc(p.pid, "VmRSS")
        peak = [rss0]
        sampling = [True]

        def sample():
            while sampling[0] and p.poll() is None:
                peak[0] = max(peak[0], _proc(p.pid, "VmRSS"))
                time.sleep(0.02)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        xr_load0 = st["xruns_input"] + st["xruns_output"]
        t_load = time.monotonic()
        # 3000 idle connections (never a byte), held open
        end = time.monotonic() + 20
        while len(idle) < N_IDLE and time.monotonic() < end:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(str(sock))
                idle.append(c)
            except BlockingIOError:
                c.close()
                time.sleep(0.001)
        res["idle_connections_opened"] = len(idle)
        res["open_idle_s"] = round(time.monotonic() - t_load, 2)
        # one line of 1 GiB without a newline (reconnecting when the daemon hangs up)
        sent = [0]

        def big_line():
            chunk = b"x" * (1 << 20)
            t_end = time.monotonic() + 30
            while sent[0] < BIG_LINE and time.monotonic() < t_end:
                try:
                    c = _connect(sock, timeout=5)
                except OSError:
                    time.sleep(0.01)
                    continue
                try:
                    while sent[0] < BIG_LINE and time.monotonic() < t_end:
                        sent[0] += c.send(chunk)
                except OSError:
                    pass
                finally:
                    c.close()
        sender = threading.Thread(target=big_line, daemon=True)
        sender.start()
        times = []
        for _ in range(10):
            times.append(_raw_status(sock))
            time.sleep(0.2)
        t_cli = time.monotonic()
        cli = mb("status", "--socket", sock, env=env, timeout=60)
        res["cli_status_s"] = round(time.monotonic() - t_cli, 2)
        res["cli_status_rc"] = cli.returncode
        sender.join(timeout=40)
        res["big_line_bytes_accepted"] = sent[0]
        res["status_s"] = [round(t, 3) for t, _ in times]
        res["status_ok"] = sum(ok for _, ok in times)
        res["threads_under_load"] = _proc(p.pid, "Threads")
        res["fds_under_load"] = len(os.listdir(f"/proc/{p.pid}/fd"))
        st = json.loads(_status_json(sock))
        dt = time.monotonic() - t_load
        res["load_xruns_per_s"] = round((st["xruns_input"] + st["xruns_output"] - xr_load0) / dt, 2)
        sampling[0] = False
        sampler.join(timeout=2)
        res["rss_peak_growth_mb"] = round((peak[0] - rss0) / 1024, 1)
    finally:
        for c in idle:
            c.close()
        t_stop = time.monotonic()
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        res["sigterm_s"] = round(time.monotonic() - t_stop, 2)
        res["exit"] = p.returncode
    print("\nFLOOD", json.dumps(res))
    if os.environ.get("MB_FLOOD_REPORT"):
        Path(os.environ["MB_FLOOD_REPORT"]).write_text(json.dumps(res, indent=1))
    assert res["status_ok"] == 10 and max(res["status_s"]) < 1.0, res
    assert res["cli_status_rc"] == 0, res
    assert res["rss_peak_growth_mb"] < 20, res
    assert res["threads_under_load"] < 30, res
    assert res["exit"] == 0 and res["sigterm_s"] < 5, res


def _status_json(sock):
    s = _connect(sock)
    try:
        s.sendall(b'{"cmd": "status"}\n')
        return json.dumps(json.loads(_read_line(s))["status"])
    finally:
        s.close()


# ----------------------------------------------------------- 6. the watchdog

class NotifyReceiver:
    """What systemd sees: a real $NOTIFY_SOCKET datagram socket."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.msgs = []
        self.run = True
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while self.run:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.msgs.append((time.monotonic(), data.decode("utf-8", "replace")))

    def pings(self, since=0.0):
        return [t for t, m in self.msgs if m == "WATCHDOG=1" and t >= since]

    def close(self):
        self.run = False
        self.t.join(timeout=2)
        self.sock.close()


def _max_gap(ts, t_end):
    ts = sorted(ts)
    return max([b - a for a, b in zip(ts, ts[1:])] + [t_end - ts[-1]]) if ts else float("inf")


@needs_portaudio
@pytest.mark.parametrize("device", ["missing", "present"])
def test_watchdog_pings_while_waiting_for_the_device(live, device):
    """Before: WATCHDOG=1 only while audio callbacks advanced, so while the
    daemon waited for an unplugged interface systemd (WatchdogSec=10) would
    have killed it.  Now the main loop pings while it and the audio
    supervisor are healthy, and needs audio progress only while audio is
    expected."""
    tmp, env, cfg = live
    if device == "missing":
        cfg.write_text(cfg.read_text().replace("input_device: mbloop", "input_device: nosuchcard"))
    rx = NotifyReceiver(tmp / "notify.sock")
    env = dict(env, NOTIFY_SOCKET=rx.path)
    p = subprocess.Popen([sys.executable, "-m", "masterbox.firmware.cli", "run", "--config", str(cfg),
                          "--wait-for-device"], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    sock = tmp / "control.sock"
    try:
        assert wait_for_socket(sock, 30)
        t0 = time.monotonic()
        time.sleep(12)                               # longer than WatchdogSec=10
        t1 = time.monotonic()
        st = status(sock, env)
        if device == "missing":
            assert st["state"] == "waiting-for-device"
            # truthful while waiting: no rate, no latency, no levels (item 10)
            assert st["samplerate_hz"] is None and st["latency_ms"] is None
            assert st["short_term_lufs"] is None
            line = mb("status", "--socket", sock, env=env).stdout
            assert "waiting-for-device" in line and "\u2014 Hz" in line
        else:                    # (the file device runs unpaced: mastering may engage late)
            assert st["state"] in ("running", "starting") and st["callbacks"] > 0
        pings = rx.pings(since=t0)
        assert any(m == "READY=1" for _, m in rx.msgs)
        assert len(pings) >= 8, len(pings)
        assert _max_gap(pings, t1) < 3.0
    finally:
        stop(p)
        rx.close()
    err = p.stderr.read()
    assert p.returncode == 0 and "withholding" not in err
    if device == "missing":
        assert "audio running" not in err and "waiting for the audio device" in err


# ------------------------------------------------------ 10. one typed status

def test_status_record_is_tolerant_and_truthful():
    from masterbox.firmware.notify import status_line
    from masterbox.firmware.status import Status
    eng = {"state": "running", "samplerate": 48000, "blocksize": 128, "latency_ms": 1.5,
           "short_term_lufs": -300.7, "integrated_lufs": float("-inf"), "momentary_lufs": -23.0,
           "true_peak_dbtp": -758.6, "gain_reduction_db": float("nan"), "mystery": 1}
    st = Status.from_engine(eng, genre="rock", intensity=6.0)
    assert st.short_term_lufs is None and st.integrated_lufs is None
    assert st.true_peak_dbtp is None and st.gain_reduction_db is None
    assert st.momentary_lufs == -23.0 and st.samplerate_hz == 48000
    line = status_line(st.to_dict())
    assert "S \u2014 LUFS" in line and "TP \u2014 dBTP" in line and "-300" not in line
    # whatever a reply holds, a client gets a complete, typed record
    for junk in (None, [], {"intensity": "loud", "bypass": "yes", "xruns_input": 1.5,
                            "genres": "pop", "state": 3}):
        s = Status.from_dict(junk)
        assert s.intensity == 0.0 and s.bypass is False and s.xruns_input == 0
        status_line(s.to_dict())
    json_ok = Status.from_engine({"state": "waiting-for-device", "samplerate": None,
                                  "latency_ms": 0.0, "short_term_lufs": -14.0}).to_dict()
    assert json_ok["latency_ms"] is None and json_ok["short_term_lufs"] is None


@needs_portaudio
def test_silence_shows_a_dash_not_minus_300(tmp_path, warm_cache, jack_server):
    """Before: ``status`` showed "S -300.7 LUFS" for silence.  The JACK dummy
    device's capture ports deliver digital silence."""
    jack = pytest.importorskip("jack")
    cfg = write_config(tmp_path, input_device="system", output_device="system")
    env = env_for(tmp_path, JACK_DEFAULT_SERVER=jack_server)
    p = start_daemon(cfg, env, stderr=subprocess.PIPE, text=True)
    sock = tmp_path / "control.sock"
    gen = None
    try:
        assert wait_for_socket(sock, 30)
        t0 = time.monotonic()
        st = {}
        while time.monotonic() - t0 < 30:
            st = json.loads(_status_json(sock))
            if st.get("mastering"):
                break
            time.sleep(0.5)
        assert st.get("mastering"), st
        # 2 s of noise into the daemon, then digital silence
        noise = (0.1 * np.random.default_rng(0).standard_normal(48000 * 2)).astype(np.float32)
        pos = [0]
        gen = jack.Client("mbsilence", servername=jack_server, no_start_server=True)
        outs = [gen.outports.register(f"o{k}") for k in range(2)]

        @gen.set_process_callback
        def process(frames):
            n = max(0, min(frames, len(noise) - pos[0]))
            for o in outs:
                buf = o.get_array()
                buf[:] = 0.0
                buf[:n] = noise[pos[0]:pos[0] + n]
            pos[0] += frames
        gen.activate()
        for k in range(2):
            for src in list(gen.get_all_connections(f"PortAudio:in_{k}")):
                gen.disconnect(src, f"PortAudio:in_{k}")
            gen.connect(outs[k], f"PortAudio:in_{k}")
        time.sleep(1.5)
        st = json.loads(_status_json(sock))
        assert st["momentary_lufs"] is not None and st["momentary_lufs"] > -60, {k: st.get(k) for k in ("momentary_lufs", "short_term_lufs", "callbacks", "true_peak_dbtp")}
        time.sleep(5.5)                          # the 3 s window holds only silence now
        st = json.loads(_status_json(sock))
        print("\nSILENCE", json.dumps({k: st.get(k) for k in ("short_term_lufs", "momentary_lufs",
                                                            "integrated_lufs", "true_peak_dbtp")}))
        out = mb("status", "--socket", sock, env=env).stdout
        print(out)
        assert st["short_term_lufs"] is None and st["momentary_lufs"] is None
        assert "S \u2014 LUFS" in out and "-300" not in out
    finally:
        if gen is not None:
            gen.deactivate()
            gen.close()
        stop(p)


def test_oled_home_shows_unsaved_settings_and_refused_config():
    pytest.importorskip("luma.core")
    from masterbox.ui.panel import DEMO_STATUS
    from masterbox.ui.screens import UiState, render
    base = np.array(render(dict(DEMO_STATUS), UiState()).convert("1"))
    unsaved = np.array(render(dict(DEMO_STATUS, state_save_error="cannot save"), UiState()).convert("1"))
    cfg = np.array(render(dict(DEMO_STATUS, config_error="x.yaml:1: bad"), UiState()).convert("1"))
    assert (base != unsaved)[54:, 48:].any() and (base != cfg)[54:, 48:].any()
    assert (unsaved != cfg)[54:, 48:].any()


@needs_portaudio
def test_signal_storm_then_sigterm_exits(daemon):
    """Signal handlers take no locks: a handler that set a threading.Event
    while the main loop held that Event's lock deadlocked the daemon, which
    then ignored SIGTERM for good (seen once in a full test run)."""
    p, sock, env, tmp = daemon
    for i in range(400):
        p.send_signal(signal.SIGHUP)
        time.sleep(0.002 + 0.003 * (i % 3))
    time.sleep(0.5)
    assert status(sock, env, timeout=20)["config_error"] is None
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("the daemon ignored SIGTERM after a signal storm")
    err = p.stderr.read()
    # a hang shows as the stop guard's exit 1 with every thread's stack
    assert p.returncode == 0 and time.monotonic() - t0 < 5, (p.returncode, err[-4000:])


@needs_portaudio
def test_a_stop_that_hangs_is_bounded_and_says_where(live):
    """Whatever hangs after SIGTERM (here: the main thread stopped with
    SIGSTOP would hang everything, so instead the orderly stop is made to
    block on a lock the test holds, through a config the daemon reads
    last), the stop guard ends the process within STOP_LIMIT_S and writes
    every thread's stack to stderr.  Before: a hung stop hung forever."""
    from masterbox.firmware.daemon import STOP_LIMIT_S
    tmp, env, cfg = live
    env = dict(env, MASTERBOX_TEST_HANG_ON_STOP="1")
    p = start_daemon(cfg, env, stderr=subprocess.PIPE, text=True)
    sock = tmp / "control.sock"
    assert wait_for_socket(sock, 30)
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=STOP_LIMIT_S + 10)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("a hung stop was not bounded")
    err = p.stderr.read()
    assert p.returncode == 1 and STOP_LIMIT_S - 1 < time.monotonic() - t0 < STOP_LIMIT_S + 5
    assert "stop took more than" in err and "Thread 0x" in err and "_hang_for_test" in err, err[-3000:]


# ------------------------------------------- 7. the warm-up wait: its verdict

def _run_until_audio(tmp, env, cfg, timeout=120):
    """Start the daemon, return (stderr lines up to 'audio running', process)."""
    p = subprocess.Popen([sys.executable, "-m", "masterbox.firmware.cli", "run", "--config", str(cfg)],
                         env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    lines = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = p.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "audio running" in line:
            break
    return lines, p


def _stop_tree(p):
    kids = []
    try:
        for t in os.listdir(f"/proc/{p.pid}/task"):
            kids += Path(f"/proc/{p.pid}/task/{t}/children").read_text().split()
    except OSError:
        pass
    stop(p)
    for k in kids:                       # a warm-up child still compiling
        try:
            os.kill(int(k), signal.SIGKILL)
        except OSError:
            pass


@needs_portaudio
def test_slow_warm_cache_is_waited_for_not_judged_cold(live):
    """Before (issue 11): the daemon judged a warm cache "cold" when `masterbox
    warmup` took 3.2 s on a loaded machine (a fixed 1.5 s wait; later 6 s)
    and played dry audio.  Now it waits for the warm-up's verdict: here the
    warm-up is slowed by 8 s (MASTERBOX_WARMUP_DELAY_S, as a loaded machine
    would) and the chain still runs from the first sample."""
    tmp, env, cfg = live
    lines, p = _run_until_audio(tmp, dict(env, MASTERBOX_WARMUP_DELAY_S="8"), cfg)
    try:
        text = "".join(lines)
        assert "audio running" in text and "(mastering)" in text, text
        assert "cold" not in text and "dry" not in text, text
    finally:
        _stop_tree(p)


@needs_portaudio
def test_cold_cache_starts_dry_on_the_warmups_word(live, tmp_path_factory):
    """A cold cache: the warm-up child says "compiling" at its first cache
    miss and the daemon starts the dry signal then, without a guessed wait."""
    tmp, env, cfg = live
    cache = tmp_path_factory.mktemp("cold-numba")
    lines, p = _run_until_audio(tmp, dict(env, NUMBA_CACHE_DIR=str(cache)), cfg, timeout=300)
    try:
        text = "".join(lines)
        assert "numba cache cold: compiling in the background" in text, text
        assert "dry until the kernels are ready" in text, text
    finally:
        _stop_tree(p)
