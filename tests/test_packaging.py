"""Packaging (issue 11, item 9): one top-level import package, ``masterbox``.

The repository keeps its folders: pyproject.toml's ``package-dir`` maps
``dsp/`` -> ``masterbox.dsp``, ``dsp/stages/`` -> ``masterbox.dsp.stages``,
``firmware/`` -> ``masterbox.firmware``, ``ui/`` -> ``masterbox.ui``;
``masterbox`` itself is an implicit namespace package (no ``__init__.py``).
A non-editable install (the Pi installer, the arm64 CI step) must ship every
package folder and nothing generic (before: top-level ``dsp``, ``firmware``
and ``ui`` in site-packages); the editable install used by the other tests
would hide both."""
import re
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
