"""Leveler (AGC) built for live moments: talk between songs, pauses, quiet
intros and endings, build-ups, crossfades.

    gain = target - reference + macro + trim      (dB, clamped)

* **reference** (the programme's loudness, LUFS): anchored at the first
  sound and at every programme change, then *held*: it follows the gated
  short-term loudness only slowly (a genre-scaled dB/s), and
  only while the music sits within ``programme_change_lu`` of it; passages
  more than ``HOLD_LU`` below it (quiet endings, breakdowns) leave it in
  place, bar a slow drift.  A quiet ending is a quiet passage of the same
  programme, not a new one (issue 9; F2 of shared/LEVELER-NOTES.md; the
  "window" of Orban / TC P2 / dbx broadcast AGCs).
* **macro**: the part of a passage's deviation from the reference that is
  evened out: ``k * (reference - short_term)`` outside a dead band, k =
  genre levelling x intensity / 10; low intensity keeps shapes.  Rises at
  most MACRO_UP_DB_S, falls at MACRO_DOWN_DB_S (careful up, quicker down).
* **trim**: what the compressor and limiter take away, *measured* as the
  long-term ratio of the leveler's output power to the chain's output power
  over the same 100 ms sub-blocks.  A ratio, not an error integrator, so it
  cannot wind up; frozen while paused, bypassed or while the limiter works
  hard.
* **programme change up** (a song after talk, a drop after a quiet intro, a
  cold start): a fast (25 ms) loudness detector sustained 40 ms above the
  reference + change threshold while the output would run hot: the gain is
  re-aimed at once, the limiter covering the first tens of ms.
* **programme change down** (talk after a song): the momentary loudness
  sustained below the reference - change threshold *and* speech-like
  (frequent deep dips between words, as Orban's detector looks for
  syllabic pauses): re-anchor, then rise quickly.  Continuous quiet music
  (a breakdown) is not a new programme.
* **pause**: 100 ms sub-blocks below -50 LUFS freeze everything (the gated
  window, the reference, macro, trim); after PAUSE_HOLD_S the applied gain
  glides down to at most 0 dB (room noise is not pumped up) and returns
  within tens of ms to the gain it had, never higher (master_me's brake,
  Omnia Volt's RTZ).
* **momentary cap**: the momentary (400 ms) loudness with the gain, less
  the measured downstream loss (trim), never runs more than 3 LU above
  target (more for genres that keep their range:
  a crescendo is music); releases at most UP_DB_S.

* **density cap** (issue 10, item 3: intensity means "more" in every
  dimension): the main limiter's threshold, decided here with the gain.
  The programme's own peak-to-loudness ratio (a sample-peak memory falling
  PEAK_FALL_DB_S, minus the reference) is kept: the output's peaks may sit
  at most that far above where its loudness is aimed (the target, less the
  reserve of a genre that keeps its range), so a mastered track does not
  come out with more crest than it went in with (lincity_01: PLR 11.6 in,
  12.7 out at every intensity; classical, measured against the target
  alone, 12.4 at intensity 1); and each intensity step pushes DRIVE_DB_STEP
  further into the limiter (the tone correction's bass cuts raised the
  crest factor by up to 1.2 dB from intensity 2 to 10), never below a PLR
  of PLR_FLOOR_DB.

Decisions every 100 ms on the global sample grid; the applied gain glides
per control tick (32 samples) and is interpolated per sample.
"""
from __future__ import annotations

import math

from .. import params as P
from .._jit import helper, kernel
from ..biquad import CR, one_pole_coef
from ..design import k_weighting
from ..layout import Region, region
from ..regstate import biquad_step
from ..units import NEG_INF_LUFS, db_to_gain, power_to_lufs

