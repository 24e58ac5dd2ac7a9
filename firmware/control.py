"""Local control: a UNIX stream socket, one JSON object per line.

    {"cmd": "status"}                         -> {"ok": true, "status": {...}}
    {"cmd": "set", "key": "genre", "value": "rock"}
    {"cmd": "set", "key": "bypass", "value": "on"}

The socket lives in the daemon's runtime directory with mode 0660 (owner
and group ``masterbox``).  There is no TCP or UDP listener at all.

The server is one thread with one selector: at most ``MAX_CLIENTS``
connections (a further one gets one "busy" line and is closed; the listen
backlog is the same number), a request line of at most ``MAX_LINE`` bytes
(longer: an error line and the connection is closed, nothing more is
buffered), and ``CLIENT_TIMEOUT_S`` to send a complete request.  When all
slots are taken, a newcomer replaces the client that has gone longest
(over ``IDLE_EVICT_S``) without a complete request, so idle or slow
connections cannot lock ``status`` out; only when every slot is busy with
real requests does the newcomer get "busy".  A client
that does not read its replies is dropped once ``MAX_PENDING_OUT`` bytes
wait for it.  Memory and threads do not grow with what clients do.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import selectors
import socket
import stat
import threading
import time

from .errors import InputError, MasterboxError

log = logging.getLogger("masterbox.control")

DEFAULT_SOCKET = "/run/masterbox/control.sock"
MAX_CLIENTS = 16
MAX_LINE = 64 * 1024
CLIENT_TIMEOUT_S = 5.0
IDLE_EVICT_S = 0.5     # when full, a client this long without a complete request makes room
MAX_PENDING_OUT = 256 * 1024
MAX_ERROR_CHARS = 300


class ControlError(MasterboxError, ConnectionError):
    """The daemon could not be reached, or its reply was unusable."""


class SocketPathError(MasterboxError, OSError):
    """The socket path holds something this daemon must not delete."""


def _line(obj) -> bytes:
    return (json.dumps(obj) + "\n").encode("utf-8")


def _short(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "..."


BUSY = _line({"ok": False, "error": f"busy: {MAX_CLIENTS} clients connected; try again"})


class _Client:
    __slots__ = ("sock", "inbuf", "outbuf", "deadline", "closing", "since")

    def __init__(self, sock, now):
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.deadline = now + CLIENT_TIMEOUT_S
        self.closing = False          # close once outbuf is sent
        self.since = now              # connected, or last complete request


def prepare_socket_path(path: str) -> None:
    """Make room for our socket at ``path``: nothing there, or a stale
    socket nobody answers on (removed).  Anything else (a regular file, a
    symlink, a directory, a live socket) raises SocketPathError: it is not
    ours to delete.  Call it while holding the instance lock."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        kind = ("a symlink" if stat.S_ISLNK(st.st_mode) else
                "a directory" if stat.S_ISDIR(st.st_mode) else
                "a regular file" if stat.S_ISREG(st.st_mode) else "not a socket")
        raise SocketPathError(f"{path} exists and is {kind}: refusing to delete it "
                              f"(remove it or choose another control_socket)")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        pass                                      # stale: its daemon is gone
    except OSError as e:
        if e.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise SocketPathError(f"{path}: a socket that answers ({e}); another daemon?") from None
    else:
        raise SocketPathError(f"{path}: another daemon is answering on this socket")
    finally:
        probe.close()
    os.unlink(path)
    log.info("removed the stale control socket %s", path)


