"""Packaging (issue 11, item 9): one top-level import package, ``masterbox``.

The repository keeps its folders: pyproject.toml's ``package-dir`` maps
``dsp/`` -> ``masterbox.dsp``, ``dsp/stages/`` -> ``masterbox.dsp.stages``,
``firmware/`` -> ``masterbox.firmware``, ``ui/`` -> ``masterbox.ui``;
``masterbox`` itself is an implicit namespace package (no ``__init__.py``).
A non-editable install (the Pi installer, the arm64 CI step) must ship every
package folder and nothing generic (before: top-level ``dsp``, ``firmware``
and ``ui`` in site-packages); the editable install used by the other tests
would hide both, so a real wheel is built, inspected and installed here."""
import configparser
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("dsp", "firmware", "ui")
MODULES = ("masterbox.dsp.chain", "masterbox.dsp.stages.limiter", "masterbox.firmware.cli",
           "masterbox.firmware.daemon", "masterbox.ui.panel")


def _setuptools_cfg():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_listed_in_pyproject():
    cfg = _setuptools_cfg()
    listed = set(cfg["packages"])
    dirs = cfg.get("package-dir", {})
    found = set()
    for top in FOLDERS:
        for init in (ROOT / top).rglob("__init__.py"):
            found.add("masterbox." + ".".join(init.parent.relative_to(ROOT).parts))
    assert found <= listed, f"not shipped: {sorted(found - listed)}"
    for pkg in sorted(listed):
        assert pkg.startswith("masterbox."), f"{pkg}: not under masterbox"
        assert dirs.get(pkg) == pkg.removeprefix("masterbox.").replace(".", "/"), \
            f"{pkg}: package-dir {dirs.get(pkg)!r}"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"masterbox": "masterbox.firmware.cli:main"}


# an import of the old top-level names, in code or in code held in a string
# (a subprocess's -c program, a generated script), or python -m of them
OLD_IMPORT = re.compile(r"""(?:^|[\s"'(;]|\\n)from\s+(?:dsp|firmware|ui)(?:\.\w+)*\s+import\b"""
                        r"""|(?:^[ \t]*|\\n[ \t]*|;[ \t]*|["'])import\s+(?:dsp|firmware|ui)(?:\.\w+)*"""
                        r"""[ \t]*(?:$|\\n|["';]|\bas\b)"""
                        r"""|-m["',\s]+(?:dsp|firmware|ui)\.""", re.M)


def test_nothing_imports_the_old_top_level_names():
    """From the repository root (the cwd of many subprocesses here) a
    leftover ``from firmware import ...`` still imported the folder as a
    top-level package; only a scan finds it."""
    files = [ROOT / "Makefile", ROOT / "README.md", *(ROOT / ".ci").iterdir(), *(ROOT / "systemd").iterdir(),
             *(ROOT / "hardware").glob("*.sh")]
    for top in (*FOLDERS, "tests", "bench"):
        files += (ROOT / top).rglob("*.py")
    found = [f"{f.relative_to(ROOT)}:{f.read_text()[:m.start()].count(chr(10)) + 1}: {m.group(0).strip()}"
             for f in files if f.is_file() for m in OLD_IMPORT.finditer(f.read_text())]
    assert not found, "\n".join(found)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A real wheel of this tree, built offline (setuptools from the venv),
    from a copy so that the build leaves nothing in the checkout."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for f in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / f, src / f)
    for top in FOLDERS:
        shutil.copytree(ROOT / top, src / top, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (src / "hardware").mkdir()
    shutil.copy2(ROOT / "hardware" / "pins.yaml", src / "hardware" / "pins.yaml")
    out = tmp / "dist"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "--no-index", "-q", "-w", str(out), str(src)],
                       capture_output=True, text=True, timeout=600, cwd=tmp)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    wheels = list(out.glob("masterbox-*.whl"))
    assert len(wheels) == 1, list(out.iterdir())
    return wheels[0]


