import os
import tempfile

# One numba cache for the whole session, subprocesses (CLI tests) included.
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "masterbox-test-numba"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy.signal import resample_poly  # noqa: E402


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
    from firmware import presets as pr
    return pr.load_presets()


@pytest.fixture
def params(presets):
    from firmware import presets as pr

    def make(genre="pop", intensity=5.0, target=-14.0, ceiling=-1.0):
        return pr.chain_params(presets[genre], intensity, target, ceiling)
    return make


def music_files():
    d = os.path.expanduser("~/.cache/masterbox-music/unmastered")
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".wav"))
