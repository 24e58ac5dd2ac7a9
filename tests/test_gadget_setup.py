"""The USB gadget's set-up on the Pi: hardware/gadget.sh builds the configfs
gadget (run here against a scratch directory standing in for configfs: the
attributes it writes are what the kernel reads), the unit verifies, and the
installer's gadget mode adds dwc2 and libcomposite (dry run)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "hardware" / "gadget.sh"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def gadget(tmp_path, *args, **env):
    cfs = tmp_path / "configfs"
    (cfs / "usb_gadget").mkdir(parents=True, exist_ok=True)
    udc = tmp_path / "udc"
    (udc / "fe980000.usb").mkdir(parents=True, exist_ok=True)
    e = {"PATH": PATH, "CONFIGFS": str(cfs), "UDC_CLASS": str(udc), "GADGET_SERIAL": "10000000abcdef01"}
    e.update(env)
    r = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=e)
    return r, cfs / "usb_gadget" / "masterbox"


def read(p):
    return p.read_text().strip()


def test_up_writes_a_uac2_gadget_named_masterbox(tmp_path):
    r, g = gadget(tmp_path, "up")
    assert r.returncode == 0, r.stderr
    assert read(g / "strings/0x409/product") == "Masterbox"
    assert read(g / "strings/0x409/serialnumber") == "10000000abcdef01"
    f = g / "functions/uac2.usb0"
    for d in "cp":
        assert read(f / f"{d}_chmask") == "3"          # stereo both ways
        assert read(f / f"{d}_srate") == "48000"
        assert read(f / f"{d}_ssize") == "3"           # 24 bit
    assert read(f / "c_sync") == "async"
    assert (g / "configs/c.1/uac2.usb0").is_symlink()
    assert not (g / "functions/ecm.usb0").exists()
    assert read(g / "UDC") == "fe980000.usb"
    assert "bound to fe980000.usb" in r.stdout


def test_options_44k1_16_bit_and_the_network_function(tmp_path):
    r, g = gadget(tmp_path, "up", GADGET_RATES="48000,44100", GADGET_SSIZE="2", GADGET_ECM="1")
    assert r.returncode == 0, r.stderr
    f = g / "functions/uac2.usb0"
    assert read(f / "c_srate") == "48000,44100" and read(f / "p_ssize") == "2"
    assert (g / "configs/c.1/ecm.usb0").is_symlink()


@pytest.mark.parametrize("env, msg", [({"GADGET_RATES": "96000"}, "GADGET_RATES must be"),
                                      ({"GADGET_SSIZE": "4"}, "GADGET_SSIZE must be"),
                                      ({"GADGET_ECM": "yes"}, "GADGET_ECM must be")])
def test_bad_settings_one_line_exit_2(tmp_path, env, msg):
    r, g = gadget(tmp_path, "up", **env)
    assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not g.exists()


def test_no_udc_is_a_clear_error(tmp_path):
    shutil.rmtree(tmp_path / "udc", ignore_errors=True)
    cfs = tmp_path / "configfs"
    (cfs / "usb_gadget").mkdir(parents=True)
    r = subprocess.run(["bash", str(SCRIPT), "up"], capture_output=True, text=True,
                       env={"PATH": PATH, "CONFIGFS": str(cfs), "UDC_CLASS": str(tmp_path / "none")})
    assert r.returncode == 2 and "dtoverlay=dwc2" in r.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_gadget_unit_verifies(tmp_path):
    unit = tmp_path / "masterbox-gadget.service"
    unit.write_text((ROOT / "systemd" / "masterbox-gadget.service").read_text()
                    .replace("/opt/masterbox/gadget.sh", str(SCRIPT)))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert "masterbox-gadget.service" not in r.stderr, r.stderr


@pytest.mark.parametrize("model, overlay", [("4", "dtoverlay=dwc2'"), ("5", "dtoverlay=dwc2,dr_mode=peripheral")])
def test_installer_gadget_mode(model, overlay):
    r = subprocess.run(["bash", str(ROOT / "hardware" / "install.sh")], capture_output=True, text=True,
                       env={"DRY_RUN": "1", "PATH": PATH, "MODE": "gadget", "PI_MODEL": model})
    assert r.returncode == 0, r.stderr
    for step in (overlay, "'libcomposite' in /etc/modules-load.d/masterbox-gadget.conf",
                 "systemctl enable masterbox-gadget.service", "mode: gadget"):
        assert step in r.stdout, step


def test_installer_refuses_an_unknown_mode():
    r = subprocess.run(["bash", str(ROOT / "hardware" / "install.sh")], capture_output=True, text=True,
                       env={"DRY_RUN": "1", "PATH": PATH, "MODE": "gadgit"})
    assert r.returncode == 2 and "MODE must be" in r.stderr and r.stdout == ""
