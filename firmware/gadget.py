"""The USB gadget as the daemon sees it: is a host there, is it streaming,
at which rate.  No audio here (that is ``audio.py``); only reads of sysfs and
of the gadget card's ALSA controls, off the audio path.

* ``/sys/class/udc/<udc>/state`` is the device-side USB state
  (Documentation/ABI/stable/sysfs-class-udc: "not attached", "powered",
  "default", "addressed", "configured", "suspended"): a host has enumerated
  the gadget once it reads "configured".
* The UAC2 function's ALSA card has the controls "Capture Rate" and
  "Playback Rate" (drivers/usb/gadget/function/u_audio.c, Linux 5.18+): the
  rate the host chose while it streams that direction, 0 while it does not.
  Read with ``amixer`` (alsa-utils) in a child process: the daemon loads no
  ALSA bindings of its own and this runs once a second in the supervisor's
  own monitor thread, never in the audio callback.
"""
from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path

USB_STATES = ("no-host", "host-connected", "streaming")
SYSFS_UDC = "/sys/class/udc"
POLL_S = 1.0


def udc_state(root: str = SYSFS_UDC):
    """The first UDC's state text, or None without a device controller
    (no dwc2 overlay, no gadget support)."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return None
    for n in names:
        try:
            return Path(root, n, "state").read_text().strip()
        except OSError:
            continue
    return None


_CARD_RE = re.compile(r"^\s*(\d+)\s+\[([^\]]*)\]:\s*(.*)$")
PROC_CARDS = "/proc/asound/cards"


def alsa_card_index(name: str, cards_text: str):
    """The index of the first ALSA card whose id or name line contains
    ``name`` (case-insensitive) in /proc/asound/cards' text
    (" 1 [UAC2Gadget     ]: UAC2_Gadget - UAC2_Gadget"), or None.  Read
    from procfs, not PortAudio: PortAudio is not safe to query from a second
    thread while the supervisor re-initialises it."""
    key = name.lower().replace("_", "")
    for line in (cards_text or "").splitlines():
        m = _CARD_RE.match(line)
        if m and key in (m.group(2) + " " + m.group(3)).lower().replace("_", ""):
            return int(m.group(1))
    return None


def parse_amixer_value(text: str):
    """The integer of ``amixer cget``'s ": values=N" line, or None."""
    m = re.search(r":\s*values=(-?\d+)", text or "")
    return int(m.group(1)) if m else None


def read_rate(card, control: str, timeout_s: float = 1.0):
    """A gadget rate control ("Capture Rate" / "Playback Rate") in Hz, or
    None when it cannot be read (no amixer, no such control: older kernel)."""
    if card is None:
        return None
    # u_audio registers them on the PCM interface (SNDRV_CTL_ELEM_IFACE_PCM):
    # amixer looks on the mixer interface unless told
    try:
        r = subprocess.run(["amixer", "-c", str(card), "cget", f"iface=PCM,name={control}"],
                           capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_amixer_value(r.stdout) if r.returncode == 0 else None


def classify(udc: str | None, capture_hz, playback_hz) -> str:
    """no-host / host-connected / streaming, from the UDC state and the
    rates the host chose ("streaming": the host plays into the box, or
    records from it)."""
    if udc not in ("configured", "suspended"):
        return "no-host"
    if (capture_hz or 0) > 0 or (playback_hz or 0) > 0:
        return "streaming"
    return "host-connected"


class UsbMonitor:
    """Polls the gadget's USB state once a second in its own thread; the
    results are plain attributes (read without locks: each is one object
    replaced whole)."""

    def __init__(self, gadget_name: str, sysfs_root: str = SYSFS_UDC,
                 cards_file: str = PROC_CARDS, poll_s: float = POLL_S):
        self.gadget_name = gadget_name
        self.sysfs_root = sysfs_root
        self.cards_file = cards_file
        self.poll_s = poll_s
        self.state = "no-host"
        self.udc = None
        self.capture_hz = None                # the host's playback into the box
        self.playback_hz = None               # the host's recording from the box
        self._stop = threading.Event()
        self._thread = None

    def poll(self) -> None:
        self.udc = udc_state(self.sysfs_root)
        try:
            cards = Path(self.cards_file).read_text()
        except OSError:
            cards = ""
        card = alsa_card_index(self.gadget_name, cards)
        if card is None or self.udc not in ("configured", "suspended"):
            self.capture_hz = self.playback_hz = None
        else:
            self.capture_hz = read_rate(card, "Capture Rate")
            self.playback_hz = read_rate(card, "Playback Rate")
        self.state = classify(self.udc, self.capture_hz, self.playback_hz)

    @property
    def host_rate_hz(self):
        """The rate the host chose (what it plays, else what it records)."""
        return self.capture_hz or self.playback_hz or None

    def start(self) -> "UsbMonitor":
        self._thread = threading.Thread(target=self._run, name="usb-monitor", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            try:
                self.poll()
            except Exception:   # noqa: BLE001 - a monitor must never take the daemon down
                self.state = "no-host"
            if self._stop.wait(self.poll_s):
                return

    def stop(self) -> None:
        self._stop.set()
