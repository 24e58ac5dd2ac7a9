"""systemd notification (sd_notify protocol) without libsystemd."""
from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send ``message`` (e.g. "READY=1") to $NOTIFY_SOCKET; False if none."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(addr)
            s.sendall(message.encode("utf-8"))
        return True
    except OSError:
        return False


def status_line(st) -> str:
    """The one-line summary for ``STATUS=``, the log and ``masterbox status``
    (a Status or its dict; "—" where there is no level)."""
    from .status import Status, level
    s = st if isinstance(st, Status) else Status.from_dict(st)
    parts = [s.state, f"{s.genre or '?'} @ {s.intensity:g}", f"target {s.target_lufs:g}",
             "BYPASS" if s.bypass else "",
             f"S {level(s.short_term_lufs, ' LUFS')}", f"I {level(s.integrated_lufs, ' LUFS')}",
             f"TP {level(s.true_peak_dbtp, ' dBTP')}", f"GR {level(s.gain_reduction_db, ' dB')}",
             f"load {level(s.dsp_load_pct, '%')}", f"xruns {s.xruns_input}/{s.xruns_output}",
             f"{s.nonfinite_samples} NaN/Inf input samples" if s.nonfinite_samples else "",
             "CONFIG NOT APPLIED: " + s.config_error if s.config_error else "",
             "SETTINGS NOT SAVED: " + s.state_save_error if s.state_save_error else ""]
    return ", ".join(p for p in parts if p)
