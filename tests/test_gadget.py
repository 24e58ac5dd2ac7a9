"""The USB gadget's state as the daemon reads it (firmware/gadget.py) and
how status shows it.  The text fixtures are what the kernel-audio-vm guest
printed (Debian 6.1 kernel, f_uac2 on dummy_hcd); the live behaviour is
checked in the VM (`make vm-test`, tests/vm/)."""
from masterbox.firmware import gadget as g
from masterbox.firmware.cli import latency_lines
from masterbox.firmware.status import Status

CARDS = """ 0 [Loopback       ]: Loopback - Loopback
                      Loopback 1
 1 [UAC2Gadget     ]: UAC2_Gadget - UAC2_Gadget
                      UAC2_Gadget 0
 2 [CIUAC2         ]: USB-Audio - CIUAC2
                      CI CIUAC2 at usb-dummy_hcd.0-1, high speed
"""

AMIXER = """numid=5,iface=PCM,name='Capture Rate'
  ; type=INTEGER,access=r----v--,values=1,min=0,max=48000,step=0
  : values=48000
"""


def test_card_index_by_name_from_proc_asound_cards():
    assert g.alsa_card_index("UAC2_Gadget", CARDS) == 1
    assert g.alsa_card_index("uac2gadget", CARDS) == 1
    assert g.alsa_card_index("CIUAC2", CARDS) == 2
    assert g.alsa_card_index("Scarlett", CARDS) is None


def test_amixer_value():
    assert g.parse_amixer_value(AMIXER) == 48000
    assert g.parse_amixer_value(AMIXER.replace("values=48000", "values=0")) == 0
    assert g.parse_amixer_value("amixer: Cannot find the given element") is None


def test_udc_state_from_sysfs(tmp_path):
    assert g.udc_state(str(tmp_path / "none")) is None          # no device controller
    (tmp_path / "fe980000.usb").mkdir()
    (tmp_path / "fe980000.usb" / "state").write_text("configured\n")
    assert g.udc_state(str(tmp_path)) == "configured"


def test_classify():
    assert g.classify(None, None, None) == "no-host"
    assert g.classify("not attached", None, None) == "no-host"
    assert g.classify("configured", 0, 0) == "host-connected"
    assert g.classify("configured", None, None) == "host-connected"
    assert g.classify("configured", 48000, 0) == "streaming"
    assert g.classify("suspended", 0, 44100) == "streaming"


def test_monitor_poll_without_a_gadget(tmp_path):
    m = g.UsbMonitor("UAC2_Gadget", sysfs_root=str(tmp_path / "no-udc"),
                     cards_file=str(tmp_path / "no-cards"))
    m.poll()
    assert m.state == "no-host" and m.host_rate_hz is None


def test_status_lines_state_the_obs_offset_in_gadget_modes():
    s = Status.from_dict({"audio_mode": "gadget", "usb_state": "streaming",
                          "usb_host_rate_hz": 48000, "end_to_end_latency_ms": 12.4,
                          "measured_delay_spread_ms": 0.0})
    lines = latency_lines(s)
    assert "end-to-end latency 12.4 ms" in lines[0]
    assert lines[1] == "mode gadget: USB host streaming at 48000 Hz"
    assert lines[2].startswith("set OBS sync offset to 12 ms")
    s = Status.from_dict({"audio_mode": "interface", "end_to_end_latency_ms": 8.0})
    assert not any("OBS" in line for line in latency_lines(s))
