"""``masterbox run``: the box's daemon.

Start-up, as systemd sees it (Type=notify):
  1. config (exit 2 with every error), presets, saved state, audio devices
     (exit 2 if a configured device is missing: systemd retries, which also
     covers a USB interface that enumerates late);
  2. kernels: ``masterbox warmup --verdict`` runs in a *separate process*
     (compiling holds the GIL for seconds; it must not starve the audio
     callback).  The daemon waits for its word: it exits 0 when every kernel
     loaded from a warm cache (however long that took) and the chain runs
     from the first sample; it prints "compiling" at its first cache miss,
     and the stream starts at once playing the latency-matched dry signal,
     mastering crossfading in when ready;
  3. READY=1 once the stream runs; WATCHDOG=1 only while callbacks advance;
     STATUS= every second.
SIGTERM: fade out (50 ms), save state, close the stream, exit 0; if that
has not finished within STOP_LIMIT_S, every thread's stack goes to stderr
(the journal) and the process exits 1: a stop is always bounded.
SIGUSR1: every thread's stack to stderr (faulthandler), and carry on.
SIGHUP: reload config; parameter-only changes apply live, device/rate/block
changes reopen the stream; an invalid new config keeps the old one.
"""
from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import config as cfgmod
from .audio import AudioEngine, DeviceError
from .control import ControlServer, SocketPathError, prepare_socket_path
from .errors import ConfigError, MasterboxError
from .notify import notify, status_line
from .parameters import Parameters
from .state import StateStore, load_state
from .status import Status

log = logging.getLogger("masterbox")

WARMUP_VERDICT_CAP_S = 60.0  # the warm-up child decides, not a guessed time:
                            # "compiling" (a cold cache) = start dry at once;
                            # exit 0 = every kernel loaded = master from the
                            # first sample, however long loading took (2-3 s
                            # seen on a loaded machine; the old fixed 1.5 s
                            # then played dry for no reason).  The cap only
                            # bounds a warm-up that hangs: the control socket
                            # opens after this wait.
SWITCH_INTERVAL_S = 0.001


def _settle_heap(collect: bool = True):
    """Move everything loaded so far (numba, llvmlite: ~10^5 objects) out of
    the collector's reach: a full collection over it holds the GIL for tens of
    ms, long enough to make the audio callback miss its deadline.  With the
    stream already running only freeze (cheap), never collect."""
    if collect:
        gc.collect()
    gc.freeze()


def _lower_priority():
    """nice(10), best effort: the unit's SystemCallFilter denies @resources
    (setpriority fails with EPERM), and a failing preexec_fn would make the
    daemon itself fail to start."""
    try:
        os.nice(10)
    except OSError:
        pass