MAX_BOOST_DB = 18.0
MAX_CUT_DB = -20.0
SUB_S = 0.1                 # decision period (a BS.1770 sub-block)
WINDOW = 30                 # gated sub-blocks in the programme window (3 s)
MOMENTARY = 4               # sub-blocks in the momentary window (400 ms)
ABS_GATE_LUFS = -50.0       # below: silence / pause (a -60 dBFS room stays put)
WINDOW_GATE_LU = -20.0      # sub-blocks this far below the reference skip the window
HOLD_LU = 10.0              # passages this far below the reference hold it
HOLD_DRIFT = 0.25           # ... bar a drift at this share of the reference rate
REF_RATE_DB_S = 0.6         # reference slew at levelling 1, intensity 5
REF_DEAD_BAND_LU = 0.5      # the reference does not chase smaller deviations
MACRO_MAX_DB = 12.0
MACRO_UP_DB_S = 1.0
MACRO_DOWN_DB_S = 3.0
MOMENTARY_HEADROOM_LU = 3.0
CAP_EXTRA_LU = 8.0          # genres that keep their range get more headroom:
                            # + CAP_EXTRA_LU x (0.5 - levelling), a crescendo is music
UP_DB_S = 3.0               # the wanted gain rises at most this fast ...
ACQUIRE_UP_DB_S = 20.0      # ... except while re-acquiring a new programme
ACQUIRE_S = 3.0             # after an anchor: the reference follows quickly
ACQUIRE_TAU_S = 0.5
FAST_TAU_S = 0.025          # programme-change-up detector
CHANGE_UP_SUSTAIN_S = 0.04
CHANGE_DOWN_SUSTAIN_S = 0.6
DIP_TAU_S = 0.01            # speech detector envelope
DIP_DEPTH_DB = 15.0         # a swing this deep within 200 ms is a gap between words
SPEECH_SUB_BLOCKS = 20      # speech detector memory (2 s)
SPEECH_DIP_SHARE = 0.25     # share of sub-blocks with a dip that means "talk"
PAUSE_HOLD_S = 0.5
PAUSE_GAIN_DB = 0.0
PAUSE_TAU_S = 1.0
APPLY_TAU_S = 0.05          # applied-gain glide
FAST_APPLY_TAU_S = 0.005    # ... right after a programme change up
FAST_APPLY_S = 0.1
TRIM_TAU_S = 4.0
MAX_TRIM_DB = 6.0
TRIM_FREEZE_LIMITER_DB = 3.0
UNREACHABLE_S = 10.0
PEAK_FALL_DB_S = 0.1        # the programme's peak memory falls this fast
DRIVE_DB_STEP = 0.2         # the main limiter's drive per intensity step
PLR_FLOOR_DB = 8.0          # the drive never pushes the peak-to-loudness
                            # ratio below this (a loud modern master's)
NO_CAP_DB = 100.0           # LIM_CAP before the first decision: no cap
CAP_RATE_DB_S = 0.5         # the cap moves at most this fast
RESERVE_LU = 8.0            # genres that keep their range start a programme
                            # RESERVE_LU x (0.5 - levelling) under target: a
                            # classical opening is rarely its loudest passage
REF_RETURN_DB_S = 2.0       # the reference climbs back to where it was this fast
REF_HIGH_TAU_S = 60.0       # ... a memory that fades over this long

# regions
KW_SOS, KW_Z, RING, MOM, DIPS, ST, K = range(7)
# ST slots
ACC = 0             # K-weighted power over the running sub-block
ACC_TICK = 1        # ... over the running control period
FAST_POW = 2        # 25 ms loudness detector (power)
DIP_POW = 3         # 10 ms envelope (power) for the speech detector
SUB_MAX_DB = 4      # envelope max / min within the running sub-block
SUB_MIN_DB = 5
UP_TICKS = 6        # control ticks the change-up condition has held
RING_POS = 7
RING_FILLED = 8
MOM_POS = 9
DIP_POS = 10
REF_LUFS = 11       # programme reference; NEG_INF_LUFS before the first sound
ACQ_LEFT_S = 12
QUIET_S = 13        # time sustained below reference - change threshold
SILENT_S = 14
MACRO_DB = 15
TRIM_DB = 16
LEV_OUT_POW = 17    # trim estimator: leveler output power ...
CHAIN_OUT_POW = 18  # ... and chain output power, long-term
WANT_DB = 19        # wanted gain (decided every 100 ms)
APPLIED_DB = 20     # applied gain (glides per tick)
FAST_LEFT_S = 21
G_START = 22        # linear gain at the control period's start ...
G_END = 23          # ... and end
IN_SHORT_LUFS = 24  # gated short-term loudness of the input (report)
SPEECH = 25         # speech-likeness 0..1 (report)
UNREACH_S = 26      # time at a gain limit with the target missed
PAUSED = 27
PREV_LEV_OUT = 28   # leveler output power of the previous sub-block (aligned
                    # with the meter's last completed one)
