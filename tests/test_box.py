"""`make box` (python -m masterbox.firmware.box) under a real pty: the daemon on a
private JACK dummy server plays the demo mix through the chain, the panel
simulator follows it, keys reach the daemon, q stops everything and leaves
no server or daemon behind (issue 11, item 11)."""
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("jack")


def _children(pid):
    out = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            out += [int(k) for k in Path(f"/proc/{pid}/task/{t}/children").read_text().split()]
    except OSError:
        pass
    return out


@pytest.mark.skipif(shutil.which("jackd") is None, reason="jackd2 not installed")
def test_box_plays_follows_keys_and_leaves_nothing(tmp_path):
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        env = dict(os.environ)
        os.execve(sys.executable, [sys.executable, "-m", "masterbox.firmware.box"], env)
    out = b""
    seen = set()

    def read_for(seconds, until=None):
        nonlocal out
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for c in _children(pid):
                seen.add(c)
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    out += os.read(fd, 65536)
                except OSError:
                    return
            if until and until in out:
                return
    try:
        read_for(300, until=b"arrows: genre")          # the panel is up
        assert b"arrows: genre" in out, out[-2000:]
        read_for(4.0)                                   # music flows through the chain
        os.write(fd, b"\x1b[A\x1b[A")                   # intensity +1.0 (5 -> 6)
        read_for(1.0)
        os.write(fd, b"\x1b[C")                         # next genre
        read_for(1.0)
        os.write(fd, b"q")
        read_for(60, until=b"box: stopped")
    finally:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            status = 0
    text = out.decode("utf-8", "ignore")
    assert os.waitstatus_to_exitcode(status) == 0, text[-2000:]
    m = re.search(r"box: last status: (\S+), (\S+) @ ([0-9.]+), target [-0-9.]+, S (\S+) LUFS", text)
    assert m, text[-2000:]
    state, genre, intensity, short_term = m.groups()
    assert state == "running" and genre != "pop" and float(intensity) == 6.0, m.group(0)
    assert re.fullmatch(r"-[0-9]+\.[0-9]", short_term), m.group(0)   # a level, not "—"
    assert "box: stopped (daemon exit 0" in text
    # nothing left: the daemon, the JACK server, the panel
    time.sleep(0.5)
    alive = [c for c in seen if os.path.exists(f"/proc/{c}") and
             Path(f"/proc/{c}/status").read_text().find("State:\tZ") < 0]
    assert not alive, alive
    name = re.search(r"JACK server (\S+) stopped", text).group(1)
    assert subprocess.run(["jack_lsp", "-s", name], capture_output=True).returncode != 0
