"""``_parameter_constraints`` come from the parameter table; ``fit`` refuses a bad choice early."""

import inspect

import numpy as np
import pytest

from conftest import TINY
from hourglass import (
    AnomalyDetector,
    AutoEncoder,
    ConvAutoEncoder,
    InvalidInputError,
    VariationalAutoEncoder,
    VQAutoEncoder,
)
from hourglass.estimators.constraints import constraints_of, parameter_constraints
from hourglass.estimators.params import BY_NAME, PARAMS
from hourglass.train.corruptions import make_noise

ESTIMATORS = {
    "dense": AutoEncoder,
    "conv": ConvAutoEncoder,
    "vae": VariationalAutoEncoder,
    "vq": VQAutoEncoder,
}
X = np.random.default_rng(0).random((40, 6))


@pytest.mark.parametrize("kind", ESTIMATORS)
def test_constraints_cover_exactly_the_signature(kind):
    estimator = ESTIMATORS[kind]
    assert list(estimator._parameter_constraints) == list(inspect.signature(estimator).parameters)
    assert estimator._parameter_constraints.keys() == parameter_constraints(kind).keys()


@pytest.mark.parametrize("estimator", [*ESTIMATORS.values(), AnomalyDetector], ids=lambda e: e.__name__)
def test_scikit_learn_accepts_the_constraints_and_the_defaults(estimator):
    # scikit-learn's own validator: it refuses a malformed entry (such as "no_validation" inside a
    # list), and the default of every parameter must satisfy its own constraints.
    from sklearn.utils._param_validation import validate_parameter_constraints

    default = estimator()
    validate_parameter_constraints(
        estimator._parameter_constraints, default.get_params(deep=False), caller_name=estimator.__name__
    )


def test_a_parameter_of_any_type_is_not_validated():
    assert constraints_of(BY_NAME["random_state"]) == "no_validation"


@pytest.mark.parametrize("param", [p for p in PARAMS if p.choices is not None], ids=lambda p: p.name)
def test_every_choice_and_alias_satisfies_the_constraints_and_nothing_else(param):
    constraints = constraints_of(param)
    satisfied = [c for c in constraints if c is not None]
    for value in (*param.choices, *param.aliases):
        assert any(c.is_satisfied_by(value) for c in satisfied), value
    for value in ("nope", 7, 2.5, ["pool"]):
        assert not any(c.is_satisfied_by(value) for c in satisfied), value


def test_default_noise_alias_is_what_make_noise_takes():
    assert all(make_noise(alias, 0.1) is None for alias in BY_NAME["noise"].aliases)


@pytest.mark.parametrize(
    "make, name, value, message",
    [
        (AutoEncoder, "loss", "l7", "loss='l7'; expected one of ('auto', 'mse', 'bce')"),
        (
            AutoEncoder,
            "activation",
            "nope",
            "activation='nope'; expected one of ('relu', 'leaky_relu', 'elu'",
        ),
        (
            AutoEncoder,
            "scaling",
            "log",
            "scaling='log'; expected one of ('auto', 'none', 'standard', 'minmax', 'shrunk')",
        ),
        (
            AutoEncoder,
            "noise",
            "pink",
            "noise='pink'; expected one of ('gaussian', 'masking', 'salt_pepper') or None",
        ),
        (
            AutoEncoder,
            "noise_schedule",
            "linear",
            "noise_schedule='linear'; expected one of ('cosine', 'constant')",
        ),
        (
            AutoEncoder,
            "precision",
            "fp8",
            "precision='fp8'; expected one of ('auto', 'fp32', 'tf32', 'bf16')",
        ),
        (AutoEncoder, "pretrain", "greedy", "pretrain='greedy'; expected None or 'layerwise'"),
        (ConvAutoEncoder, "downsampling", "avg", "downsampling='avg'; expected one of ('pool', 'stride')"),
        (ConvAutoEncoder, "color_mode", "CMYK", "color_mode='CMYK'; expected one of ('L', 'RGB') or None"),
        (VQAutoEncoder, "quantizer", "rvq", "quantizer='rvq'; expected one of ('vq', 'fsq')"),
    ],
)
def test_a_bad_choice_is_refused_before_the_data_are_read(make, name, value, message):
    estimator = make(**{"epochs": 1, "verbose": 0, name: value})
    with pytest.raises(InvalidInputError) as info:
        estimator.fit(None)  # the data would be refused too, later
    assert str(info.value).startswith(message)
    with pytest.raises(InvalidInputError, match=f"^{name}="):
        make(**{"epochs": 1, "verbose": 0, name: value}).partial_fit(None)