PREV_APPLIED_DB = 29
RESERVE_DB = 30     # headroom kept for louder passages not heard yet
PREV_SUB_MAX_DB = 31
PREV_SUB_MIN_DB = 32
ANCHORS = 33        # programmes anchored so far (the tone stage re-learns on each)
ANCHORS_AT_SUB = 34 # ... as of the last sub-block boundary: a block (<= 4096)
                    # holds at most one boundary (sub-block >= 4410), so a later
                    # stage reading it at that boundary sees the same value
                    # whatever the block size
SUB_PEAK = 35       # input sample peak over the running sub-block (linear)
IN_PEAK_DB = 36     # the programme's peak memory, dBFS
LIM_CAP_DB = 37     # cap on the output's peaks (dBFS) from LIM_CAP_AT on ...
LIM_CAP_OLD_DB = 38 # ... and before it: the chain splits the limiter's block
LIM_CAP_AT = 39     # there, so the cap moves on the global grid
REF_HIGH = 40       # where the reference was before a quieter passage drew it down
N_ST = 41
# K slots: per-tick coefficients
K_FAST, K_DIP, K_APPLY, K_FAST_APPLY, K_PAUSE = range(5)


def regions(fs_hz: int):
    return [Region("kw_sos", 10), Region("kw_z", 8), Region("ring", WINDOW),
            Region("mom", MOMENTARY), Region("dips", SPEECH_SUB_BLOCKS),
            Region("st", N_ST), Region("k", 5)]


def init(v, fs_hz: int) -> None:
    fs = float(fs_hz)
    v("kw_sos")[:] = k_weighting(fs).ravel()
    v("k")[:] = [one_pole_coef(FAST_TAU_S, fs, CR), one_pole_coef(DIP_TAU_S, fs, CR),
                 one_pole_coef(APPLY_TAU_S, fs, CR), one_pole_coef(FAST_APPLY_TAU_S, fs, CR),
                 one_pole_coef(PAUSE_TAU_S, fs, CR)]
    st = v("st")
    st[REF_LUFS] = NEG_INF_LUFS
    st[G_START] = st[G_END] = 1.0
    st[SUB_MAX_DB] = NEG_INF_LUFS
    st[SUB_MIN_DB] = 0.0
    st[IN_SHORT_LUFS] = NEG_INF_LUFS
    st[IN_PEAK_DB] = NEG_INF_LUFS
    st[LIM_CAP_DB] = st[LIM_CAP_OLD_DB] = NO_CAP_DB


@helper
def _lufs(power):
    return power_to_lufs(power + 1e-30)


@helper
def _approach(x, goal, step):
    """x moved toward goal by at most step."""
    if goal > x:
        return min(goal, x + step)
    return max(goal, x - step)


# ---------------------------------------------------------------- per control tick

@kernel
def _levelling(tgt):
    """Effective macro-levelling: the genre's factor scaled by intensity / 5."""
    return tgt[P.LEV_LEVELLING] * min(max(tgt[P.INTENSITY], 0.0), 10.0) / 5.0


@kernel
def _ref_levelling(tgt):
    """The levelling that sets the reference's pace and the reserve: the
    genre's own (intensity 5's), at every intensity.  The intensity acts on
    the macro.  Scaled by intensity, a pop preset at intensity 1 started
    2.7 dB under target, or (anchored on a quiet opening) 1-2 LU over it,
    and crept toward it for a minute (LRA 1.0 -> 1.75 LU on fb_duo, 0.55 ->
    1.5 on a mastered track); at 10 the reference chased a 3 s burst and
    held the quiet passage after it down (lincity_02: LRA 6.5 -> 7.3 LU
    from intensity 3 to 10)."""
    return tgt[P.LEV_LEVELLING]


@kernel
def _reserve_db(tgt):
    return RESERVE_LU * max(0.5 - _ref_levelling(tgt), 0.0)


