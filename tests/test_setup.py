"""`make test`'s system packages (make deps): installed when root, else one
line naming the exact command and exit 2 (issue 11, item 7)."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _make_deps(*args, user=None):
    cmd = ["make", "-s", "--no-print-directory", "-C", str(ROOT), "deps", *args]
    if user:
        # a copy of the Makefile where that user can read it (a checkout in
        # /root is not readable by others)
        import tempfile
        d = tempfile.mkdtemp(prefix="mb-deps-")
        os.chmod(d, 0o755)
        shutil.copy(ROOT / "Makefile", d)
        os.chmod(os.path.join(d, "Makefile"), 0o644)
        cmd = ["runuser", "-u", user, "--", "make", "-s", "--no-print-directory", "-C", d,
               "deps", *args]
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not Debian/Ubuntu")
def test_deps_present_is_silent():
    r = _make_deps()
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", (r.stdout, r.stderr)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None,
                    reason="needs root to run make as another user")
@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not Debian/Ubuntu")
def test_deps_missing_without_root_says_the_command_and_exits_2():
    r = _make_deps("APT_PKGS=libsndfile1 masterbox-no-such-package", user="nobody")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stdout.strip().splitlines()
    assert lines == ["make test needs system packages: sudo apt-get install --no-install-recommends "
                     "masterbox-no-such-package"], lines
