import os
import tempfile

# One numba cache for the whole session, subprocesses (CLI tests) included.
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "masterbox-test-numba"))

# CI=true: a skipped test fails the run (tests/ci_skips.py)
pytest_plugins = ["ci_skips"]

# JACK: every test that needs a server starts its own under a private name
# (the jack_dummy fixture) and names it to its clients; nothing run from the
# tests may join a server already running on the machine (one run recorded
# all zeros that way) or start one by itself.
os.environ["JACK_DEFAULT_SERVER"] = f"mbtest-none-{os.getpid()}"
os.environ["JACK_NO_START_SERVER"] = "1"

import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy.signal import resample_poly  # noqa: E402


class JackDummy:
    """jackd with the dummy backend (a real-time paced sound card) under a
    private server name; start() / stop() make the box's "interface" come
    and go.  Its output goes to /dev/null (../shared/HARDWARE-FREE.md)."""
    _n = 0

    def __init__(self, period: int = 1024, rate: int = 48000):
        JackDummy._n += 1
        self.name = f"mbtest{os.getpid()}x{JackDummy._n}"
        self.period, self.rate, self.proc = period, rate, None

    def start(self):
        self.proc = subprocess.Popen(["jackd", "-n", self.name, "-R", "-d", "dummy", "-r",
                                      str(self.rate), "-p", str(self.period)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if subprocess.run(["jack_lsp", "-s", self.name], capture_output=True).returncode == 0:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"jackd -n {self.name} did not start")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def jack_dummy(request):
    """A started JackDummy (period: ``@pytest.mark.parametrize`` not needed;
    use ``jack_dummy.period``).  Skips only without jackd2 (CI installs it)."""
    if shutil.which("jackd") is None:
        pytest.skip("jackd2 not installed (apt-get install jackd2)")
    period = getattr(request, "param", 1024)
    j = JackDummy(period=period).start()
    yield j
    j.stop()


def true_peak_8x_dbtp(y):
    """Independent true-peak meter: 8x polyphase resampling with a long
    Kaiser-windowed sinc (scipy), not the chain's BS.1770 interpolator."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    pad = np.zeros((64, y.shape[1]))
    up = resample_poly(np.vstack([pad, y, pad]), 8, 1, axis=0, window=("kaiser", 10.0))
    return 20 * np.log10(np.max(np.abs(up)) + 1e-30)


@pytest.fixture(scope="session")
def presets():
    from masterbox.firmware import presets as pr
    return pr.load_presets()


@pytest.fixture
def params(presets):
    from masterbox.firmware import presets as pr

    def make(genre="pop", intensity=5.0, target=-14.0, ceiling=-1.0):
        return pr.chain_params(presets[genre], intensity, target, ceiling)
    return make


def music_files():
    d = os.path.expanduser("~/.cache/masterbox-music/unmastered")
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".wav"))


# A test that hangs must fail, not stall CI for its 90 minutes: a planted
# bug (a `break` turned into `continue` in the limiter's sliding minimum)
# made a kernel loop forever.  Past TEST_HANG_S, faulthandler prints every
# thread's stack and ends the run (the slowest test takes ~3 min here).
TEST_HANG_S = int(os.environ.get("MASTERBOX_TEST_HANG_S", "900"))


_HANG_OUT = []


def _real_stderr(config):
    """The terminal's stderr, not pytest's capture file (which the exit
    discards): the fd the capture manager saved, else sys.stderr."""
    if not _HANG_OUT:
        try:
            fd = config.pluginmanager.getplugin("capturemanager")._global_capturing.err.targetfd_save
            _HANG_OUT.append(os.fdopen(os.dup(fd), "w"))
        except Exception:   # noqa: BLE001 - a pytest without that internal: best effort
            import sys
            _HANG_OUT.append(sys.stderr)
    return _HANG_OUT[0]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    import faulthandler
    out = _real_stderr(item.config)
    faulthandler.dump_traceback_later(TEST_HANG_S, exit=True, file=out)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


# `make mutants` (mutmut 2) writes each mutant into dsp/ in place, the
# original beside it as <file>.py.bak.  An interrupted run leaves the mutant
# there: twice a session began on a tree whose limiter had a planted
# `break -> continue`.  Outside a mutation run (tests/mutants.py sets
# MASTERBOX_MUTANT_RUN) a test run on such a tree refuses to start.
def pytest_sessionstart(session):
    if os.environ.get("MASTERBOX_MUTANT_RUN"):
        return
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    left = sorted(p.relative_to(root).as_posix() for p in (root / "dsp").rglob("*.py.bak"))
    if left:
        pytest.exit(f"{', '.join(left)}: a mutant from an interrupted `make mutants` is in place "
                    f"beside this original; restore it (mv {left[0]} {left[0][:-4]}) "
                    f"or run `make mutants` again (it restores first)", returncode=2)
