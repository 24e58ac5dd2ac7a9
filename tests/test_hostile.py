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
    e.setdefault("PYTHONPATH", str(ROOT))
    return subprocess.run([sys.executable, "-m", "firmware.cli", *map(str, args)], env=e,
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
    from firmware.demo import synth_mix
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
    matplotlib (symlinks to the venv's site-packages, ``-S``: no site hooks)."""
    import numpy
    site = Path(numpy.__file__).resolve().parents[1]
    lib = tmp_path / "site"
    lib.mkdir()
    for entry in site.iterdir():
        if entry.name.startswith(("matplotlib", "mpl_toolkits")) or entry.suffix == ".pth":
            continue
        (lib / entry.name).symlink_to(entry)
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{lib}")
    probe = subprocess.run([sys.executable, "-S", "-c", "import matplotlib"], env=env,
                           capture_output=True, text=True)
    assert probe.returncode != 0            # really absent
    r = subprocess.run([sys.executable, "-S", "-m", "firmware.cli", "render", song,
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
