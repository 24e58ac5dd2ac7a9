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


def status_line(st: dict) -> str:
    """The one-line summary for ``STATUS=`` and the log."""
    def f(key, unit, fmt="{:.1f}"):
        v = st.get(key)
        return ("--" if v is None else fmt.format(v)) + unit
    parts = [st.get("state", "?"), f"{st.get('genre', '?')} @ {st.get('intensity', 0):g}",
             f"target {st.get('target_lufs', 0):g}", "BYPASS" if st.get("bypass") else "",
             f"S {f('short_term_lufs', ' LUFS')}", f"I {f('integrated_lufs', ' LUFS')}",
             f"TP {f('true_peak_dbtp', ' dBTP')}", f"GR {f('gain_reduction_db', ' dB')}",
             f"load {f('dsp_load_pct', '%')}",
             f"xruns {st.get('xruns_input', 0)}/{st.get('xruns_output', 0)}",
             "CONFIG NOT APPLIED: " + st["config_error"] if st.get("config_error") else "",
             "SETTINGS NOT SAVED: " + st["state_save_error"] if st.get("state_save_error") else ""]
    return ", ".join(p for p in parts if p)