@kernel
def _anchor(st, ring, ref_lufs, acquire_s, reserve_db):
    """A new programme: the reference jumps, the window restarts."""
    st[REF_LUFS] = ref_lufs
    st[ANCHORS] += 1.0
    st[RESERVE_DB] = reserve_db
    st[ACQ_LEFT_S] = acquire_s
    st[MACRO_DB] = 0.0
    st[QUIET_S] = 0.0
    st[RING_FILLED] = 0.0
    st[RING_POS] = 0.0
    st[REF_HIGH] = ref_lufs
    for j in range(WINDOW):
        ring[j] = 0.0


@kernel
def control_tick(st, ring, k, tgt, fs):
    """Every CR samples: fast detectors, programme change up, gain glide."""
    target = tgt[P.TARGET_LUFS]
    p_tick = st[ACC_TICK] / CR
    st[ACC_TICK] = 0.0
    st[FAST_POW] += k[K_FAST] * (p_tick - st[FAST_POW])
    st[DIP_POW] += k[K_DIP] * (p_tick - st[DIP_POW])
    dip_db = _lufs(st[DIP_POW])
    st[SUB_MAX_DB] = max(st[SUB_MAX_DB], dip_db)
    st[SUB_MIN_DB] = min(st[SUB_MIN_DB], dip_db)
    fast = _lufs(st[FAST_POW])
    ref = st[REF_LUFS]
    # hot with the gain applied now, or with the one a pause is holding
    hot = fast + max(st[APPLIED_DB], st[WANT_DB]) > target + MOMENTARY_HEADROOM_LU
    if fast > ABS_GATE_LUFS and (ref <= NEG_INF_LUFS or
                                 (fast > ref + tgt[P.LEV_CHANGE_LU] and hot)):
        st[UP_TICKS] += 1.0
        if st[UP_TICKS] * CR >= CHANGE_UP_SUSTAIN_S * fs:
            # a new, louder programme (or the first sound): aim at the
            # target now; the 3 s window would take seconds
            reserve = _reserve_db(tgt)
            _anchor(st, ring, fast, ACQUIRE_S, reserve)
            st[WANT_DB] = min(max(target - fast - reserve + st[TRIM_DB], MAX_CUT_DB), MAX_BOOST_DB)
            st[FAST_LEFT_S] = FAST_APPLY_S
            st[UP_TICKS] = 0.0
    else:
        st[UP_TICKS] = 0.0
    goal = st[WANT_DB]
    coef = k[K_APPLY]
    if st[PAUSED] > 0.0:
        goal = min(goal, PAUSE_GAIN_DB)
        if goal < st[APPLIED_DB]:
            coef = k[K_PAUSE]
    if st[FAST_LEFT_S] > 0.0:
        coef = k[K_FAST_APPLY]
        st[FAST_LEFT_S] -= CR / fs
    st[APPLIED_DB] += coef * (goal - st[APPLIED_DB])
    st[G_START] = st[G_END]
    st[G_END] = db_to_gain(st[APPLIED_DB])


# ---------------------------------------------------------------- per 100 ms

@kernel
def _push_window(ring, st, p_sub):
    p = int(st[RING_POS])
    ring[p] = p_sub
    st[RING_POS] = (p + 1) % WINDOW
    if st[RING_FILLED] < WINDOW:
        st[RING_FILLED] += 1.0


@kernel
def _window_lufs(ring, st):
    filled = int(st[RING_FILLED])
    acc = 0.0
    for j in range(filled):
        acc += ring[j]
    return _lufs(acc / max(filled, 1))


@kernel
def _momentary_lufs(mom, st, p_sub):
    p = int(st[MOM_POS])
    mom[p] = p_sub
    st[MOM_POS] = (p + 1) % MOMENTARY
    acc = 0.0
    for j in range(MOMENTARY):
        acc += mom[j]
    return _lufs(acc / MOMENTARY)


