"""Exploration (replaced by the checks)."""
import json, os, signal, socket, subprocess, sys, time
V = "/mnt/share/venv/bin"
def sh(c):
    print("$", c, flush=True); subprocess.run(c, shell=True)
def status(sock):
    s = socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect(sock)
    s.sendall(b'{"cmd": "status"}\n'); buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(65536)
        if not c: break
        buf += c
    return json.loads(buf)
sh(f"{V}/masterbox bench 2>&1 | tail -8")
sh("bash -c '. /mnt/share/ci/lib.sh; setup_gadget iso'")
sh("cat /proc/asound/cards; ls /sys/class/udc; cat /sys/class/udc/*/state; amixer -c UAC2Gadget controls; amixer -c UAC2Gadget cget name='Capture Rate'")
sh(f"{V}/python -c 'import sounddevice as sd; print(sd.query_devices())'")
os.makedirs("/tmp/mb", exist_ok=True)
open("/tmp/mb/config.yaml", "w").write(
    "audio: {mode: gadget, gadget_device: UAC2_Gadget, samplerate: 48000, blocksize: 128}\n"
    "state_file: /tmp/mb/state.json\ncontrol_socket: /tmp/mb/control.sock\npresets_dirs: []\n"
    "defaults: {genre: rock, intensity: 6, target: stream}\nlog_level: debug\n")
d = subprocess.Popen([f"{V}/masterbox", "run", "--config", "/tmp/mb/config.yaml"])
for i in range(120):
    if os.path.exists("/tmp/mb/control.sock"): break
    time.sleep(0.5)
time.sleep(3)
print("STATUS before host", json.dumps({k: v for k, v in status("/tmp/mb/control.sock").items() if k in ("state", "usb_state", "usb_host_rate_hz", "end_to_end_latency_ms", "device_latency_ms", "measured_delay_ms")}), flush=True)
sh("python3 /mnt/share/ci/siggen.py counter /tmp/sig.wav 12")
h = subprocess.Popen("aplay -D hw:CARD=CIUAC2,DEV=0 /tmp/sig.wav", shell=True)
r = subprocess.Popen("arecord -D hw:CARD=CIUAC2,DEV=0 -f S16_LE -c 2 -r 48000 -d 14 /tmp/rec.wav", shell=True)
for i in range(12):
    time.sleep(1)
    st = status("/tmp/mb/control.sock")
    print("STATUS", json.dumps({k: st.get(k) for k in ("state", "mastering", "usb_state", "usb_host_rate_hz", "end_to_end_latency_ms", "device_latency_ms", "measured_delay_ms", "measured_delay_spread_ms", "xruns_input", "xruns_output", "dsp_load_pct", "dsp_load_max_pct", "signal_onset_frame", "callbacks")}), flush=True)
h.wait(); r.wait()
time.sleep(3)
st = status("/tmp/mb/control.sock")
print("STATUS after host", json.dumps({k: st.get(k) for k in ("state", "usb_state", "usb_host_rate_hz", "callbacks")}), flush=True)
d.send_signal(signal.SIGTERM); d.wait(10)
sh("python3 /mnt/share/ci/analyze.py /tmp/rec.wav rec")
