"""Two sound cards, two clocks: the capture callback writes a lock-free ring,
the playback callback reads it through the adaptive resampler (issue 12,
modes interface-to-gadget and gadget-to-interface).

    capture thread (card A's clock)      playback thread (card B's clock)
      write(indata) --> [ SPSC ring ] --> read_into(out): resample at `step`
                                            step <- PI(ring level - target)

Single producer, single consumer: each side advances only its own counter
(``w`` for the writer, ``r`` for the reader) after its data is in place,
and reads the other's; under CPython a counter is one object replaced whole,
so no lock is needed (and the audio callbacks must not take one).  No
allocation in ``write`` / ``read_into``: the ring, the resampler's buffer and
the controller's state are allocated here, once.

The controller is CamillaDSP's rate adjust (dsp/resample.py ``rate_control``):
the level is averaged over 1 s and steers the read step; a level beyond the
ring (the reader stalled) is dropped back to the target, an empty ring plays
silence (both counted: the status shows them).

After an xrun the through delay is re-aligned at once (issue 12, item 3:
the stated latency stays constant): a capture overflow loses frames (the
ring is that much emptier: output would come early), a late playback
callback leaves it fuller (output late).  Left to the controller, a
128-frame error took seconds to work off (its 1 s average and gains are
made for drift, ~5 frames/s).  The callbacks report the xrun
(``mark_xrun_*``, each side its own counter, so the ring stays
single-writer) and the next read moves its position by the error against
the averaged level (the delay the status states):
dropping frames, or replaying frames still in the ring, at a point where
the audio was already broken.  The controller's clock ratio (its
integral) is kept.
"""
from __future__ import annotations

import numpy as np

from masterbox.dsp import resample as R

REALIGN_TOL = 0.5       # x block: a smaller delay error after an xrun is left to the controller
UPDATE_S = 1.0          # the controller's interval (CamillaDSP adjust_period, shorter)
K_P, K_I = 0.2, 0.004   # CamillaDSP's default gains (PIRateController::new_with_default_gains)


