"""Layout of the parameter-target vector the controllers write.

Controllers (CLI, daemon, front panel) write *targets* into one float64
vector; every stage reads it once per control tick and glides its own copy
toward it, so any change at any block boundary is click-free.  Any mix of
in-range values is a valid, stable setting (the filters are re-designed from
the smoothed values), which is why a torn multi-value write from another
thread is harmless.
"""
INTENSITY = 0          # 0..10; 0 = transparent (bit exact, delayed)
TARGET_LUFS = 1        # integrated-loudness target, LUFS
CEILING_DBTP = 2       # true-peak ceiling, dBTP
BYPASS = 3             # 0/1: crossfade to the latency-matched dry path
SUBSONIC_HZ = 4        # DC / subsonic high-pass corner
EQ_BASE = 5            # 4 slots x (f_hz, gain_db, q): lowshelf, peak, peak, highshelf
EQ_SLOTS = 4
ADAPT_AMOUNT = 17      # 0..1 share of the adaptive tonal correction
TARGET_SPECTRUM = 18   # 10 octave-band target levels, dB (relative)
XOVER_HZ = 28          # 3 crossover frequencies, ascending
BAND_BASE = 31         # 4 bands x (threshold_rel_db, ratio, knee_db, attack_ms, release_ms)
BAND_STRIDE = 5
N_BANDS = 4
WIDTH = 51             # side gain at intensity 5 (1 = unchanged)
MONO_BASS = 52         # 0..1: share of the low band's side removed at intensity >= 5
LIMITER_RELEASE_MS = 53
BYPASS_MATCH_DB = 54    # dry-path gain while bypassed (loudness-matched A/B); 0 = none
LEV_LEVELLING = 55     # genre's macro-levelling factor (x intensity / 5): 0 keeps shapes
LEV_CHANGE_LU = 56     # a passage this far from the reference may be a new programme
N_PARAMS = 57

CONTROL_PERIOD = 32    # samples between control ticks, on the global sample grid
