"""Tables at the edges: too few rows for a validation split, more columns than PCA_ROWS allows."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_wine

import hourglass
from hourglass.estimators import pca_baseline


@pytest.mark.parametrize("n", [1, 2, 5])
def test_a_fit_without_a_validation_split_says_so(n):
    X = load_wine().data[:n]
    with pytest.warns(UserWarning, match=f"{n} sample\\(s\\) leave no validation split.*at least 6 samples"):
        ae = hourglass.AutoEncoder(code_size=1, epochs=2, random_state=0).fit(X)
    assert ae.validation_mse_ is None


def test_a_fit_with_a_validation_split_or_none_asked_for_warns_nothing():
    X = load_wine().data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hourglass.AutoEncoder(code_size=2, epochs=1, random_state=0).fit(X[:6])
        hourglass.AutoEncoder(code_size=2, epochs=1, random_state=0, validation_fraction=0.0).fit(X[:3])


def test_a_table_wider_than_pca_max_features_still_gets_its_pca_figure():
    rng = np.random.default_rng(0)
    width = pca_baseline.MAX_FEATURES + 976
    X = np.tanh(rng.normal(size=(200, 4)) @ rng.normal(size=(4, width))) + 0.1 * rng.normal(size=(200, width))
    ae = hourglass.AutoEncoder(code_size=4, epochs=2, random_state=0).fit(X.astype(np.float32))
    assert ae.validation_pca_mse_ is not None and 0 < ae.validation_pca_mse_ < 1.0
