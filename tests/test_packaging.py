"""Packaging (issue 11, item 9): one top-level import package, ``masterbox``.

The repository keeps its folders: pyproject.toml's ``package-dir`` maps
``dsp/`` -> ``masterbox.dsp``, ``dsp/stages/`` -> ``masterbox.dsp.stages``,
``firmware/`` -> ``masterbox.firmware``, ``ui/`` -> ``masterbox.ui``;
``masterbox`` itself is an implicit namespace package (no ``__init__.py``).
A non-editable install (the Pi installer, the arm64 CI step) must ship every
package folder and nothing generic (before: top-level ``dsp``, ``firmware``
and ``ui`` in site-packages); the editable install used by the other tests
would hide both."""
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("dsp", "firmware", "ui")


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