class Bridge:
    def __init__(self, fs: int, block: int, channels: int = 2, target: int | None = None):
        self.fs, self.block, self.nch = fs, block, channels
        self.target = int(target or max(4 * block, 512))
        self.cap = 1 << int(np.ceil(np.log2(8 * self.target + 8 * block)))
        self.ring = np.zeros((self.cap, channels), dtype=np.float32)
        self.w = 0                  # frames ever written (the writer's counter)
        self.t_w = 0.0              # when the last block was written
        self.r = 0                  # frames ever read (the reader's counter)
        self.table = R.design_table()
        self.buf = np.zeros((4 * block + R.TAPS + 8, channels), dtype=np.float32)
        self.n_valid = 0
        self.pos = float(R.HALF - 1)
        self.rc = R.new_rate_state()
        self.blocks_per_update = max(1, int(round(UPDATE_S * fs / block)))
        self.primed = False
        self.underruns = 0
        self.overruns = 0
        self.level_min = None
        self.level_max = None
        self.step = 1.0
        self.xruns_w = 0            # capture overflows (the writer's counter)
        self.xruns_r = 0            # playback underflows (the reader's counter)
        self.xruns_seen = 0         # reader: marks already acted on
        self.realigns = 0
        # load (or compile) the kernels here, before any audio callback runs
        # them: never in the callback (STYLE: warm every kernel first)
        scratch = np.zeros((block, channels), dtype=np.float32)
        p = R.resample_into(self.buf, float(R.HALF - 1), 1.0, self.table, scratch)
        R.discard_front(self.buf, 0, p, R.HALF)
        R.frames_needed(float(R.HALF - 1), 1.0, block, R.HALF)
        R.rate_control(R.new_rate_state(), 0.0, 1.0, 1, 1.0, K_P, K_I)

    # ------------------------------------------------------------ writer side
    def write(self, x, now: float) -> None:
        """``now``: when the block was captured, in the clock the reader's
        ``now`` uses (time.monotonic() in both callbacks)."""
        n = x.shape[0]
        w = self.w
        i = w % self.cap
        k = min(n, self.cap - i)
        self.ring[i:i + k] = x[:k]
        self.ring[:n - k] = x[k:n]
        self.t_w = now
        self.w = w + n              # published after the data and its time

    def mark_xrun_input(self) -> None:
        """The capture callback saw an input overflow (writer thread)."""
        self.xruns_w += 1

    # ------------------------------------------------------------ reader side
    def mark_xrun_output(self) -> None:
        """The playback callback saw an output underflow (reader thread)."""
        self.xruns_r += 1

    def level(self) -> int:
        return self.w - self.r

    def read_into(self, out, now: float) -> None:
        """Fill ``out`` (frames, channels) with resampled input; silence
        until the ring first reaches its target, and when it runs dry.

        The level the controller sees is continuous in time: the frames in
        the ring plus those the writer has captured since its last block
        (``fs * (now - t_w)``).  The raw count depends on where the two
        callbacks' block phases stand, which drifts with the clocks (through
        a whole block every 27 s at 100 ppm, 128 frames): fed that, the
        controller chased the phase in a limit cycle (seen in
        tests/test_bridge.py's simulation, step swinging by 2e-4)."""
        n = out.shape[0]
        avail = self.w - self.r
        if avail > self.cap - 2 * self.block:
            # the writer lapped a stalled reader: skip to the target level
            self.r = self.w - self.target
            self.overruns += 1
            avail = self.target
        if not self.primed:
            if avail < self.target:
                out.fill(0.0)
                return
            self.primed = True
        since = (now - self.t_w) * self.fs
        if since < 0.0 or since > self.block:   # a stale or racing timestamp: ignore it
            since = 0.0
        lvl = avail + since + (self.n_valid - self.pos)
        marks = self.xruns_w + self.xruns_r
        if marks != self.xruns_seen:
            self.xruns_seen = marks
            # back to the delay in effect before it (the 1 s average the
            # status states), not to the target: the controller may still
            # be on its slow way there, and the stated latency is the average
            ref = self.rc[R.RC_AVG] if self.rc[R.RC_AVG] > 0 else float(self.target + R.HALF)
            err = int(round(lvl - ref))
            if abs(err) > REALIGN_TOL * self.block:
                # drop (err > 0) or replay (err < 0) frames; a replay only
                # reaches frames the writer has not overwritten yet
                err = max(-(self.cap - 2 * self.block - avail), min(err, avail))
                self.r += err
                avail -= err
                lvl -= err
                self.rc[R.RC_SUM] = 0.0     # the running average spans the jump: restart it
                self.rc[R.RC_COUNT] = 0.0
                self.realigns += 1
        if self.level_min is None or lvl < self.level_min:
            self.level_min = lvl
        if self.level_max is None or lvl > self.level_max:
            self.level_max = lvl
        self.step = R.rate_control(self.rc, lvl, float(self.target + R.HALF), self.blocks_per_update,
                                   UPDATE_S * self.fs, K_P, K_I)
        need = R.frames_needed(self.pos, self.step, n, R.HALF)
        take = need - self.n_valid
        if take > avail:
            # ran dry: play silence and start over (primed again at the target)
            self.underruns += 1
            self.primed = False
            self.n_valid = 0
            self.pos = float(R.HALF - 1)
            out.fill(0.0)
            return
        if take > 0:
            r = self.r
            i = r % self.cap
            k = min(take, self.cap - i)
            self.buf[self.n_valid:self.n_valid + k] = self.ring[i:i + k]
            self.buf[self.n_valid + k:need] = self.ring[:take - k]
            self.r = r + take
            self.n_valid = need
        self.pos = R.resample_into(self.buf, self.pos, self.step, self.table, out)
        self.n_valid, self.pos = R.discard_front(self.buf, self.n_valid, self.pos, R.HALF)

    def delay_frames(self) -> float:
        """The FIFO's part of the through delay: the averaged level (ring +
        resampler buffer) and the interpolator's centre."""
        avg = self.rc[R.RC_AVG] if self.rc[R.RC_AVG] > 0 else float(self.level())
        return avg

    def status(self) -> dict:
        return {"resampler_ratio": round(float(self.step), 8),
                "fifo_level_frames": round(float(self.rc[R.RC_AVG]), 1),
                "fifo_level_min_frames": None if self.level_min is None else round(float(self.level_min), 1),
                "fifo_level_max_frames": None if self.level_max is None else round(float(self.level_max), 1),
                "fifo_target_frames": self.target + R.HALF,
                "fifo_underruns": self.underruns, "fifo_overruns": self.overruns,
                "fifo_realigns": self.realigns}
