"""What a scikit-learn user carries over: object columns, NaN located by label, IsolationForest's
'auto', warm_start refusals that say what changed, and a detector that speaks in its own name."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_wine

from hourglass import AnomalyDetector, AutoEncoder, InvalidInputError

FAST = dict(epochs=2, hidden_layers=(16,), random_state=0, device="cpu")


@pytest.fixture(scope="module")
def wine():
    return load_wine(as_frame=True).data.set_index(np.arange(1000, 1178))


def test_numbers_stored_as_objects_are_numbers_and_text_is_named(wine):
    ae = AutoEncoder(code_size=2, **FAST).fit(wine.astype(object))
    np.testing.assert_allclose(ae.transform(wine.astype(object)), ae.transform(wine), rtol=1e-6)
    mixed = wine.assign(kind=["a"] * len(wine)).astype({"kind": object})
    with pytest.raises(InvalidInputError, match=r"column 'kind' is not numeric \(dtype object, e.g. 'a'\)"):
        AutoEncoder(code_size=2, **FAST).fit(mixed)


def test_a_missing_value_in_a_dataframe_is_named_by_column_and_index(wine):
    ae = AutoEncoder(code_size=2, **FAST).fit(wine)
    holed = wine.assign(proline=np.where(wine.index == 1010, np.nan, wine.proline))
    with pytest.raises(InvalidInputError, match=r"in column 'proline' at index 1010 \(row 10\)"):
        ae.transform(holed)


def test_warm_start_refusal_names_what_changed():
    X = load_digits().data / 16
    ae = AutoEncoder(code_size=3, warm_start=True, **FAST).fit(X)
    with pytest.raises(InvalidInputError, match=r"features \(input_dim\) 64 -> 60"):
        ae.fit(X[:, :60])
    with pytest.raises(InvalidInputError, match=r"hidden_layers \(16,\) -> \(32,\)"):
        ae.set_params(hidden_layers=(32,)).fit(X)


@pytest.mark.parametrize("value", [None, 2.5])
def test_a_dense_code_size_is_a_whole_number_and_the_refusal_says_only_that(wine, value):
    with pytest.raises(InvalidInputError, match=rf"^code_size={value!r}; expected a whole number$"):
        AutoEncoder(code_size=value, **FAST).fit(wine)


def test_contamination_auto_is_isolation_forests_unknown_share(wine):
    auto = AnomalyDetector(contamination="auto", **FAST).fit(wine)
    unknown = AnomalyDetector(contamination=None, **FAST).fit(wine)
    assert auto.threshold_ == unknown.threshold_
    with pytest.raises(InvalidInputError, match=r"contamination='x'; expected a number in \(0, 0.5\]"):
        AnomalyDetector(contamination="x", **FAST).fit(wine)


def test_a_detector_speaks_in_its_own_name_once():
    X = load_breast_cancer(as_frame=True).data
    detector = AnomalyDetector(code_size=4, **FAST).fit(X)
    with pytest.raises(InvalidInputError, match="but AnomalyDetector is expecting 30 features"):
        detector.predict(X.to_numpy()[:, :5])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        detector.predict(X.to_numpy())
    messages = [str(w.message) for w in caught if "feature names" in str(w.message)]
    assert messages == [
        "X does not have valid feature names, but AnomalyDetector was fitted with feature names"
    ]