def test_wheel_holds_only_masterbox_with_presets_and_the_console_script(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        tops = {n.split("/")[0] for n in names}
        info = [t for t in tops if t.endswith(".dist-info")]
        assert len(info) == 1, sorted(tops)
        assert tops - set(info) == {"masterbox"}, f"generic top-level entries: {sorted(tops - set(info))}"
        ep = configparser.ConfigParser()
        ep.read_string(z.read(f"{info[0]}/entry_points.txt").decode())
    assert dict(ep["console_scripts"]) == {"masterbox": "masterbox.firmware.cli:main"}
    presets = {p.name for p in (ROOT / "firmware" / "presets").glob("*.yaml")}
    assert presets and {n.rsplit("/", 1)[1] for n in names
                        if n.startswith("masterbox/firmware/presets/") and n.endswith(".yaml")} == presets
    for top in FOLDERS:                     # every module of every package folder (dsp.stages once was not)
        for f in (ROOT / top).rglob("*.py"):
            assert f"masterbox/{f.relative_to(ROOT).as_posix()}" in names, f"{f.relative_to(ROOT)} not shipped"


def test_installed_wheel_imports_from_its_own_folder_only(wheel, tmp_path):
    """pip install --target: the folder holds masterbox, its dist-info and
    the script, nothing else; an interpreter that sees only that folder and
    the venv's dependencies (``-S``: no site hooks, so not the editable
    install's finder; cwd not the checkout) imports the package from it and
    lists the presets shipped in it."""
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                        "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    entries = {p.name for p in target.iterdir()}
    assert {e for e in entries if not e.endswith(".dist-info")} == {"masterbox", "bin"}, sorted(entries)
    assert (target / "bin" / "masterbox").is_file()
    deps = sysconfig.get_paths()["purelib"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = f"{target}{os.pathsep}{deps}"
    run = tmp_path / "elsewhere"
    run.mkdir()
    code = ("import importlib, sys\n"
            f"for m in {MODULES!r}:\n"
            "    print(importlib.import_module(m).__file__)\n"
            "for m in ('dsp', 'firmware', 'ui'):\n"
            "    try:\n"
            "        importlib.import_module(m)\n"
            "        print('GENERIC', m)\n"
            "    except ImportError:\n"
            "        pass\n")
    r = subprocess.run([sys.executable, "-S", "-c", code], env=env, cwd=run, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    files = r.stdout.split()
    assert len(files) == len(MODULES) and all(f.startswith(str(target / "masterbox")) for f in files), r.stdout
    r = subprocess.run([sys.executable, "-S", "-m", "masterbox.firmware.cli", "presets"], env=env, cwd=run,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    for p in (ROOT / "firmware" / "presets").glob("*.yaml"):
        assert p.stem in r.stdout, (p.stem, r.stdout)
    # the panel's default pin map ships too (a wheel without it failed CI's
    # arm64 step: ConfigError at import of the knob tests)
    code = ("from masterbox.ui import pins\n"
            "print(pins.DEFAULT_FILE)\n"
            "print(sorted((k, sorted(v.items())) for k, v in pins.load_pins().items()))\n")
    r = subprocess.run([sys.executable, "-S", "-c", code], env=env, cwd=run, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    where, got = r.stdout.splitlines()
    assert where.startswith(str(target / "masterbox")), where
    want = yaml.safe_load((ROOT / "hardware" / "pins.yaml").read_text())
    assert got == str(sorted((k, sorted(v.items())) for k, v in want.items()))


def test_numba_cache_of_the_top_level_dsp_is_never_loaded_by_masterbox_dsp(tmp_path):
    """numba's cached entries name their module and loading one imports it.
    A checkout upgraded in place (the same dsp/ files at the same path, the
    same NUMBA_CACHE_DIR, e.g. make's .numba-cache) found the cache that the
    top-level ``dsp`` had written and failed: "No module named 'dsp'".  The
    cache directory is keyed on the package's import name too (dsp/_jit.py)."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "dsp", src / "dsp", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    ns = tmp_path / "ns" / "masterbox"       # masterbox.dsp = the very same src/dsp folder
    ns.mkdir(parents=True)
    (ns / "__init__.py").write_text(f"__path__ = [{str(src)!r}]\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    code = ("import sys; sys.path.insert(0, {path!r})\n"
            "from {pkg}.units import db_to_gain\n"
            "print(db_to_gain(6.0), sorted(m for m in sys.modules if m.split('.')[0] == 'dsp'))\n")
    for path, pkg in ((src, "dsp"), (tmp_path / "ns", "masterbox.dsp")):
        r = subprocess.run([sys.executable, "-c", code.format(path=str(path), pkg=pkg)], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"{pkg}: {r.stderr[-3000:]}"
    assert r.stdout.split(" ", 1)[1].strip() == "[]", r.stdout