@kernel
def _speech_likeness(dips, st):
    """Share of the last 2 s's 200 ms windows (two sub-blocks) across which
    the 10 ms envelope swung more than DIP_DEPTH_DB: talk has gaps between
    words every few hundred ms; music, even a quiet breakdown, is
    continuous.  (Compared within 200 ms, not with an older maximum: a hard
    cut from a loud song into a quiet passage is one swing, not talk.)"""
    p = int(st[DIP_POS])
    top = max(st[SUB_MAX_DB], st[PREV_SUB_MAX_DB])
    low = min(st[SUB_MIN_DB], st[PREV_SUB_MIN_DB])
    dips[p] = 1.0 if top - low > DIP_DEPTH_DB else 0.0
    st[DIP_POS] = (p + 1) % SPEECH_SUB_BLOCKS
    st[PREV_SUB_MAX_DB] = st[SUB_MAX_DB]
    st[PREV_SUB_MIN_DB] = st[SUB_MIN_DB]
    st[SUB_MAX_DB] = NEG_INF_LUFS
    st[SUB_MIN_DB] = 0.0
    n = 0.0
    for j in range(SPEECH_SUB_BLOCKS):
        n += dips[j]
    return n / SPEECH_SUB_BLOCKS


@kernel
def _follow_reference(st, short, rate_db_s):
    """The held reference: follows the gated short-term loudness slowly,
    drifts only slightly during passages far below it.  Louder passages
    first use up the reserve; steady ones give the reserve back slowly.

    A quieter passage draws the reference down at the genre's pace (its
    lift); when the programme comes back, the reference climbs back to
    where it was (REF_HIGH) at REF_RETURN_DB_S, not at that pace: the lift
    was the quiet passage's, and kept on, the loud return played up to
    1.3 dB hot for seconds, which *added* range at every intensity
    (fb_intro, pop: LRA 3.1 LU in, 3.5 at intensity 1).  Past where it was
    (a crescendo from a soft opening), the genre's pace."""
    ref = st[REF_LUFS]
    if st[ACQ_LEFT_S] > 0.0:
        st[REF_LUFS] += (1.0 - math.exp(-SUB_S / ACQUIRE_TAU_S)) * (short - ref)
        return
    if abs(short - ref) <= REF_DEAD_BAND_LU:
        st[RESERVE_DB] = max(st[RESERVE_DB] - rate_db_s * SUB_S, 0.0)
    if short > ref + st[RESERVE_DB] + REF_DEAD_BAND_LU:
        up = ref + rate_db_s * SUB_S
        if st[REF_HIGH] > ref:
            up = max(up, min(ref + REF_RETURN_DB_S * SUB_S, st[REF_HIGH]))
        st[REF_LUFS] = min(short - st[RESERVE_DB] - REF_DEAD_BAND_LU, up)
    elif short < ref - HOLD_LU:
        st[REF_LUFS] = ref - HOLD_DRIFT * rate_db_s * SUB_S
    elif short < ref - REF_DEAD_BAND_LU:
        st[REF_LUFS] = max(short + REF_DEAD_BAND_LU, ref - rate_db_s * SUB_S)


@kernel
def _macro_want(st, short, k_amount, dead_band):
    dev = st[REF_LUFS] - short
    if dev > dead_band:
        dev -= dead_band
    elif dev < -dead_band:
        dev += dead_band
    else:
        dev = 0.0
    return min(max(k_amount * dev, -MACRO_MAX_DB), MACRO_MAX_DB)


@kernel
def _trim_update(st, tgt, p_sub, chain_out_pow, lim_gr_db):
    """Downstream loss, measured: the leveler's output power in a sub-block
    against the chain's output power in the same sub-block (the meter's
    last completed one is the previous sub-block).  Not while the gain
    moves (the two would see different gains), nor right after an anchor."""
    g = db_to_gain(st[APPLIED_DB])
    lev_out = st[PREV_LEV_OUT]
    steady = abs(st[APPLIED_DB] - st[PREV_APPLIED_DB]) < 0.3
    st[PREV_LEV_OUT] = p_sub * g * g
    st[PREV_APPLIED_DB] = st[APPLIED_DB]
    if tgt[P.BYPASS] != 0.0 or tgt[P.INTENSITY] <= 0.0 or not steady \
            or st[ACQ_LEFT_S] > ACQUIRE_S - 1.0 \
            or lim_gr_db > TRIM_FREEZE_LIMITER_DB or chain_out_pow <= 0.0 or lev_out <= 0.0:
        return
    a = 1.0 - math.exp(-SUB_S / TRIM_TAU_S)
    if st[LEV_OUT_POW] <= 0.0:
        st[LEV_OUT_POW] = lev_out
        st[CHAIN_OUT_POW] = chain_out_pow
    else:
        st[LEV_OUT_POW] += a * (lev_out - st[LEV_OUT_POW])
        st[CHAIN_OUT_POW] += a * (chain_out_pow - st[CHAIN_OUT_POW])
    loss_db = 10.0 * math.log10((st[LEV_OUT_POW] + 1e-30) / (st[CHAIN_OUT_POW] + 1e-30))
    st[TRIM_DB] = min(max(loss_db, -MAX_TRIM_DB), MAX_TRIM_DB)