@pytest.mark.parametrize(
    ("make", "name", "value", "message"),
    [
        (AutoEncoder, "hidden_layers", None, "hidden_layers=None; expected layer widths such as (256, 128)"),
        (AutoEncoder, "hidden_layers", (8, 2.5), "hidden_layers=(8, 2.5); expected layer widths"),
        (AutoEncoder, "batch_size", "auto", "batch_size='auto'; expected a whole number"),
        (AutoEncoder, "weight_decay", None, "weight_decay=None; expected a number"),
        (AutoEncoder, "noise_level", "x", "noise_level='x'; expected a number"),
        (AutoEncoder, "verbose", None, "verbose=None; expected a whole number"),
        (AutoEncoder, "checkpoint_dir", 42, "checkpoint_dir=42; expected a folder path or None"),
        (AutoEncoder, "code_size", True, "code_size=True; expected a whole number"),
        (AutoEncoder, "learning_rate", True, "learning_rate=True; expected a number or 'auto'"),
        (AutoEncoder, "topk", 2.0, "topk=2.0; expected a whole number or None"),
        (AutoEncoder, "warm_start", "yes", "warm_start='yes'; expected True or False"),
        (AutoEncoder, "epochs", 2.5, "epochs=2.5; expected a whole number or 'auto'"),
        (ConvAutoEncoder, "compile", "yes", "compile='yes'; expected True or False"),
        (VariationalAutoEncoder, "warm_start", "no", "warm_start='no'; expected True or False"),
        (VQAutoEncoder, "compile", "no", "compile='no'; expected True or False"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_before_the_data_are_read(make, name, value, message):
    # Each reached a TypeError deep in training, or trained something else (True as 1, 2.0 as 2).
    with pytest.raises(InvalidInputError) as info:
        make(**{"epochs": 1, "verbose": 0, name: value}).fit(None)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    "params",
    [
        {"hidden_layers": [8, 4]},
        {"hidden_layers": np.array([8, 4])},
        {"hidden_layers": 8, "decoder_layers": 8},  # one width given alone, encoder and decoder alike
        {"code_size": np.int64(2), "learning_rate": np.float32(0.01)},
        {"warm_start": 1, "max_time": 30},
    ],
)
def test_values_of_the_usual_neighbouring_types_still_train(params):
    ae = AutoEncoder(**{**TINY, **params}).fit(X)
    assert ae.transform(X).shape == (40, 2)


def test_the_noise_alias_still_trains_without_noise():
    ae = AutoEncoder(**{**TINY, "noise": "none"}).fit(X)
    assert ae._corruption() is None


def test_detector_constraints_cover_its_signature_and_forward_the_autoencoders():
    constraints = AnomalyDetector._parameter_constraints
    assert list(constraints) == list(inspect.signature(AnomalyDetector).parameters)
    for name in ("loss", "activation", "noise", "precision"):
        options = [getattr(c, "options", c) for c in constraints[name]]
        assert options == [getattr(c, "options", c) for c in constraints_of(BY_NAME[name])]


@pytest.mark.parametrize(
    "name, good, bad",
    [
        ("threshold", ["auto", "quantile", "contamination", 0.0, 2.5], ["median", -1.0]),
        ("quantile", [0.5, 0.99], [0.0, 1.0, 2]),
        ("contamination", [0.01, 0.5, None], [0.0, 0.6]),
        ("calibration_fraction", [0.2], [0.0, 1.0]),
        ("estimator", [None, AutoEncoder()], ["dense", 3]),
    ],
)
def test_detector_constraints_of_its_own_parameters_follow_its_rules(name, good, bad):
    from sklearn.utils._param_validation import make_constraint

    constraints = [make_constraint(c) for c in AnomalyDetector._parameter_constraints[name]]
    for value in good:
        assert any(c.is_satisfied_by(value) for c in constraints), value
    for value in bad:
        assert not any(c.is_satisfied_by(value) for c in constraints), value


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("loss", "l7", "loss='l7'; expected one of ('auto', 'mse', 'bce')"),
        ("noise", "pink", "noise='pink'; expected one of ('gaussian', 'masking', 'salt_pepper') or None"),
        ("pretrain", "greedy", "pretrain='greedy'; expected None or 'layerwise'"),
    ],
)
def test_a_detector_refuses_a_bad_choice_before_the_data_are_read(name, value, message):
    with pytest.raises(InvalidInputError) as info:
        AnomalyDetector(**{name: value}).fit(None)  # the data would be refused too, later
    assert str(info.value) == message
