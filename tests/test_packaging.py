"""A non-editable install (the Pi installer, the arm64 CI step) ships every
package folder: the editable install used by the tests would hide one that
pyproject.toml forgot (dsp.stages was, once)."""
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for top in ("dsp", "firmware", "ui"):
        for init in (ROOT / top).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(ROOT).parts))
    assert found <= listed, f"not shipped: {sorted(found - listed)}"