@kernel
def decide(st, ring, mom, dips, tgt, sub_n, chain_out_pow, lim_gr_db):
    """Every 100 ms: the wanted gain."""
    target = tgt[P.TARGET_LUFS]
    intensity = min(max(tgt[P.INTENSITY], 0.0), 10.0)
    levelling = _levelling(tgt)
    change_lu = tgt[P.LEV_CHANGE_LU]
    p_sub = st[ACC] / sub_n
    st[ACC] = 0.0
    sub_peak = st[SUB_PEAK]
    st[SUB_PEAK] = 0.0
    sub_lufs = _lufs(p_sub)
    mom_lufs = _momentary_lufs(mom, st, p_sub)
    speech = _speech_likeness(dips, st)
    st[SPEECH] = speech
    silent = sub_lufs < ABS_GATE_LUFS
    st[SILENT_S] = st[SILENT_S] + SUB_S if silent else 0.0
    st[PAUSED] = 1.0 if st[SILENT_S] >= PAUSE_HOLD_S else 0.0
    ref = st[REF_LUFS]
    if ref <= NEG_INF_LUFS or silent:
        return                      # nothing to learn from: everything holds
    # the gated programme window: pauses and gaps between words stay out
    if sub_lufs > ref + WINDOW_GATE_LU:
        _push_window(ring, st, p_sub)
    short = _window_lufs(ring, st) if st[RING_FILLED] > 0.0 else sub_lufs
    st[IN_SHORT_LUFS] = short
    # programme change down: sustained far below, and talk-like
    if mom_lufs < ref - change_lu:
        st[QUIET_S] += SUB_S
    else:
        st[QUIET_S] = 0.0
    acquiring = st[ACQ_LEFT_S] > 0.0
    if st[QUIET_S] >= CHANGE_DOWN_SUSTAIN_S and speech >= SPEECH_DIP_SHARE and not acquiring:
        _anchor(st, ring, mom_lufs, ACQUIRE_S, _reserve_db(tgt))
        _push_window(ring, st, p_sub)
        short = mom_lufs
        acquiring = True
    _follow_reference(st, short, REF_RATE_DB_S * _ref_levelling(tgt))
    # where the reference was: its own value while a programme is acquired,
    # then a memory of its highest that fades over REF_HIGH_TAU_S
    if acquiring:
        st[REF_HIGH] = st[REF_LUFS]
    else:
        st[REF_HIGH] = max(st[REF_LUFS], st[REF_HIGH] + (1.0 - math.exp(-SUB_S / REF_HIGH_TAU_S))
                           * (st[REF_LUFS] - st[REF_HIGH]))
    if acquiring:
        st[ACQ_LEFT_S] = max(st[ACQ_LEFT_S] - SUB_S, 0.0)
        macro_goal = 0.0
    else:
        dead_band = 2.0 - 0.1 * intensity
        # the passage's loudness as the macro sees it: the 3 s window, but
        # a cut only while the moment is still loud and a lift only while
        # it is still quiet (the window lags 3 s: after a loud burst it cut
        # the quiet passage that followed by up to 4 dB at intensity 10,
        # lincity_02: LRA 6.5 -> 7.3 LU from intensity 3 to 10)
        # (it only ever shrinks the window's cut or lift, never turns one
        # into the other: a passage far below stays out of the window)
        ref_now = st[REF_LUFS]
        if short > ref_now:
            seen = max(min(short, mom_lufs), ref_now)
        else:
            seen = min(max(short, mom_lufs), ref_now)
        macro_goal = _macro_want(st, seen, min(0.5 * levelling, 0.9), dead_band)
    if macro_goal > st[MACRO_DB]:
        # careful up above neutral; a cut is given back as fast as it was
        # taken (at the careful rate, a loud burst's cut lasted into the quiet
        # passage after it: LRA 6.5 -> 7.3 LU from intensity 3 to 10)
        if st[MACRO_DB] < 0.0:
            st[MACRO_DB] = _approach(st[MACRO_DB], min(macro_goal, 0.0), MACRO_DOWN_DB_S * SUB_S)
        else:
            st[MACRO_DB] = _approach(st[MACRO_DB], macro_goal, MACRO_UP_DB_S * SUB_S)
    else:
        st[MACRO_DB] = _approach(st[MACRO_DB], macro_goal, MACRO_DOWN_DB_S * SUB_S)
    _trim_update(st, tgt, p_sub, chain_out_pow, lim_gr_db)
    want = target - st[REF_LUFS] - st[RESERVE_DB] + st[MACRO_DB] + st[TRIM_DB]
    headroom = MOMENTARY_HEADROOM_LU + CAP_EXTRA_LU * max(0.5 - levelling, 0.0)
    # the cap is on what leaves the chain: a downstream loss the trim has
    # measured on this programme (a compressor working on white noise's top
    # octave: 4 dB) does not count against it (it held white noise 1.2 LU
    # under target); only while the programme is the one the trim was
    # measured on: not right after an anchor, nor while the input runs
    # above the reference (a new, louder programme before it is anchored)
    steady = st[ACQ_LEFT_S] <= 0.0 and mom_lufs <= st[REF_LUFS] + MOMENTARY_HEADROOM_LU
    credit = max(st[TRIM_DB], 0.0) if steady else 0.0
    want = min(want, target + headroom - mom_lufs + credit)
    want = min(max(want, MAX_CUT_DB), MAX_BOOST_DB)
    up = (ACQUIRE_UP_DB_S if acquiring else UP_DB_S) * SUB_S
    st[WANT_DB] = min(want, st[WANT_DB] + up)
    # honest limits: the gain pinned at a limit while the output misses
    pinned = (st[WANT_DB] >= MAX_BOOST_DB and target - st[REF_LUFS] > MAX_BOOST_DB + 1.0) or \
        (st[WANT_DB] <= MAX_CUT_DB and target - st[REF_LUFS] < MAX_CUT_DB - 1.0)
    st[UNREACH_S] = st[UNREACH_S] + SUB_S if pinned else 0.0
    _density_cap(st, tgt, sub_peak, intensity)


