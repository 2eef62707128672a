"""The detector's threshold rule and probabilities, as plain functions of numbers and arrays."""

import math

import numpy as np
import pytest

from hourglass.estimators.outlier_scores import error_quantile, outlier_proba
from hourglass.exceptions import InvalidInputError


@pytest.mark.parametrize("threshold, expected", [("quantile", 0.99), ("contamination", 0.95), ("auto", 0.95)])
def test_error_quantile_follows_the_rule(threshold, expected):
    assert error_quantile(threshold, 0.99, 0.05) == pytest.approx(expected)


@pytest.mark.parametrize(
    "threshold, contamination, expected",
    [("auto", None, 0.99), ("quantile", None, 0.99), ("contamination", None, 0.99), ("quantile", 0.2, 0.99)],
)
def test_error_quantile_without_contamination(threshold, contamination, expected):
    # 'auto' without a contamination is the quantile rule; the contamination rule alone assumes 1 %.
    assert error_quantile(threshold, 0.99, contamination) == pytest.approx(expected)


@pytest.mark.parametrize("threshold", [0, 0.5, 12.0])
def test_error_quantile_of_a_fixed_threshold_is_none(threshold):
    assert error_quantile(threshold, 0.99, 0.05) is None


@pytest.mark.parametrize(
    "threshold, quantile, contamination, match",
    [
        ("quantile", 1.0, 0.01, r"quantile=1.0; expected a number in \(0, 1\)"),
        ("quantile", 0.9, 0.6, r"contamination=0.6; expected a number in \(0, 0.5\]"),
        ("quantile", True, 0.01, "quantile=True"),
        (-0.1, 0.9, 0.01, "a fixed threshold must be a finite MSE >= 0"),
        (math.inf, 0.9, 0.01, "a fixed threshold must be a finite MSE >= 0"),
        ("median", 0.9, 0.01, "threshold='median'; expected 'auto', 'quantile', 'contamination' or a number"),
    ],
)
def test_error_quantile_names_the_bad_value(threshold, quantile, contamination, match):
    with pytest.raises(InvalidInputError, match=match):
        error_quantile(threshold, quantile, contamination)


def test_outlier_proba_linear_scales_by_the_training_range_and_clips():
    proba = outlier_proba(np.array([-1.0, 1.0, 2.0, 3.0, 9.0]), np.array([1.0, 3.0]))
    np.testing.assert_allclose(proba[:, 1], [0.0, 0.0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_outlier_proba_unify_is_the_erf_of_the_standard_score():
    train = np.array([0.0, 2.0])  # mean 1, std 1
    proba = outlier_proba(np.array([0.0, 1.0, 1.0 + math.sqrt(2)]), train, "unify")
    np.testing.assert_allclose(proba[:, 1], [0.0, 0.0, math.erf(1.0)])


@pytest.mark.parametrize("method", ["linear", "unify"])
def test_outlier_proba_of_constant_training_scores_does_not_divide_by_zero(method):
    proba = outlier_proba(np.array([1.0, 1.5]), np.array([1.0, 1.0]), method)
    assert np.isfinite(proba).all() and proba[0, 1] == 0.0


def test_outlier_proba_refuses_an_unknown_method():
    with pytest.raises(InvalidInputError, match="method='rank'; expected one of 'linear', 'unify'"):
        outlier_proba(np.zeros(2), np.zeros(2), "rank")


def test_a_threshold_near_the_largest_of_few_scores_says_how_often_it_will_flag():
    # iris's 20-30 calibration rows put the 0.99 quantile at about their largest: 12 % of new
    # normal rows flagged, without a word (the warning started below 20 rows).
    import warnings

    from hourglass.estimators.outlier_scores import few_scores, warn_if_few_scores

    assert few_scores(0.99) == 50 and few_scores(0.95) == 20
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_few_scores(30, 0.99)
        warn_if_few_scores(50, 0.99)
    assert len(caught) == 1
    assert "about 3% of new normal rows will score above it, not 1%" in str(caught[0].message)
