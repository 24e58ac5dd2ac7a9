"""tests/ci_skips.py in a real pytest run: under CI=true a skip fails it."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

CASES = {
    "missing": 'import pytest\n\ndef test_a():\n    pytest.skip("jackd2 not installed")\n',
    "module": 'import pytest\npytest.importorskip("no_such_module_here")\n\ndef test_a():\n    pass\n',
    "allowed": 'import pytest\n\ndef test_a():\n    pytest.skip("xruns during the run (3): exactness not judged")\n',
    "none": 'def test_a():\n    pass\n',
}


def _pytest(tmp_path, case, ci):
    (tmp_path / "test_case.py").write_text(CASES[case])
    (tmp_path / "test_ok.py").write_text(CASES["none"])
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    env["PYTHONPATH"] = str(TESTS)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "ci_skips", "-p",
                           "no:cacheprovider", str(tmp_path)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)


@pytest.mark.parametrize("case", ["missing", "module"])
def test_a_skip_fails_ci_but_not_a_developer_run(tmp_path, case):
    r = _pytest(tmp_path, case, ci=True)
    assert r.returncode == 1, r.stdout
    assert "skipped under CI" in r.stdout
    r = _pytest(tmp_path, case, ci=False)
    assert r.returncode == 0, r.stdout


@pytest.mark.parametrize("case", ["allowed", "none"])
def test_allowed_outcomes_pass_ci(tmp_path, case):
    r = _pytest(tmp_path, case, ci=True)
    assert r.returncode == 0, r.stdout