@kernel
def _density_cap(st, tgt, sub_peak, intensity):
    """The cap on the output's peaks (see the module docstring): the
    programme's peak-to-loudness ratio above where the output's loudness
    is aimed (the target less the reserve), less the drive."""
    peak_db = 20.0 * math.log10(max(sub_peak, 1e-10))
    if st[ANCHORS] != st[ANCHORS_AT_SUB]:
        st[IN_PEAK_DB] = peak_db            # a new programme: its own peaks
    else:
        st[IN_PEAK_DB] = max(peak_db, st[IN_PEAK_DB] - PEAK_FALL_DB_S * SUB_S)
    target = tgt[P.TARGET_LUFS]
    ceiling = tgt[P.CEILING_DBTP]
    drive = DRIVE_DB_STEP * intensity
    if st[ACQ_LEFT_S] > 0.0:
        # a programme's first seconds: its peaks and loudness are not known
        # yet (the first sub-block's peak against the anchor read PLR 8 on
        # the demo mix and limited 5 dB): the drive only
        cap = ceiling - drive
    else:
        # the programme's PLR above where the output's loudness is aimed:
        # the target, less the reserve a genre that keeps its range holds
        # (classical: 3.2 dB under target; with the peaks capped at target
        # + PLR its PLR rose by up to that much: lincity_01 11.6 dB in, 12.4
        # out at intensity 1)
        plr = st[IN_PEAK_DB] - st[REF_LUFS]
        cap = min(ceiling, target - st[RESERVE_DB] + plr) - drive
    cap = max(cap, min(target - st[RESERVE_DB] + PLR_FLOOR_DB, ceiling))
    if st[LIM_CAP_DB] >= NO_CAP_DB:
        st[LIM_CAP_DB] = cap
    else:
        # a threshold that jumps is a gain that jumps
        st[LIM_CAP_DB] = _approach(st[LIM_CAP_DB], cap, CAP_RATE_DB_S * SUB_S)


