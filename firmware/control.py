"""Local control: a UNIX stream socket, one JSON object per line.

    {"cmd": "status"}                         -> {"ok": true, "status": {...}}
    {"cmd": "set", "key": "genre", "value": "rock"}
    {"cmd": "set", "key": "bypass", "value": "on"}

The socket lives in the daemon's runtime directory with mode 0660 (owner
and group ``masterbox``).  There is no TCP or UDP listener at all.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import threading

from .errors import InputError, MasterboxError

log = logging.getLogger("masterbox.control")

DEFAULT_SOCKET = "/run/masterbox/control.sock"


class ControlError(MasterboxError, ConnectionError):
    """The daemon could not be reached."""


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for raw in self.rfile:
            try:
                req = json.loads(raw.decode("utf-8"))
                reply = self.server.dispatch(req)
            except (ValueError, InputError) as e:
                reply = {"ok": False, "error": str(e)}
            except Exception as e:   # noqa: BLE001 - never let a client kill the server
                log.exception("control request failed")
                reply = {"ok": False, "error": f"internal error: {e}"}
            self.wfile.write((json.dumps(reply) + "\n").encode("utf-8"))


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, params, status_fn):
        self.params = params
        self.status_fn = status_fn
        self.path = path
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        old = os.umask(0o117)          # socket created as 0660
        try:
            super().__init__(path, _Handler)
        finally:
            os.umask(old)
        os.chmod(path, 0o660)
        self._thread = threading.Thread(target=self.serve_forever, name="control", daemon=True)

    def start(self):
        self._thread.start()

    def dispatch(self, req):
        if not isinstance(req, dict):
            raise InputError("request must be a JSON object")
        cmd = req.get("cmd")
        if cmd == "status":
            return {"ok": True, "status": self.status_fn()}
        if cmd == "set":
            self.params.set(str(req.get("key")), req.get("value"))
            return {"ok": True, "status": self.status_fn()}
        raise InputError(f"unknown command {cmd!r} (status, set)")

    def stop(self):
        self.shutdown()
        self.server_close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def request(path: str, req: dict, timeout: float = 5.0) -> dict:
    """One request to the daemon; raises ControlError if it is not there."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall((json.dumps(req) + "\n").encode("utf-8"))
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except (FileNotFoundError, ConnectionRefusedError):
        raise ControlError(f"masterbox is not running (no daemon at {path})") from None
    except PermissionError:
        raise ControlError(f"no permission to talk to {path} (join the 'masterbox' group)") from None
    except OSError as e:
        raise ControlError(f"{path}: {e}") from None
    finally:
        s.close()
    return json.loads(buf.decode("utf-8"))
