"""Preset validation: every error at once, with file:line, range, did-you-mean."""
import numpy as np
import pytest

from masterbox.dsp import params as P
from masterbox.firmware import presets as pr
from masterbox.firmware.errors import ConfigError, InputError


def test_builtins_load_and_cover_the_genres(presets):
    assert {"pop", "hiphop", "edm", "rock", "acoustic", "jazz", "classical", "speech"} <= set(presets)
    for p in presets.values():
        v = pr.chain_params(p, 5.0, -14.0)
        assert v.shape == (P.N_PARAMS,) and np.all(np.isfinite(v))


def check(tmp_path, text):
    (tmp_path / "u.yaml").write_text(text)
    return pr.check_dir(tmp_path)


def test_all_errors_reported_at_once_with_lines(tmp_path):
    errs = check(tmp_path, "\n".join([
        "inherit: pop",
        "name: u",
        "subsonic_hz: 200",
        "eq:",
        "  peak1: {f_hz: 300, gain_db: 40, q: 1}",
        "multiband:",
        "  crossovers_hz: [1000, 800, 5000]",
        "stereo:",
        "  widht: 1.2",
    ]))
    text = "\n".join(errs)
    assert "u.yaml:3: subsonic_hz: 200 is out of range; allowed 10..60" in text
    assert "u.yaml:5: eq.peak1.gain_db: 40 is out of range; allowed -12..12" in text
    assert "u.yaml:7: multiband.crossovers_hz" in text and "must ascend" in text
    assert "u.yaml:9: stereo.widht: unknown key; did you mean 'width'?" in text
    assert len(errs) == 4


def test_yaml_syntax_error_has_a_line(tmp_path):
    errs = check(tmp_path, "name: x\neq: [1, 2\n")
    assert len(errs) == 1 and "YAML syntax error" in errs[0] and "u.yaml:" in errs[0]


def test_complete_user_preset_needs_every_key(tmp_path):
    errs = check(tmp_path, "name: x\ndescription: y\n")
    assert any("eq: missing" in e for e in errs) and any("limiter: missing" in e for e in errs)


def test_unknown_inherit_and_wrong_types(tmp_path):
    assert "did you mean 'jazz'" in check(tmp_path, "inherit: jaz\nname: x\n")[0]
    errs = check(tmp_path, "inherit: pop\nname: x\nstereo: {width: wide}\n")
    assert "expected a number" in errs[0]


def test_nyquist_filter_rejected(tmp_path):
    errs = check(tmp_path, "inherit: pop\nname: x\neq:\n  high_shelf: {f_hz: 20000, gain_db: 1, q: 0.7}\n")
    assert "too close to Nyquist" in errs[0]


def test_user_preset_overrides_builtin(tmp_path):
    (tmp_path / "pop.yaml").write_text("inherit: pop\nname: pop\nstereo: {width: 1.5}\n")
    ps = pr.load_presets([tmp_path])
    assert ps["pop"].data["stereo"]["width"] == 1.5
    assert ps["pop"].data["eq"]["peak1"]["f_hz"] == 300


@pytest.mark.parametrize("value,lufs", [("stream", -14), ("loud", -11), ("apple", -16),
                                        ("broadcast", -23), ("club", -9), ("-18.5", -18.5)])
def test_targets(value, lufs):
    assert pr.parse_target(value) == lufs


@pytest.mark.parametrize("value", ["-50", "0", "lowd", ""])
def test_bad_targets(value):
    with pytest.raises(InputError):
        pr.parse_target(value)


def test_config_error_is_value_error():
    assert issubclass(ConfigError, ValueError)