@kernel
def block(buf, n, n0, tgt, sub_n, chain_out_pow, lim_gr_db, fs, a, lay, base):
    """The K-weighting state, the power sums and the gain ramp stay in
    locals over the sample loop (see ``regstate``); they go through ``st``
    around the control tick and the 100 ms decision, which read them."""
    kw_sos = region(a, lay, base + KW_SOS)
    kw_z = region(a, lay, base + KW_Z)
    ring = region(a, lay, base + RING)
    mom = region(a, lay, base + MOM)
    dips = region(a, lay, base + DIPS)
    st = region(a, lay, base + ST)
    k = region(a, lay, base + K)
    sub_pos = n0 % sub_n          # position in the 100 ms sub-block (global grid)
    # K-weighting: section s, channel ch has state kw_z[4 s + 2 ch : + 2]
    a0, a1, a2, a3, a4 = kw_sos[0], kw_sos[1], kw_sos[2], kw_sos[3], kw_sos[4]
    b0, b1, b2, b3, b4 = kw_sos[5], kw_sos[6], kw_sos[7], kw_sos[8], kw_sos[9]
    zl00, zl01, zr00, zr01 = kw_z[0], kw_z[1], kw_z[2], kw_z[3]
    zl10, zl11, zr10, zr11 = kw_z[4], kw_z[5], kw_z[6], kw_z[7]
    acc = st[ACC]
    acc_tick = st[ACC_TICK]
    pk = st[SUB_PEAK]
    g_start = st[G_START]
    g_end = st[G_END]
    for i in range(n):
        g = n0 + i
        if g % CR == 0:
            st[ACC] = acc
            st[ACC_TICK] = acc_tick
            control_tick(st, ring, k, tgt, fs)
            acc = st[ACC]
            acc_tick = st[ACC_TICK]
            g_start = st[G_START]
            g_end = st[G_END]
        yl, zl00, zl01 = biquad_step(a0, a1, a2, a3, a4, zl00, zl01, buf[i, 0])
        yr, zr00, zr01 = biquad_step(a0, a1, a2, a3, a4, zr00, zr01, buf[i, 1])
        yl, zl10, zl11 = biquad_step(b0, b1, b2, b3, b4, zl10, zl11, yl)
        yr, zr10, zr11 = biquad_step(b0, b1, b2, b3, b4, zr10, zr11, yr)
        p = yl * yl + yr * yr
        pk = max(pk, abs(buf[i, 0]), abs(buf[i, 1]))
        acc += p
        acc_tick += p
        gain = g_start + (g_end - g_start) * (((g % CR) + 1.0) / CR)
        buf[i, 0] *= gain
        buf[i, 1] *= gain
        sub_pos += 1
        if sub_pos == sub_n:
            sub_pos = 0
            st[ACC] = acc
            st[ACC_TICK] = acc_tick
            st[SUB_PEAK] = pk
            st[LIM_CAP_OLD_DB] = st[LIM_CAP_DB]
            st[LIM_CAP_AT] = g + 1
            decide(st, ring, mom, dips, tgt, sub_n, chain_out_pow, lim_gr_db)
            st[ANCHORS_AT_SUB] = st[ANCHORS]
            acc = st[ACC]
            acc_tick = st[ACC_TICK]
            pk = st[SUB_PEAK]
    kw_z[0], kw_z[1], kw_z[2], kw_z[3] = zl00, zl01, zr00, zr01
    kw_z[4], kw_z[5], kw_z[6], kw_z[7] = zl10, zl11, zr10, zr11
    st[ACC] = acc
    st[ACC_TICK] = acc_tick
    st[SUB_PEAK] = pk


def read(v) -> dict:
    st = v("st")
    return {"leveler_gain_db": float(st[APPLIED_DB]),
            "leveler_in_short_lufs": float(st[IN_SHORT_LUFS]),
            "leveler_reference_lufs": float(st[REF_LUFS]),
            "leveler_speech": float(st[SPEECH]),
            "leveler_paused": bool(st[PAUSED] > 0.0),
            "target_unreachable": bool(st[UNREACH_S] >= UNREACHABLE_S)}