def _warmup_process():
    # niced: on a cold cache it compiles for seconds next to the running audio
    return subprocess.Popen([sys.executable, "-m", "masterbox.firmware.cli", "warmup", "--verdict"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_lower_priority)


def warmup_verdict(warm, cap_s: float = WARMUP_VERDICT_CAP_S) -> str:
    """Wait for the warm-up child's verdict: "ready" (it exited 0: every
    kernel is in this machine's cache, loaded), "compiling" (it said so at its
    first cache miss), "failed" (it exited non-zero) or "timeout" (no word
    within ``cap_s``: treated as compiling)."""
    import select
    end = time.monotonic() + cap_s
    fd = warm.stdout.fileno()
    buf = b""
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return "timeout"
        r, _, _ = select.select([fd], [], [], min(left, 0.5))
        if r:
            chunk = os.read(fd, 4096)
            buf += chunk
            if b"compiling" in buf:
                return "compiling"
            if not chunk:                 # stdout closed: the child is exiting
                try:
                    warm.wait(timeout=max(0.1, end - time.monotonic()))
                except subprocess.TimeoutExpired:
                    return "timeout"
                return "ready" if warm.returncode == 0 else "failed"


_fault_pending = [int(os.environ.get("MASTERBOX_FAULT_AFTER_BLOCKS", "0"))]


def _build_chain(params, fs):
    from masterbox.dsp import Chain
    fault_at = _fault_pending[0]
    if fault_at > 0:
        # Test hook (MASTERBOX_FAULT_AFTER_BLOCKS=N): the first chain raises
        # once at block N, to prove a failing callback becomes safe audio.
        _fault_pending[0] = 0

        class FaultInjectingChain(Chain):
            calls = 0

            def process_into(self, x, out):
                self.calls += 1
                if self.calls == fault_at:
                    raise RuntimeError("injected fault")
                super().process_into(x, out)
        chain = FaultInjectingChain(fs, params.vector())
    else:
        chain = Chain(fs, params.vector())
    _load_kernels(Chain, fs, params.vector())
    return chain


def _load_kernels(chain_cls, fs, vector):
    """Make this process load every compiled kernel (from numba's cache) now,
    on a throwaway instance: the first call of a dispatcher loads its machine
    code, and that must not happen inside the audio callback.  The real chain
    stays untouched (its state starts at sample 0, like a render)."""
    import numpy as np
    scratch = chain_cls(fs, vector)
    x = np.zeros((256, 2), dtype=np.float32)
    scratch.process_into(x, np.empty_like(x))
    scratch.snapshot()


class InstanceLockError(MasterboxError):
    """Another daemon holds the instance lock."""


def acquire_instance_lock(path: str) -> int:
    """flock(LOCK_EX | LOCK_NB) on ``path`` (next to the control socket, in
    the runtime directory); returns the descriptor, held until exit.  The
    file holds the owner's pid, for the message a second daemon prints.
    The lock file is never deleted (deleting it would let two daemons lock
    two different files)."""
    import fcntl
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            other = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
        except OSError:
            other = "?"
        os.close(fd)
        raise InstanceLockError(f"another masterbox daemon is already running (pid {other}, "
                                f"lock {path}); stop it first") from None
    except OSError:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def release_instance_lock(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


class SignalFlag:
    """A flag a signal handler may set.  Not a threading.Event: a handler runs
    in the main thread between any two bytecodes, possibly while the main
    thread holds that Event's (non-reentrant) lock, and Event.set() would
    then deadlock (the suspected cause of a daemon that once ignored SIGTERM
    for good in a loaded test run)."""

    def __init__(self):
        self._on = False

    def set(self):
        self._on = True

    def is_set(self) -> bool:
        return self._on

    def clear(self):
        self._on = False


class SignalWake:
    """Wakes the main loop from a signal handler: a non-blocking self-pipe
    (os.write is async-signal-safe; no Python lock is involved)."""

    def __init__(self):
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def set(self):
        try:
            os.write(self._w, b"x")
        except OSError:                  # full: a wake-up is already pending
            pass

    def wait(self, timeout: float) -> None:
        import select
        try:
            select.select([self._r], [], [], timeout)
        except InterruptedError:         # pragma: no cover - Python retries select
            pass
        try:
            while os.read(self._r, 4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass


WATCHDOG_STALL_S = 5.0     # under systemd's WatchdogSec=10
STOP_LIMIT_S = 8.0         # SIGTERM to exit, at most (systemd waits 90 s)
EXIT_STOP_TIMEOUT = 1


def _hang_for_test():
    """Failure injection for tests/test_hostile.py (MASTERBOX_TEST_HANG_ON_STOP):
    an orderly stop that never finishes."""
    threading.Event().wait()


def stop_guard(stop: "SignalFlag", limit_s: float = STOP_LIMIT_S) -> threading.Thread:
    """A daemon thread that, once ``stop`` is set, gives the orderly stop
    ``limit_s`` and then dumps every thread's stack and exits the process.
    A full test run once saw the daemon ignore SIGTERM after a SIGHUP storm
    (not reproduced in 1,500-signal storms since): whatever hangs, the box
    must still stop, and the dump says where it hung.  It polls a plain
    flag (a signal handler may not take locks, so it cannot start a timer)."""
    import faulthandler

    def _guard():
        while not stop.is_set():
            time.sleep(0.2)
        time.sleep(limit_s)
        sys.stderr.write(f"masterbox: stop took more than {limit_s:.0f} s; thread stacks:\n")
        sys.stderr.flush()
        faulthandler.dump_traceback(all_threads=True)
        os._exit(EXIT_STOP_TIMEOUT)
    t = threading.Thread(target=_guard, name="stop-guard", daemon=True)
    t.start()
    return t


def watchdog_health(engine, now: float, cb_seen_at: float):
    """(ok, reason) for a WATCHDOG=1 ping from the main loop (which must be
    running to ask): the audio supervisor is alive and not stuck, and audio
    callbacks advance whenever audio is expected.  While the device is gone
    (waiting-for-device, no stream) nothing is expected: the supervisor's
    retries are the health, so an unplugged interface is waited for, not
    killed."""
    t = getattr(engine, "_thread", None)
    if t is not None and not t.is_alive() and not engine.done.is_set() \
            and not engine.needs_restart.is_set():
        return False, "the audio supervisor thread has stopped"
    if t is not None and now - engine.heartbeat > WATCHDOG_STALL_S:
        return False, f"the audio supervisor has been stuck for {now - engine.heartbeat:.0f} s"
    if engine.state == "waiting-for-device" or engine.stream is None:
        return True, ""
    if now - cb_seen_at > WATCHDOG_STALL_S:
        return False, f"no audio callbacks for {now - cb_seen_at:.0f} s with the stream open"
    return True, ""


def run(config_path=None, max_frames: int = 0, socket_path=None, wait_for_device=False) -> int:
    t_start = time.monotonic()
    try:
        cfg, presets = cfgmod.load_config(config_path)
    except ConfigError as e:
        for m in e.messages:
            print(f"masterbox: {m}", file=sys.stderr)
        return 2
    logging.basicConfig(level=getattr(logging, cfg["log_level"].upper()),
                        format="%(levelname)s %(name)s: %(message)s")
    sock = socket_path or os.environ.get("MASTERBOX_SOCKET") or cfg["control_socket"]
    try:
        lock = acquire_instance_lock(sock + ".lock")
        prepare_socket_path(sock)         # before any audio: a clash is exit 2, not a takeover
    except (InstanceLockError, SocketPathError) as e:
        print(f"masterbox: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"masterbox: {sock}: {e.strerror or e}", file=sys.stderr)
        return 2
    d = cfg["defaults"]
    defaults = {"genre": d["genre"], "intensity": float(d["intensity"]),
                "target_lufs": d["target_lufs"], "ceiling_dbtp": float(d["ceiling_dbtp"]),
                "bypass": False}
    state = load_state(cfg["state_file"], defaults, presets)
    # MASTERBOX_STATE_DEBOUNCE_S: tests stretch it to prove the flushes at reload and exit
    store = StateStore(cfg["state_file"], state,
                       debounce_s=float(os.environ.get("MASTERBOX_STATE_DEBOUNCE_S", "2.0")))
    params = Parameters(presets, state, store, cfg["audio"]["bypass_loudness_match"])
    engine = AudioEngine(cfg["audio"], params, max_frames=max_frames)
    waiting = False
    try:
        engine.resolve()
    except DeviceError as e:
        if not wait_for_device:
            print(f"masterbox: {e}", file=sys.stderr)
            return 2
        log.info("%s: waiting for it", e)
        waiting = True
    except OSError as e:          # PortAudio itself missing
        print(f"masterbox: audio system unavailable: {e}", file=sys.stderr)
        return 2
    # the gadget is there but its host does not stream yet: the chain is
    # still built now (the device's rate is known), the stream opens later
    host_wait = not waiting and not engine.gadget_host_ready()

    warm = _warmup_process()
    verdict = warmup_verdict(warm)
    if verdict == "compiling":
        log.info("numba cache cold: compiling in the background, dry audio meanwhile")
    elif verdict == "timeout":
        log.warning("kernel warm-up gave no word in %.0f s: dry audio until it is done",
                    WARMUP_VERDICT_CAP_S)
    if verdict == "ready":
        warm.communicate()                # reaped, its pipes closed
    engine.chain_factory = lambda fs: _build_chain(params, fs)
    if os.environ.get("MASTERBOX_DRY_ONLY") == "1":
        # Test hook (tests/vm): the chain is never installed, the engine's
        # latency-matched dry path plays (= a render at intensity 0, delayed
        # by the chain's latency).  Under qemu's software emulation the chain
        # costs ~15x real time (dsp_load 1494 % seen at 128 frames), so the
        # VM checks the drivers, the daemon and the transport this way.
        engine.chain_factory = None
        verdict = "dry-only"
    if verdict == "ready" and not waiting:
        chain = engine.chain_factory(engine.fs)
        params.attach(chain)
        engine.chain = chain              # from the first sample: live == render
    if host_wait:
        log.info("USB gadget: waiting for the host to stream (%s)", engine.usb.state)
        waiting = True
    # threads holding the GIL hand it to the audio callback after 1 ms, not 5
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    _settle_heap()
    try:
        engine.start(waiting=waiting)
    except Exception as e:   # noqa: BLE001 - the device vanished between lookup and open
        log.warning("could not open the audio stream (%s): waiting for the device", e)
        waiting = True
        engine.stream = None
        engine.start(waiting=True)
    t_audio = time.monotonic() - t_start
    if waiting:
        log.info("waiting for the audio device (%.2f s after start)", t_audio)
    else:
        log.info("audio running %.2f s after start (%s)", t_audio,
                 "mastering" if engine.chain is not None else "dry until the kernels are ready")
    if engine.chain is not None:
        log.info("mastering engaged %.2f s after start", t_audio)
    notify("READY=1")

    stop = SignalFlag()
    reload_req = SignalFlag()
    wake = SignalWake()
    stop_guard(stop)
    import faulthandler
    faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)

    def on_stop(*_):
        stop.set()
        wake.set()
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)

    def on_hup(*_):
        reload_req.set()
        wake.set()              # reload now, not at the next tick
    signal.signal(signal.SIGHUP, on_hup)

    if waiting or engine.chain_factory is None:
        # the chain is built when the device appears; just reap the warm-up
        threading.Thread(target=warm.communicate, name="warmup-reaper", daemon=True).start()
    elif engine.chain is None:
        def late_kernels():
            err = warm.communicate()[1]
            if warm.returncode != 0:
                log.error("kernel warm-up failed: %s", err.decode(errors="replace")[-500:])
            sys.setswitchinterval(0.0005)   # let the callback in while we load
            try:
                chain = engine.chain_factory(engine.fs)
                params.attach(chain)
                engine.install_chain(chain)
                log.info("mastering engaged %.2f s after start", time.monotonic() - t_start)
            except Exception as e:   # noqa: BLE001
                log.error("could not start the mastering chain: %s", e)
            finally:
                sys.setswitchinterval(SWITCH_INTERVAL_S)
                _settle_heap(collect=False)
        threading.Thread(target=late_kernels, name="kernels", daemon=True).start()

    config_error = [None]     # the last reload's problem, until a reload succeeds
    reloads = [0]

    def full_status() -> dict:
        return Status.from_engine(
            engine.status(), **store.status(), config_error=config_error[0], reloads=reloads[0],
            genre=params.genre, intensity=params.intensity, target_lufs=params.target_lufs,
            ceiling_dbtp=params.ceiling_dbtp, bypass=params.bypass,
            genres=sorted(params.presets)).to_dict()

    server = None
    try:
        server = ControlServer(sock, params, full_status)
        server.start()
    except OSError as e:
        log.error("control socket %s unavailable: %s (audio continues)", sock, e)

    last_cb, cb_seen_at = -1, time.monotonic()
    withheld = None
    while not stop.is_set():
        if engine.done.is_set():
            break
        if engine.needs_restart.is_set():
            _restart_in_place(store, server)
        if reload_req.is_set():
            reload_req.clear()
            store.flush()            # a setting made just before must survive whatever follows
            cfg, config_error[0] = _reload(cfg, config_path, params, engine)
            reloads[0] += 1
        st = full_status()
        notify("STATUS=" + status_line(st))
        now = time.monotonic()
        if engine.callbacks != last_cb:
            last_cb, cb_seen_at = engine.callbacks, now
        ok, why = watchdog_health(engine, now, cb_seen_at)
        if ok:
            notify("WATCHDOG=1")
            if withheld:
                log.warning("watchdog: healthy again; pings resumed")
            withheld = None
        elif why != withheld:
            log.error("watchdog: withholding pings (systemd will restart the daemon): %s", why)
            withheld = why
        if not stop.is_set():
            wake.wait(1.0)

    notify("STOPPING=1")
    if os.environ.get("MASTERBOX_TEST_HANG_ON_STOP"):
        _hang_for_test()
    engine.stop()
    if not store.close():
        log.error("exiting with unsaved settings: %s", store.error)
    if server is not None:
        server.stop()
    log.info("stopped: %s; faults %d", status_line(full_status()), engine.faults)
    release_instance_lock(lock)
    return 0


def _restart_in_place(store, server):
    """PortAudio is wedged after a device loss (seen with JACK): threads stuck
    inside it cannot be freed, so save the state and exec a fresh daemon in
    this same process (same PID: systemd keeps tracking it), which waits for
    the device instead of exiting."""
    log.warning("audio system wedged after the device loss: restarting the daemon in place")
    store.close()
    if server is not None:
        server.stop()                     # removes the socket only if it is still ours
    # the instance lock's descriptor is close-on-exec: the new image takes it again
    args = [a for a in sys.argv[1:] if a != "--wait-for-device"]
    logging.shutdown()
    close_on_exec_all()
    os.execv(sys.executable, [sys.executable, "-m", "masterbox.firmware.cli", *args, "--wait-for-device"])


def close_on_exec_all(keep=(0, 1, 2)) -> int:
    """Mark every descriptor but ``keep`` close-on-exec; returns how many
    were inheritable.  libjack opens its server sockets without O_CLOEXEC,
    and the lost server's socket is never closed (PortAudio abandons the
    wedged stream): before this, each device loss that re-executed the
    daemon carried one more dead socket into the new image (bench/limits.py:
    20 -> 26 fds over 6 losses)."""
    n = 0
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd in keep:
            continue
        try:
            if os.get_inheritable(fd):
                os.set_inheritable(fd, False)
                n += 1
        except OSError:                  # the listing's own descriptor, or closed meanwhile
            pass
    return n


def _reload(cfg, path, params, engine):
    """Apply the config file again.  Returns (config in force, error text or
    None): an unusable file keeps the running config, logged once."""
    try:
        new, presets = cfgmod.load_config(path)
    except ConfigError as e:
        for m in e.messages:
            log.error("reload: %s", m)
        log.error("reload: keeping the running configuration")
        more = f" (+{len(e.messages) - 1} more)" if len(e.messages) > 1 else ""
        return cfg, e.messages[0] + more
    except Exception as e:   # noqa: BLE001 - a reload must never take the audio down
        log.error("reload: %s: %s; keeping the running configuration", type(e).__name__, e)
        return cfg, f"reload failed: {type(e).__name__}: {e}"
    params.replace_presets(presets)
    params.loudness_match = new["audio"]["bypass_loudness_match"]
    logging.getLogger().setLevel(getattr(logging, new["log_level"].upper()))
    changed = cfgmod.structural_changes(cfg, new)
    if changed:
        log.info("reload: %s changed: reopening the audio stream", ", ".join(changed))
        engine.cfg = new["audio"]
        engine.block = int(new["audio"]["blocksize"])
        engine.fs = None                   # re-allocate for the new block / rate
        engine.close()                     # the supervisor reopens and rebuilds the chain
    else:
        log.info("reload: applied (no audio restart needed)")
    return new, None
