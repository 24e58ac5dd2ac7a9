"""The unit file: systemd-analyze verify and the security exposure bar."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "masterbox.service"

needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze not installed (.ci/run installs it)")


@needs_systemd
def test_unit_verifies(tmp_path):
    # verify checks that ExecStart exists: point it at this venv's masterbox
    exe = Path(sys.executable).with_name("masterbox")
    unit = tmp_path / "masterbox.service"
    unit.write_text(UNIT.read_text().replace("/opt/masterbox/venv/bin/masterbox", str(exe)))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "masterbox.service" not in r.stderr      # no warnings about our unit


@needs_systemd
def test_security_exposure_at_most_1():
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(UNIT)],
                       capture_output=True, text=True)
    m = re.search(r"Overall exposure level for masterbox.service: ([0-9.]+)", r.stdout + r.stderr)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 1.0


def _directives(text):
    out = {}
    for ln in text.splitlines():
        if "=" in ln and not ln.lstrip().startswith("#"):
            k, v = ln.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def test_limits_sized_and_easy_wins():
    """Limits from bench/limits.py (open files <= 36 per process, tasks <= 10,
    604 MB with a cold cache), with room; and the hardening the daemon
    survives under a real systemd (tests/test_systemd_box.py)."""
    from firmware.control import MAX_CLIENTS
    d = _directives(UNIT.read_text())
    nofile = int(d["LimitNOFILE"][0])
    assert 36 * 4 <= nofile <= 1024 and nofile > MAX_CLIENTS + 100
    assert 10 * 4 <= int(d["TasksMax"][0]) <= 256
    mem = d["MemoryMax"][0]
    assert mem.endswith(("M", "G"))
    mb = float(mem[:-1]) * (1024 if mem.endswith("G") else 1)
    assert 604 * 1.5 <= mb <= 2048
    assert d["UMask"] == ["0077"]
    assert "@resources" in d["SystemCallFilter"][1].split()      # denied...
    assert d["SystemCallFilter"][2:] == ["sched_setscheduler"]  # ...but libjack's call
    assert d["RestrictRealtime"] == ["yes"]
    assert "PrivateDevices" not in d and "ProcSubset" not in d and "PrivateUsers" not in d


def test_unit_still_reaches_sound_gpio_i2c_and_is_notify():
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "User=masterbox",
                 "SupplementaryGroups=audio gpio i2c", "DeviceAllow=char-alsa rw",
                 "DeviceAllow=char-gpiochip rw", "DeviceAllow=/dev/gpiomem rw",
                 "DeviceAllow=char-i2c rw", "StateDirectory=masterbox", "CacheDirectory=masterbox",
                 "RuntimeDirectory=masterbox", "Environment=NUMBA_CACHE_DIR=/var/cache/masterbox",
                 "ExecStartPre=-/opt/masterbox/venv/bin/masterbox warmup"):
        assert line in text, line
    assert "PrivateDevices=yes" not in text        # would hide /dev/snd, gpiochip, i2c


def test_example_config_is_valid(tmp_path):
    from firmware.config import load_config
    cfg, presets = load_config(ROOT / "hardware" / "config.yaml")
    assert cfg["audio"]["blocksize"] == 128 and cfg["defaults"]["target_lufs"] == -14.0


def test_installer_dry_run_covers_the_steps():
    r = subprocess.run(["bash", str(ROOT / "hardware" / "install.sh")], capture_output=True, text=True,
                       env={"DRY_RUN": "1", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert r.returncode == 0, r.stderr
    for step in ("libportaudio2", "useradd --system", "usermod -aG gpio masterbox",
                 "dtparam=i2c_arm=on,i2c_arm_baudrate=400000", "dtparam=audio=off",
                 "masterbox warmup", "systemctl enable masterbox.service"):
        assert step in r.stdout, step

