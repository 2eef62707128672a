"""The Python API on bad input, case by case: each a specific exception naming the value and what
was expected, never a raw numpy, torch or scikit-learn error, and never the data itself."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from conftest import TINY
from hourglass import AnomalyDetector, AutoEncoder, ConvAutoEncoder, InvalidInputError, VariationalAutoEncoder

RNG = np.random.default_rng(0)
X = RNG.random((40, 6))
#: A value that would show if a message printed the data.
MARK = 0.123456789


def marked(X):
    X = X.copy()
    X[0, 0] = MARK
    return X


def fit(**overrides):
    return lambda data: AutoEncoder(**{**TINY, **overrides}).fit(data)


FIT_CASES = {
    "object array of text": (np.array([["a"] * 6] * 4, dtype=object), "expected numbers"),
    "string array": (np.array([["a"] * 6] * 4), "holds text"),
    "complex array": (marked(X).astype(complex), "complex numbers"),
    "NaN": (
        np.where(np.eye(40, 6) > 0, np.nan, X),
        "6 NaN or infinite value(s), the first at (row 0, column 0)",
    ),
    "inf": (np.where(np.eye(40, 6) > 0, np.inf, X), "NaN or infinite"),
    "overflow of float32": (marked(X) * 1e300, "overflow float32"),
    "0 rows": (X[:0], "0 sample"),
    "3-D to a dense model": (X.reshape(40, 2, 3), "shape (40, 2, 3); expected 2-D rows"),
    "repeated column names": (
        pd.DataFrame(marked(X), columns=list("aabccd")),
        "X has columns with the same name ('a', 'c'); expected unique column names",
    ),
    "1-D": (X[0], "expected a 2D array"),
    "None": (None, "X is None"),
    "scalar": (3.0, "expected a 2D array"),
    "ragged lists": ([[1.0, 2.0], [1.0]], "inhomogeneous"),
}


@pytest.mark.parametrize("data, message", FIT_CASES.values(), ids=FIT_CASES.keys())
def test_fit_refuses_bad_data_in_one_line_without_the_data(data, message):
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        fit()(data)
    text = str(info.value)
    assert "\n" not in text and "0.1234" not in text and "+0.j" not in text
    assert len(text) < 400


@pytest.mark.parametrize("data", [X.astype(bool), X[:1], X.astype(object)], ids=["bool", "one row", "object"])
def test_fit_takes_numbers_in_any_dtype_and_a_single_row(data):
    assert fit()(data).transform(data).shape == (len(data), 2)


PARAM_CASES = {
    "epochs": (-1, "epochs=-1"),
    "learning_rate": ("fast", "learning_rate='fast'"),
    "batch_size": (0, "batch_size=0"),
    "hidden_layers": ("x", "hidden_layers="),
    "activation": ("nope", "activation='nope'"),
    "code_size": (2.5, "code_size=2.5"),
    "random_state": ("s", "random_state='s'"),
    "device": ("tpu", "device='tpu'"),
    "validation_fraction": (2, "validation_fraction=2"),
    "dropout": (1.5, "dropout=1.5"),
    "callbacks": (3, "callbacks holds 3"),
    "loss": ("l7", "loss='l7'"),
}


@pytest.mark.parametrize("name, value, message", [(k, *v) for k, v in PARAM_CASES.items()], ids=PARAM_CASES)
def test_set_params_garbage_then_fit_names_the_parameter(name, value, message):
    estimator = AutoEncoder(**TINY).set_params(**{name: value})
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(")):
        estimator.fit(X)
    assert not hasattr(estimator, "module_")


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda ae: ae.transform(X[:, :4]), InvalidInputError, "4 features"),
        (lambda ae: ae.transform(marked(X).astype(complex)), InvalidInputError, "complex numbers"),
        (lambda ae: ae.transform(X[0]), InvalidInputError, r"reshape\(1, -1\)"),
        (lambda ae: ae.inverse_transform(X), InvalidInputError, r"expected \(n_samples, 2\)"),
        (lambda ae: ae.score(X[:, :2]), InvalidInputError, "2 features"),
        (lambda ae: AutoEncoder(**TINY).transform(X), NotFittedError, "not fitted yet"),
        (
            lambda ae: AutoEncoder(**TINY).fit(X, np.zeros(3)),
            InvalidInputError,
            "y has 3 entries but X has 40",
        ),
    ],
    ids=["width", "complex", "1-D", "inverse width", "score width", "before fit", "y length"],
)
def test_fitted_and_unfitted_calls_refuse_bad_input(fitted, call, error, message):
    with pytest.raises(error, match=message) as info:
        call(fitted)
    assert "0.1234" not in str(info.value) and "\n" not in str(info.value)


@pytest.fixture(scope="module")
def fitted():
    return AutoEncoder(**TINY).fit(X)


@pytest.fixture(scope="module")
def vae():
    return VariationalAutoEncoder(**TINY).fit(X)


@pytest.mark.parametrize(
    "n, message",
    [(-1, "n=-1; expected a positive integer"), (0, "n=0"), (2.5, "n=2.5"), ("3", "n='3'"),
     (10**12, r"n=1000000000000 samples of 6 float32 values would take 24 TB of memory")],
)  # fmt: skip
def test_sample_refuses_a_bad_or_too_large_n_in_one_line(vae, n, message):
    with pytest.raises(InvalidInputError, match=message):
        vae.sample(n)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"contamination": 2}, r"contamination=2; expected a number in \(0, 0.5\]"),
        ({"contamination": "x"}, "contamination='x'"),
        ({"contamination": 0.2, "threshold": "contamination", "quantile": 1.5}, "quantile=1.5"),
        ({"threshold": -1.0}, "threshold=-1.0"),
        ({"calibration_fraction": 1.0}, "calibration_fraction=1.0"),
    ],
)
def test_anomaly_detector_refuses_shares_out_of_range(params, message):
    with pytest.raises(InvalidInputError, match=message):
        AnomalyDetector(**{"epochs": 1, "verbose": 0, **params}).fit(X)


@pytest.mark.parametrize("make", [lambda: AutoEncoder(**TINY), lambda: VariationalAutoEncoder(**TINY),
                                  lambda: AnomalyDetector(code_size=2, epochs=1, verbose=0, random_state=0)],
                         ids=["autoencoder", "vae", "detector"])  # fmt: skip
def test_pickle_of_a_fitted_estimator_round_trips(make):
    estimator = make().fit(X)
    again = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(again.score_samples(X), estimator.score_samples(X))


def test_a_conv_model_refuses_a_table_naming_what_it_takes():
    with pytest.raises(InvalidInputError, match=r"X has shape \(40, 6\); expected \(n, c, L\) series"):
        ConvAutoEncoder(channels=(4,), epochs=1, verbose=0).fit(X)


def _mixed_names() -> pd.DataFrame:
    return pd.DataFrame(X, columns=[0, 1, 2, 3, 4, "x"])


@pytest.mark.parametrize(
    "call",
    [
        lambda: AutoEncoder(**TINY).fit(_mixed_names()),
        lambda: AnomalyDetector(epochs=1).fit(_mixed_names()),
        lambda: AutoEncoder(**TINY).fit(X).transform(_mixed_names()),
    ],
    ids=["fit", "detector", "transform"],
)
def test_column_names_that_mix_strings_and_numbers_are_named(call):
    # scikit-learn raises a TypeError; the name that breaks the rule is what a user needs.
    with pytest.raises(InvalidInputError, match=r"column names mix strings with int \(0\)"):
        call()


def test_load_data_given_a_frame_says_what_it_reads():
    import hourglass

    with pytest.raises(
        InvalidInputError, match="load_data reads a file, a folder or a built-in name.*not a DataFrame"
    ):
        hourglass.load_data(_mixed_names())
