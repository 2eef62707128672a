"""The one declaration of the estimators' parameters, and what is built from it."""

import inspect
import re
import typing
from fractions import Fraction

import pytest
from typer.testing import CliRunner

from hourglass import (
    AnomalyDetector,
    AutoEncoder,
    ConvAutoEncoder,
    InvalidInputError,
    VariationalAutoEncoder,
    VQAutoEncoder,
)
from hourglass.cli import app
from hourglass.cli.options import estimator_params
from hourglass.estimators.anomaly import _FORWARDED
from hourglass.estimators.fitting import train_config
from hourglass.estimators.params import BY_NAME, PARAMS, defaults, params_of

ESTIMATORS = {"dense": AutoEncoder, "conv": ConvAutoEncoder}
ALL_ESTIMATORS = {**ESTIMATORS, "vae": VariationalAutoEncoder, "vq": VQAutoEncoder}


@pytest.mark.parametrize("kind", ALL_ESTIMATORS)
def test_signature_is_the_declaration(kind):
    """The written-out ``__init__`` (what type checkers read) cannot drift from the declaration."""
    signature = inspect.signature(ALL_ESTIMATORS[kind])
    assert list(signature.parameters) == [p.name for p in params_of(kind)]
    assert {n: p.default for n, p in signature.parameters.items()} == defaults(kind)
    hints = typing.get_type_hints(ALL_ESTIMATORS[kind].__init__)
    assert {n: hints[n] for n in signature.parameters} == {p.name: p.hint_for(kind) for p in params_of(kind)}
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in signature.parameters.values())


def test_detector_signature_is_its_own_parameters_then_the_forwarded_settings():
    signature = inspect.signature(AnomalyDetector)
    hints = typing.get_type_hints(AnomalyDetector.__init__)
    # The detector's own keyword-only parameter (its kind of score) comes first, then the
    # forwarded settings.
    keyword_only = {n: p for n, p in signature.parameters.items() if p.kind is p.KEYWORD_ONLY}
    assert list(keyword_only)[0] == "score_kind"
    forwarded = {n: p for n, p in keyword_only.items() if n != "score_kind"}
    assert {n: p.default for n, p in forwarded.items()} == _FORWARDED
    assert {n: hints[n] for n in forwarded} == {n: BY_NAME[n].hint_for("dense") for n in forwarded}
    own = [n for n in signature.parameters if n not in forwarded]
    assert own == [
        "estimator",
        "threshold",
        "quantile",
        "contamination",
        "calibration_fraction",
        "random_state",
        "score_kind",
    ]


@pytest.mark.parametrize("estimator", [*ALL_ESTIMATORS.values(), AnomalyDetector])
def test_a_misspelt_parameter_is_a_type_error_naming_it(estimator):
    with pytest.raises(TypeError, match="unexpected keyword argument 'code_sze'"):
        estimator(code_sze=8)


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_docstring_defaults_agree_with_the_declaration(kind):
    documented = dict(re.findall(r"^    (\w+) : [^\n]*?default=([^\n]+)$", ESTIMATORS[kind].__doc__, re.M))
    assert len(documented) >= 10
    for name, text in documented.items():
        assert name in defaults(kind), name
        value = defaults(kind)[name]
        assert _same(text.strip(), value), (name, text, value)


def _same(text, value):
    if text in (repr(value), str(value)):
        return True
    try:
        return float(Fraction(text)) == value  # '1e-2', '1/32'
    except (ValueError, TypeError):
        return False


def test_positional_code_size_and_unknown_names():
    assert AutoEncoder(8).code_size == 8
    with pytest.raises(TypeError, match="unexpected keyword"):
        AutoEncoder(code_sise=8)


def test_every_declared_flag_reaches_its_parameter():
    for param in PARAMS:
        for i, _flag in enumerate(param.flags):
            kind = param.kinds[0]
            key = param.name if i == 0 else f"{param.name}__alias{i}"
            value = {
                "hidden_layers": "8,4",
                "decoder_layers": "4,8",
                "channels": "4,8",
                "image_size": "16",
            }.get(param.name, True if param.type is bool else None)
            if value is None:
                continue
            got = estimator_params(kind, {key: value})
            assert param.name in got, (param.name, key)


def test_an_option_of_the_other_architecture_is_refused_by_its_flag():
    with pytest.raises(InvalidInputError, match="--channels is an option of --arch conv models, not dense"):
        estimator_params("dense", {"channels": "4,8"})
    with pytest.raises(InvalidInputError, match="--hidden-layers is an option of --arch dense"):
        estimator_params("conv", {"hidden_layers__alias1": "8"})


@pytest.mark.parametrize(("text", "value"), [("8", 8), ("auto", "auto"), ("spatial", None)])
def test_code_size_takes_a_width_auto_or_spatial(text, value):
    # 'spatial' is how the command line asks for the conv model's feature map (Python's None).
    assert estimator_params("conv", {"code_size": text}) == {"code_size": value}


def test_a_bad_code_size_is_named_with_the_forms_it_takes():
    expected = "--code-size 'wide': expected an integer, 'auto' or 'spatial'"
    with pytest.raises(InvalidInputError, match=expected):
        estimator_params("conv", {"code_size": "wide"})


def test_a_conv_option_with_variational_is_refused_for_being_variational():
    # "--task is an option of --arch conv models, not vae", to a user who typed --arch conv.
    with pytest.raises(InvalidInputError, match="--task is not available with --variational") as info:
        estimator_params("vae", {"task": "denoise"})
    assert "not vae" not in str(info.value)


@pytest.mark.parametrize("value", ["0", "1000"])
def test_fit_names_a_bad_chroma_subsampling_by_its_flag_and_value(tmp_path, value):
    # 1000 was shown as a tuple "(1000,)", 0 as "must be ... with chroma=True".
    import numpy as np

    np.save(tmp_path / "c.npy", np.random.default_rng(0).random((8, 3, 8, 8)).astype(np.float32))
    argv = ["fit", tmp_path / "c.npy", "-o", tmp_path / "m", "--arch", "conv", "--task", "colorize",
            "--chroma-subsampling", value, "--epochs", "1"]  # fmt: skip
    result = CliRunner().invoke(app, [str(a) for a in argv])
    assert result.exit_code == 2
    err = result.stderr.strip()
    assert err.startswith(f"hourglass: error: --chroma-subsampling {value};") and len(err.splitlines()) == 1
    assert "(1000,)" not in err and "chroma=True" not in err


def test_fit_help_shows_every_primary_flag_uncut_at_80_columns():
    result = CliRunner().invoke(app, ["fit", "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for param in PARAMS:
        if param.flags:
            assert param.flag in out, param.flag
    option_lines = [line for line in out.splitlines() if re.match(r"^│\s+-", line)]
    assert option_lines and not any("…" in line.split("  ")[1] for line in option_lines if "  " in line)


def test_compile_reaches_the_training_config():
    ae = AutoEncoder(compile=True, learning_rate=1e-3, epochs=3)
    ae.seed_ = 0
    assert train_config(ae, 100).compile is True
    assert AutoEncoder().compile is False
