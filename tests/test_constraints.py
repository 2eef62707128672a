"""``_parameter_constraints`` come from the parameter table; ``fit`` refuses a bad choice early."""

import inspect

import numpy as np
import pytest

from conftest import TINY
from hourglass import AutoEncoder, ConvAutoEncoder, InvalidInputError, VariationalAutoEncoder, VQAutoEncoder
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
            "scaling='log'; expected one of ('auto', 'none', 'standard', 'minmax')",
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


def test_the_noise_alias_still_trains_without_noise():
    ae = AutoEncoder(**{**TINY, "noise": "none"}).fit(X)
    assert ae._corruption() is None