class ControlServer:
    def __init__(self, path: str, params, status_fn, max_clients: int = MAX_CLIENTS):
        self.params = params
        self.status_fn = status_fn
        self.path = path
        self.max_clients = max_clients
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        prepare_socket_path(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o117)          # socket created as 0660
        try:
            self.sock.bind(path)
        except OSError:
            self.sock.close()
            raise
        finally:
            os.umask(old)
        st = os.lstat(path)
        self._ident = (st.st_dev, st.st_ino)      # what we may unlink at exit
        os.chmod(path, 0o660)
        self.sock.listen(max_clients)
        self.sock.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.sock, selectors.EVENT_READ, None)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._clients: dict = {}
        self._stop = False
        self._accept_paused_until = 0.0
        self.refused_busy = 0
        self.evicted_idle = 0
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)

    # ------------------------------------------------------------ lifecycle
    def start(self):
        self._thread.start()

    def stop(self):
        self._stop = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.close()

    def close(self):
        """Close every socket and remove the socket path if it is still ours."""
        for c in list(self._clients.values()):
            self._drop(c)
        for s in (self.sock, self._wake_r, self._wake_w):
            try:
                s.close()
            except OSError:
                pass
        try:
            self._sel.close()
        except (OSError, RuntimeError):
            pass
        self.unlink_if_ours()

    def unlink_if_ours(self):
        try:
            st = os.lstat(self.path)
        except OSError:
            return
        if stat.S_ISSOCK(st.st_mode) and (st.st_dev, st.st_ino) == self._ident:
            try:
                os.unlink(self.path)
            except OSError:
                pass

    # ------------------------------------------------------------ the loop
    def _serve(self):
        while not self._stop:
            now = time.monotonic()
            if self._accept_paused_until and now >= self._accept_paused_until:
                self._accept_paused_until = 0.0
                self._sel.register(self.sock, selectors.EVENT_READ, None)
            timeout = 0.5
            if self._clients:
                timeout = max(0.0, min(timeout, min(c.deadline for c in self._clients.values()) - now))
            try:
                events = self._sel.select(timeout)
            except OSError as e:        # pragma: no cover - EINTR is retried by Python
                log.error("control: select failed: %s", e)
                time.sleep(0.1)
                continue
            for key, mask in events:
                if key.data is None:
                    self._accept()
                elif key.data == "wake":
                    try:
                        self._wake_r.recv(64)
                    except OSError:
                        pass
                else:
                    c = key.data
                    try:
                        if mask & selectors.EVENT_READ:
                            self._read(c)
                        if mask & selectors.EVENT_WRITE and c.sock.fileno() >= 0:
                            self._write(c)
                    except Exception as e:   # noqa: BLE001 - never let a client kill the server
                        log.error("control: client dropped after an error: %s", e)
                        self._drop(c)
            now = time.monotonic()
            for c in [c for c in self._clients.values() if now >= c.deadline]:
                if c.outbuf:
                    self._drop(c)            # would not read its reply in time
                else:
                    self._reply_and_close(c, {"ok": False, "error": "timeout: no complete "
                                              f"request within {CLIENT_TIMEOUT_S:g} s"})

    def _accept(self):
        for _ in range(64):              # a burst, then back to the others
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # no file handles: stop accepting for a moment instead of spinning
                    log.warning("control: cannot accept (%s); pausing for 1 s", e.strerror)
                    self._sel.unregister(self.sock)
                    self._accept_paused_until = time.monotonic() + 1.0
                    return
                log.warning("control: accept failed: %s", e)
                return
            if len(self._clients) >= self.max_clients:
                self._evict_idle(time.monotonic())
            if len(self._clients) >= self.max_clients:
                self.refused_busy += 1
                try:
                    conn.setblocking(False)
                    conn.send(BUSY)
                except OSError:
                    pass
                conn.close()
                continue
            conn.setblocking(False)
            c = _Client(conn, time.monotonic())
            self._clients[conn.fileno()] = c
            self._sel.register(conn, selectors.EVENT_READ, c)

    def _evict_idle(self, now):
        idle = [c for c in self._clients.values()
                if not c.closing and not c.outbuf and now - c.since >= IDLE_EVICT_S]
        if idle:
            victim = min(idle, key=lambda c: c.since)
            self.evicted_idle += 1
            try:
                victim.sock.send(_line({"ok": False, "error": "closed: idle while others wait"}))
            except OSError:
                pass
            self._drop(victim)

    def _read(self, c):
        if c.closing:
            return
        try:
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(c)
            return
        if not data:
            self._drop(c)                # the client hung up: nothing to log
            return
        c.inbuf += data
        while True:
            nl = c.inbuf.find(b"\n")
            if nl < 0:
                break
            raw = bytes(c.inbuf[:nl])
            del c.inbuf[:nl + 1]
            if len(raw) > MAX_LINE:
                self._reply_and_close(c, {"ok": False, "error": f"request longer than {MAX_LINE} bytes"})
                return
            self._queue(c, self._handle(raw))
            c.since = time.monotonic()
            c.deadline = c.since + CLIENT_TIMEOUT_S
            if c.closing or c.sock.fileno() < 0:
                return
        if len(c.inbuf) > MAX_LINE:
            self._reply_and_close(c, {"ok": False, "error": f"request longer than {MAX_LINE} bytes"})

    def _handle(self, raw: bytes) -> dict:
        try:
            req = json.loads(raw.decode("utf-8"))
            return self.dispatch(req)
        except (ValueError, InputError, RecursionError) as e:
            msg = "request nested too deeply" if isinstance(e, RecursionError) else str(e)
            return {"ok": False, "error": _short(msg)}
        except Exception as e:   # noqa: BLE001 - never let a client kill the server
            log.error("control request failed: %s: %s", type(e).__name__, e)
            return {"ok": False, "error": _short(f"internal error: {e}")}

    def _queue(self, c, reply: dict):
        c.outbuf += _line(reply)
        if len(c.outbuf) > MAX_PENDING_OUT:
            self._drop(c)                # does not read its replies
            return
        self._write(c)

    def _reply_and_close(self, c, reply: dict):
        c.inbuf.clear()
        c.closing = True
        c.outbuf += _line(reply)
        self._write(c)
        if c.sock.fileno() >= 0:
            c.deadline = time.monotonic() + 1.0      # a last chance to read it

    def _write(self, c):
        if c.sock.fileno() < 0:
            return
        while c.outbuf:
            try:
                n = c.sock.send(c.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:              # BrokenPipe, ConnectionReset: the client left
                self._drop(c)
                return
            del c.outbuf[:n]
        if c.outbuf:
            events = selectors.EVENT_WRITE | (0 if c.closing else selectors.EVENT_READ)
        elif c.closing:
            self._drop(c)
            return
        else:
            events = selectors.EVENT_READ
        try:
            self._sel.modify(c.sock, events, c)
        except (KeyError, ValueError, OSError):
            pass

    def _drop(self, c):
        fd = c.sock.fileno()
        if fd >= 0:
            try:
                self._sel.unregister(c.sock)
            except (KeyError, ValueError, OSError):
                pass
            self._clients.pop(fd, None)
        try:
            c.sock.close()
        except OSError:
            pass

    # ------------------------------------------------------------ requests
    def dispatch(self, req):
        if not isinstance(req, dict):
            raise InputError("request must be a JSON object")
        cmd = req.get("cmd")
        if cmd == "status":
            return {"ok": True, "status": self.status_fn()}
        if cmd == "set":
            self.params.set(str(req.get("key")), req.get("value"))
            return {"ok": True, "status": self.status_fn()}
        raise InputError(f"unknown command {_short(repr(cmd))} (status, set)")

    @property
    def clients(self) -> int:
        return len(self._clients)


RETRY_S = 2.0          # how long a client retries a full backlog or a busy daemon


def request(path: str, req: dict, timeout: float = 5.0, retry_s: float = RETRY_S) -> dict:
    """One request to the daemon; its reply (a dict with ``ok``).

    Raises ControlError with one clear line when the daemon is not there,
    stays busy (full backlog: EAGAIN; or a "busy" reply) for ``retry_s``,
    or replies with nothing, a partial line or something that is not a JSON
    object.  An ``{"ok": false}`` reply is returned: the caller reports it.
    """
    end = time.monotonic() + retry_s
    delay = 0.02
    while True:
        try:
            reply = _request_once(path, req, timeout)
        except BlockingIOError:             # EAGAIN: the listen backlog is full
            reply = None
        if reply is not None and not _is_busy(reply):
            return reply
        if time.monotonic() + delay > end:
            if reply is None:
                raise ControlError(f"{path}: the daemon is too busy to accept a connection; "
                                   f"try again")
            return reply                      # {"ok": false, "error": "busy: ..."}
        time.sleep(delay)
        delay = min(0.2, delay * 2)


def _is_busy(reply) -> bool:
    return (isinstance(reply, dict) and reply.get("ok") is False
            and str(reply.get("error", "")).startswith("busy"))


def _request_once(path: str, req: dict, timeout: float):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    buf = bytearray()
    try:
        try:
            s.connect(path)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                raise BlockingIOError(e.errno, e.strerror) from None
            raise
        try:
            s.sendall((json.dumps(req) + "\n").encode("utf-8"))
        except (BrokenPipeError, ConnectionResetError):
            pass                  # a busy daemon closes at once; read its one line
        while not buf.endswith(b"\n"):
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
            if len(buf) > 16 * 1024 * 1024:
                raise ControlError(f"{path}: the reply is unreasonably long")
    except BlockingIOError:
        raise
    except (FileNotFoundError, ConnectionRefusedError):
        raise ControlError(f"masterbox is not running (no daemon at {path})") from None
    except PermissionError:
        raise ControlError(f"no permission to talk to {path} (join the 'masterbox' group)") from None
    except socket.timeout:
        raise ControlError(f"{path}: the daemon did not answer within {timeout:g} s") from None
    except OSError as e:
        raise ControlError(f"{path}: {e.strerror or e}") from None
    finally:
        s.close()
    if not buf:
        raise ControlError(f"{path}: the daemon closed the connection without a reply")
    if not buf.endswith(b"\n"):
        raise ControlError(f"{path}: the daemon's reply was cut short ({len(buf)} bytes)")
    try:
        reply = json.loads(buf.decode("utf-8"))
    except (ValueError, RecursionError):
        raise ControlError(f"{path}: the daemon's reply is not valid JSON") from None
    if not isinstance(reply, dict) or "ok" not in reply:
        raise ControlError(f"{path}: the daemon's reply is not a status object")
    return reply


def reply_status(reply: dict, path: str = "daemon") -> dict:
    """The status in an ``ok`` reply; ControlError with the daemon's error
    (or a clear line about a malformed reply) otherwise."""
    if not reply.get("ok"):
        err = reply.get("error")
        raise ControlError(_short(str(err)) if err else f"{path}: the daemon refused (no reason given)")
    st = reply.get("status")
    if not isinstance(st, dict):
        raise ControlError(f"{path}: the daemon's reply holds no status")
    return st


def query_status(path: str, timeout: float = 5.0) -> dict:
    """The daemon's status dict, or ControlError with one line."""
    return reply_status(request(path, {"cmd": "status"}, timeout=timeout), path)
