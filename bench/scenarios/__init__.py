"""Live-moment scenario suite (issue 9, deliverable 1).

Builders (no side effects, no chain access) for each moment, usable with the
development music or with synthetic input for quick tests::

    from bench.scenarios import build_pause, pink_noise, run_scenario, CrossCheck
    sc = build_pause(pink_noise(20, 48000), 48000, before_s=8, pause_s=4, after_s=8)
    res = run_scenario(sc, CrossCheck())      # renders via chain_adapter, evaluates the bars
    [(b.bar, b.value, b.ok) for b in res.bars]

The only chain access is ``chain_adapter.render_with_traces``.  Run the full
suite with ``make scenarios`` (``python -m bench.scenarios``).
"""
from .builders import (Scenario, build_buildup_drop, build_cold_start, build_crescendo,  # noqa: F401
                       build_crossfade, build_kick_pink, build_pause, build_quiet_ending,
                       build_quiet_intro_drop, build_steady, build_talk_song_talk, dev_scenarios,
                       dev_sources, synthetic_scenarios, synthetic_sources)
from .loudness import integrated_lufs, meter_trace, pyloudnorm_lufs, set_lufs  # noqa: F401
from .sources import (crossfade, espeak_speech, excerpt, kick_train, pink_noise,  # noqa: F401
                      tone_bursts)
from .loudness import CrossCheck  # noqa: E402,F401
from .run import Result, run_scenario  # noqa: E402,F401

__all__ = [
    "Scenario", "build_buildup_drop", "build_cold_start", "build_crescendo", "build_crossfade",
    "build_kick_pink", "build_pause", "build_quiet_ending", "build_quiet_intro_drop", "build_steady",
    "build_talk_song_talk", "dev_scenarios", "dev_sources", "synthetic_scenarios",
    "synthetic_sources", "integrated_lufs", "meter_trace", "pyloudnorm_lufs", "set_lufs",
    "crossfade", "espeak_speech", "excerpt", "kick_train", "pink_noise", "tone_bursts",
    "CrossCheck", "Result", "run_scenario",
]
