"""Scenario builders: each live moment of issue 9 as a function of its raw
material, so the same moment can be built from the development music
(``dev_scenarios``) or from synthetic signals (``synthetic_scenarios``, short
and quick, for mechanism tests).  Builders never touch the chain.

Every builder sets each segment's integrated loudness with our own BS.1770
measurement (``loudness.set_lufs``) to the level the bar names, and returns a
``Scenario`` whose ``marks`` are the event times (s) the bars are measured at.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import sources as S
from .loudness import set_lufs


@dataclass
class Scenario:
    name: str                     # file-name safe id
    kind: str                     # which bars apply (see bars.EVALUATORS)
    title: str
    x: np.ndarray                 # (N, 2) float32 input
    fs: int
    genre: str = "pop"
    marks: dict = field(default_factory=dict)     # event name -> time, s
    info: dict = field(default_factory=dict)      # how it was built (levels, sources)

    @property
    def dur_s(self) -> float:
        return len(self.x) / self.fs


def _at(x, fs, lufs):
    return set_lufs(S.stereo(x), fs, lufs)


# ---------------------------------------------------------------- the moments
def build_steady(song: np.ndarray, fs: int, name: str = "steady", genre: str = "pop",
                 source: str = "") -> Scenario:
    """A dense, already-mastered song, as shipped (its own level)."""
    return Scenario(name, "steady", f"steady dense master ({source})", S.stereo(song), fs, genre,
                    marks={}, info={"source": source})


def build_quiet_ending(body: np.ndarray, tail: np.ndarray, fs: int, genre: str,
                       body_lufs: float = -20.0, tail_below_lu: float = 20.0,
                       body_s: float = 25.0, tail_s: float = 30.0, fade_s: float = 2.0,
                       name: str = "", source: str = "") -> Scenario:
    """A body (tutti) followed by a quiet tail ``tail_below_lu`` below it.

    The two segments are levelled separately, then joined with a ``fade_s``
    crossfade (a diminuendo), so the contrast is exactly the one asked for.
    """
    b = _at(S.excerpt(body, fs, 0.0, body_s + fade_s / 2), fs, body_lufs)
    t = _at(S.excerpt(tail, fs, 0.0, tail_s + fade_s / 2), fs, body_lufs - tail_below_lu)
    x = S.crossfade(b, t, fs, fade_s)
    return Scenario(name or f"quiet_ending_{genre}", "quiet_ending",
                    f"quiet ending, {genre} preset (tail {tail_below_lu:g} LU below body)", x, fs,
                    genre, marks={"diminuendo": body_s - fade_s / 2, "tail": body_s + fade_s / 2,
                                  "end": len(x) / fs},
                    info={"source": source, "body_lufs": body_lufs,
                          "tail_lufs": body_lufs - tail_below_lu})


def build_quiet_intro_drop(intro: np.ndarray, drop: np.ndarray, fs: int,
                           intro_lufs: float = -37.0, drop_lufs: float = -12.5,
                           intro_s: float = 25.0, drop_s: float = 30.0, genre: str = "pop",
                           name: str = "quiet_intro_drop", source: str = "") -> Scenario:
    """A long quiet intro, then a hard cut to a loud drop."""
    a = _at(S.excerpt(intro, fs, 0.0, intro_s), fs, intro_lufs)
    b = _at(S.excerpt(drop, fs, 0.0, drop_s), fs, drop_lufs)
    x = S.concat(a, b)
    return Scenario(name, "quiet_intro_drop", f"quiet intro ({intro_lufs:g} LUFS) -> drop "
                    f"({drop_lufs:g} LUFS)", x, fs, genre,
                    marks={"drop": intro_s, "end": len(x) / fs},
                    info={"source": source, "intro_lufs": intro_lufs, "drop_lufs": drop_lufs})


def build_talk_song_talk(talk1: np.ndarray, song: np.ndarray, talk2: np.ndarray, fs: int,
                         talk_lufs: float = -30.0, noise_dbfs: float = -60.0,
                         song_lufs: float = -16.0, talk_s: float = 20.0, song_s: float = 30.0,
                         genre: str = "pop", name: str = "talk_song_talk",
                         source: str = "") -> Scenario:
    """Talk, a song, talk again; the microphone's room noise runs throughout
    (the mic stays open while the song plays, as on a stream)."""
    t1 = _at(S.fit(talk1, fs, talk_s), fs, talk_lufs)
    sg = _at(S.excerpt(song, fs, 0.0, song_s), fs, song_lufs)
    t2 = _at(S.fit(talk2, fs, talk_s), fs, talk_lufs)
    x = S.concat(t1, sg, t2)
    x = (x + S.pink_noise(len(x) / fs, fs, noise_dbfs, seed=11)).astype(np.float32)
    return Scenario(name, "talk_song_talk", f"talk ({talk_lufs:g} LUFS, {noise_dbfs:g} dBFS room "
                    f"noise) -> song ({song_lufs:g}) -> talk", x, fs, genre,
                    marks={"song": talk_s, "talk2": talk_s + song_s, "end": len(x) / fs},
                    info={"source": source, "talk_lufs": talk_lufs, "song_lufs": song_lufs,
                          "noise_dbfs": noise_dbfs})


def build_pause(song: np.ndarray, fs: int, noise_dbfs: float | None = None,
                song_lufs: float = -16.0, before_s: float = 20.0, pause_s: float = 10.0,
                after_s: float = 20.0, genre: str = "pop", name: str = "",
                source: str = "") -> Scenario:
    """A song stops for ``pause_s`` (digital silence, or noise at ``noise_dbfs``
    RMS) and resumes where it stopped.  The song is levelled as a whole."""
    whole = _at(S.excerpt(song, fs, 0.0, before_s + after_s), fs, song_lufs)
    n0 = S.frames(before_s, fs)
    gap = np.zeros((S.frames(pause_s, fs), 2), dtype=np.float32)
    if noise_dbfs is not None:
        gap = S.pink_noise(pause_s, fs, noise_dbfs, seed=7)
    # 10 ms fades: a song that is stopped, not a click
    a = S.fade(whole[:n0], fs, out_s=0.01)
    b = S.fade(whole[n0:], fs, in_s=0.01)
    x = S.concat(a, gap, b)
    what = "digital silence" if noise_dbfs is None else f"{noise_dbfs:g} dBFS noise"
    return Scenario(name or ("pause_silence" if noise_dbfs is None else "pause_noise"), "pause",
                    f"{pause_s:g} s pause of {what} mid-song", x, fs, genre,
                    marks={"pause": before_s, "return": before_s + pause_s, "end": len(x) / fs},
                    info={"source": source, "song_lufs": song_lufs, "noise_dbfs": noise_dbfs})


def build_buildup_drop(before: np.ndarray, build: np.ndarray, drop: np.ndarray, fs: int,
                       loud_lufs: float = -12.5, breakdown_lufs: float = -26.0,
                       build_end_lufs: float = -18.0, before_s: float = 15.0,
                       breakdown_s: float = 10.0, build_s: float = 20.0, drop_s: float = 20.0,
                       genre: str = "pop", name: str = "buildup_drop", source: str = "") -> Scenario:
    """A loud section, a quiet breakdown, a build-up rising in level, the drop.

    The build-up is the breakdown material rising linearly in dB from
    ``breakdown_lufs`` to ``build_end_lufs``; the drop comes back at ``loud_lufs``.
    """
    a = _at(S.excerpt(before, fs, 0.0, before_s), fs, loud_lufs)
    bd = _at(S.excerpt(build, fs, 0.0, breakdown_s + build_s), fs, breakdown_lufs)
    k = S.frames(breakdown_s, fs)
    bd[k:] = S.gain_ramp_db(bd[k:], 0.0, build_end_lufs - breakdown_lufs)
    d = _at(S.excerpt(drop, fs, before_s, drop_s), fs, loud_lufs)
    x = S.concat(a, bd, d)
    t_build = before_s + breakdown_s
    return Scenario(name, "buildup_drop", "build-up then drop", x, fs, genre,
                    marks={"breakdown": before_s, "build": t_build, "drop": t_build + build_s,
                           "end": len(x) / fs},
                    info={"source": source, "loud_lufs": loud_lufs, "breakdown_lufs": breakdown_lufs,
                          "build_end_lufs": build_end_lufs})


def build_crescendo(music: np.ndarray, fs: int, soft_lufs: float = -28.0,
                    rise_lu: float = 8.0, soft_s: float = 20.0, cresc_s: float = 30.0,
                    hold_s: float = 5.0, start_s: float = 0.0, genre: str = "classical",
                    name: str = "crescendo", source: str = "") -> Scenario:
    """A soft passage, then a crescendo of ``rise_lu`` (linear in dB), held at the top."""
    m = _at(S.excerpt(music, fs, start_s, soft_s + cresc_s + hold_s), fs, soft_lufs)
    k0 = S.frames(soft_s, fs)
    k1 = S.frames(soft_s + cresc_s, fs)
    m[k0:k1] = S.gain_ramp_db(m[k0:k1], 0.0, rise_lu)
    m[k1:] *= np.float32(10.0 ** (rise_lu / 20.0))
    return Scenario(name, "crescendo", f"crescendo of {rise_lu:g} LU ({genre} preset)", m, fs, genre,
                    marks={"crescendo": soft_s, "top": soft_s + cresc_s, "end": len(m) / fs},
                    info={"source": source, "soft_lufs": soft_lufs, "rise_lu": rise_lu})


def build_crossfade(a: np.ndarray, b: np.ndarray, fs: int, a_lufs: float, b_lufs: float,
                    a_s: float = 25.0, fade_s: float = 8.0, b_s: float = 35.0,
                    genre: str = "pop", name: str = "crossfade", source: str = "") -> Scenario:
    """A DJ crossfade (equal power, ``fade_s``) from song A to song B, each
    levelled on its own."""
    xa = _at(S.excerpt(a, fs, 0.0, a_s), fs, a_lufs)
    xb = _at(S.excerpt(b, fs, 0.0, b_s), fs, b_lufs)
    x = S.crossfade(xa, xb, fs, fade_s)
    direction = "loud -> quiet" if a_lufs > b_lufs else "quiet -> loud"
    return Scenario(name, "crossfade_down" if a_lufs > b_lufs else "crossfade_up",
                    f"DJ crossfade {direction} ({a_lufs:g} -> {b_lufs:g} LUFS, {fade_s:g} s)", x, fs,
                    genre, marks={"fade": a_s - fade_s, "fade_end": a_s, "end": len(x) / fs},
                    info={"source": source, "a_lufs": a_lufs, "b_lufs": b_lufs})


def build_cold_start(song: np.ndarray, fs: int, dur_s: float = 20.0, song_lufs: float | None = None,
                     genre: str = "pop", name: str = "cold_start", source: str = "") -> Scenario:
    """The box starts while a loud song is already playing (the first sample is
    mid-song: no fade in)."""
    x = S.excerpt(song, fs, 10.0, dur_s)
    if song_lufs is not None:
        x = _at(x, fs, song_lufs)
    return Scenario(name, "cold_start", "cold start inside a loud song", x, fs, genre,
                    marks={"end": dur_s}, info={"source": source, "song_lufs": song_lufs})


def build_kick_pink(fs: int, dur_s: float = 30.0, period_s: float = 0.5,
                    noise_lufs: float = -24.0, kick_peak_dbfs: float = -6.0,
                    genre: str = "pop", name: str = "kick_pumping") -> Scenario:
    """A kick every ``period_s`` over steady pink noise: any gain that moves with
    the kick shows up as a periodic level change of the noise (pumping)."""
    noise = _at(S.pink_noise(dur_s, fs, -20.0, seed=3), fs, noise_lufs)
    x = (noise + S.kick_train(dur_s, fs, period_s, kick_peak_dbfs)).astype(np.float32)
    return Scenario(name, "pumping", f"kick every {period_s * 1000:g} ms over pink noise", x, fs,
                    genre, marks={"end": dur_s},
                    info={"noise_lufs": noise_lufs, "kick_peak_dbfs": kick_peak_dbfs,
                          "period_s": period_s})


# ---------------------------------------------------------------- suites
def dev_sources(music_dir=None, fs: int = 48000) -> dict:
    """The development music plus two espeak-ng talk segments."""
    src = S.load_dev_music(music_dir, fs)
    for k, text in enumerate(S.TALK_TEXTS, 1):
        src[f"talk{k}"] = S.espeak_speech(text, fs)
    return src


def dev_scenarios(src: dict, fs: int = 48000) -> list:
    """Every live moment of issue 9, built from the development music.

    Track roles (measured on the 45 s excerpts: integrated / LRA): lincity_01
    -9.8 LUFS / 0.7 LU, the densest master; fb_main -14.3 / 2.4, dense and
    steady; lincity_02 -20.9 / 7.7, the most dynamic (soft, orchestral-like);
    lincity_03 -19.8 / 4.7; fb_duo -15.7 / 2.6.
    """
    m = lambda n: src[f"mastered/{n}"]        # noqa: E731
    out = [
        build_steady(m("lincity_01"), fs, "steady_lincity_01", source="lincity_01 as shipped"),
        build_steady(m("fb_main"), fs, "steady_fb_main", source="fb_main as shipped"),
    ]
    for genre in ("classical", "acoustic"):
        out.append(build_quiet_ending(m("lincity_03"), m("lincity_02"), fs, genre,
                                      source="body lincity_03, tail lincity_02"))
    out += [
        build_quiet_intro_drop(m("lincity_02"), m("lincity_01"), fs,
                               source="intro lincity_02, drop lincity_01"),
        build_talk_song_talk(src["talk1"], m("fb_main"), src["talk2"], fs,
                             source="espeak-ng en-us; song fb_main"),
        build_pause(m("lincity_01"), fs, None, source="lincity_01"),
        build_pause(m("lincity_01"), fs, -70.0, source="lincity_01"),
        build_buildup_drop(m("lincity_01"), m("lincity_03"), m("lincity_01"), fs,
                           source="loud parts lincity_01, breakdown/build lincity_03"),
        # the steadiest track, so the contrast measured is the crescendo's, not the music's;
        # from 10 s: its one short gap (at 8.5 s) then falls mid-crescendo, not in a measured window
        build_crescendo(m("lincity_01"), fs, start_s=10.0, source="lincity_01 from 10 s"),
        build_crossfade(m("lincity_01"), m("fb_duo"), fs, -9.8, -20.0, name="crossfade_loud_quiet",
                        source="A lincity_01, B fb_duo"),
        build_crossfade(m("fb_duo"), m("lincity_01"), fs, -20.0, -9.8, name="crossfade_quiet_loud",
                        source="A fb_duo, B lincity_01"),
        build_cold_start(m("lincity_01"), fs, source="lincity_01 as shipped, from 10 s"),
        build_kick_pink(fs),
    ]
    return out


# Integrated loudness of the development excerpts as shipped (measured with
# our meter on get-dev-music.sh's 45 s mastered/ files); the unmastered/
# copies are all about -20 LUFS.  Synthetic stand-ins take these levels so a
# scenario that uses a track "as shipped" (steady, cold start) stays loud.
DEV_MASTERED_LUFS = {"fb_duo": -15.6, "fb_intro": -15.4, "fb_main": -14.2,
                     "lincity_01": -9.7, "lincity_02": -20.9, "lincity_03": -19.7}


def synthetic_sources(fs: int = 48000, dur_s: float = 45.0) -> dict:
    """Stand-ins for every role in ``dev_scenarios``: pink noise for music (at
    each track's shipped level), tone bursts (0.3 s on / 0.2 s off) for talk.
    No files, no espeak-ng."""
    noise = S.pink_noise(dur_s, fs, -20.0, seed=1)
    src = {f"mastered/{n}": set_lufs(noise, fs, lufs) for n, lufs in DEV_MASTERED_LUFS.items()}
    src.update({f"unmastered/{n}": set_lufs(noise, fs, -20.0) for n in S.DEV_TRACKS})
    src["talk1"] = src["talk2"] = S.tone_bursts(dur_s, fs, 500.0, 0.3, 0.2)
    return src


def synthetic_scenarios(fs: int = 48000) -> list:
    """Each moment at its bar's levels, from synthetic material (for quick tests)."""
    return dev_scenarios(synthetic_sources(fs), fs)
