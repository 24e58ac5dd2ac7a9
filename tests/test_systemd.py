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
    from masterbox.firmware.control import MAX_CLIENTS
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
    from masterbox.firmware.config import load_config
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


# ------------------------------------------------------------ the installer

def _dry_run(**env):
    e = {"DRY_RUN": "1", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    e.update(env)
    return subprocess.run(["bash", str(ROOT / "hardware" / "install.sh")], capture_output=True,
                          text=True, env=e)


def _lock(name):
    """{package: (version, number of hashes)} of a hardware/*.lock file."""
    text = (ROOT / "hardware" / name).read_text()
    out = {}
    for block in re.split(r"\n(?=[A-Za-z])", text):
        m = re.match(r"([A-Za-z0-9_.-]+)==([^\s;\\]+)", block)
        if m:
            out[m.group(1).lower().replace("_", "-")] = (m.group(2), block.count("--hash=sha256:"))
        else:
            assert not block.strip() or block.lstrip().startswith("#"), block[:200]
    return out


def test_installer_puts_masterbox_on_path_and_the_sudo_user_in_the_group():
    r = _dry_run(SUDO_USER="alice")
    assert r.returncode == 0, r.stderr
    assert "+ ln -sfn /opt/masterbox/venv/bin/masterbox /usr/local/bin/masterbox" in r.stdout
    assert "+ usermod -aG masterbox alice" in r.stdout
    assert "alice was added to the masterbox group: log out and in again" in r.stdout
    # the user is added after the group exists (useradd --user-group)
    assert r.stdout.index("useradd --system --user-group") < r.stdout.index("usermod -aG masterbox alice")
    r = _dry_run(SUDO_USER="root")
    assert "usermod -aG masterbox root" not in r.stdout and "log out" not in r.stdout
    r = _dry_run()
    assert "usermod -aG masterbox" not in r.stdout


@pytest.mark.parametrize("model,lock", [("4", "requirements-pi.lock"), ("5", "requirements-pi5.lock")])
def test_installer_installs_only_hashed_pins(model, lock):
    r = _dry_run(PI_MODEL=model)
    assert r.returncode == 0, r.stderr
    pips = [ln for ln in r.stdout.splitlines() if "/venv/bin/pip " in ln]
    assert len(pips) == 3, pips
    assert "--require-hashes" in pips[0] and "requirements-build.lock" in pips[0]
    assert "--require-hashes" in pips[1] and pips[1].endswith("/hardware/" + lock)
    # the project itself: from the checkout, nothing resolved or downloaded
    assert all(f in pips[2] for f in ("--no-deps", "--no-index", "--no-build-isolation"))
    assert "--upgrade pip" not in r.stdout


def test_lock_files_pin_every_dependency_with_hashes_and_the_pi5_keeps_every_pin():
    pi, pi5, build = _lock("requirements-pi.lock"), _lock("requirements-pi5.lock"), \
        _lock("requirements-build.lock")
    for lk in (pi, pi5, build):
        assert lk and all(n >= 1 for _, n in lk.values()), lk
    # every runtime and pi dependency of pyproject.toml is in the lock
    import tomllib
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(reqs):
        return {re.match(r"[A-Za-z0-9_.-]+", q).group(0).lower().replace("_", "-").replace(".", "-")
                for q in reqs}
    locked = {k.replace(".", "-") for k in pi}
    locked5 = {k.replace(".", "-") for k in pi5}
    assert names(proj["dependencies"]) | names(proj["optional-dependencies"]["pi"]) <= locked
    assert names(proj["dependencies"]) | names(proj["optional-dependencies"]["pi5"]) <= locked5
    # Pi 5: rpi-lgpio instead of RPi.GPIO, everything else the same versions
    assert "rpi-gpio" in pi and "rpi-gpio" not in pi5 and "rpi-lgpio" in pi5
    for k, (v, _) in pi.items():
        if k != "rpi-gpio":
            assert pi5[k][0] == v, k
    assert int(pi5["pillow"][0].split(".")[0]) < 14                 # luma.oled needs Image.getdata
    assert {"pip", "setuptools", "wheel"} <= set(build)


@pytest.mark.parametrize("prefix", ["/opt/a&b", "/opt/x|y", "/opt/back\\slash"])
def test_installer_escapes_prefix_in_sed(prefix, tmp_path):
    r = _dry_run(PREFIX=prefix)
    assert r.returncode == 0, r.stderr
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("+ sed -i ")][0]
    expr = line.split()[3]
    unit = tmp_path / "u.service"
    unit.write_text("ExecStart=/opt/masterbox/venv/bin/masterbox run\n")
    subprocess.run(["sed", "-i", expr, str(unit)], check=True)
    assert unit.read_text() == f"ExecStart={prefix}/venv/bin/masterbox run\n"


@pytest.mark.parametrize("prefix,why", [("opt/mb", "absolute"), ("/opt/m b", "white space")])
def test_installer_refuses_a_bad_prefix(prefix, why):
    r = _dry_run(PREFIX=prefix)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and why in r.stderr, r.stderr
