"""Host side of `make vm-test`: the music the PC plays in the VM, as int16
frames at 48 kHz in the share (the guest has no scipy for the demo mix).
Real music when the development music is on this machine (Makefile
MUSIC_DIR, ../shared/material/get-dev-music.sh), else the demo mix."""
import os
import sys

import numpy as np

out = sys.argv[1]
seconds = 62.0
d = os.path.join(os.environ.get("MUSIC_DIR", os.path.expanduser("~/.cache/masterbox-music")),
                 "unmastered")
names = ["lincity_03.wav", "lincity_01.wav", "lincity_02.wav"]
m, what = None, "synthesized demo mix (firmware/demo.py)"
try:
    import soundfile as sf
    parts = []
    for n in names:
        x, fs = sf.read(os.path.join(d, n), dtype="float32", always_2d=True)
        if fs != 48000 or x.shape[1] != 2:
            raise ValueError(n)
        parts.append(x)
    x = np.concatenate(parts)
    if len(x) >= seconds * 48000:
        m = x[:int(seconds * 48000)]
        what = "real music: " + " + ".join(names) + f" from {d}"
except Exception:   # noqa: BLE001 - no music here: the demo mix
    pass
if m is None:
    from masterbox.firmware.demo import synth_mix
    m = synth_mix(48000, seconds)
np.save(out, np.clip(np.round(np.asarray(m, np.float64) * 32768.0), -32768, 32767).astype(np.int16))
print(what)
