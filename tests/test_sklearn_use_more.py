"""More of what a scikit-learn user carries over: RandomState seeds, warm_start and refits of the
detector, y checked in every fit, sparse and text codes, and data in small or offset units."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse
from sklearn.datasets import load_breast_cancer, load_iris

from hourglass import AnomalyDetector, AutoEncoder, InvalidInputError, VQAutoEncoder

FAST = dict(epochs=2, hidden_layers=(16,), device="cpu")


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(as_frame=True).data


def test_a_detector_seeded_by_a_random_state_repeats_itself(cancer):
    # The calibration split once drew a fresh seed for anything but an int.
    def fitted():
        return AnomalyDetector(code_size=2, random_state=np.random.RandomState(0), **FAST).fit(cancer.values)

    first, second = fitted(), fitted()
    assert first.threshold_ == second.threshold_
    np.testing.assert_array_equal(first.decision_scores_, second.decision_scores_)


def test_detector_warm_start_continues_the_autoencoder(cancer):
    detector = AnomalyDetector(code_size=2, warm_start=True, random_state=0, **FAST).fit(cancer.values)
    first = detector.estimator_
    detector.fit(cancer.values)
    assert detector.estimator_ is first and detector.estimator_.n_iter_ == 4
    cold = AnomalyDetector(code_size=2, random_state=0, **FAST).fit(cancer.values)
    cold.fit(cancer.values)
    assert cold.estimator_.n_iter_ == 2


def test_a_detector_refit_on_an_array_forgets_the_column_names(cancer):
    detector = AnomalyDetector(code_size=2, random_state=0, **FAST).fit(cancer)
    detector.fit(cancer.values[:, :10])
    assert detector.n_features_in_ == 10 and not hasattr(detector, "feature_names_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        detector.predict(cancer.values[:3, :10])


def test_one_row_repeated_is_named_not_an_empty_array_error():
    with pytest.raises(InvalidInputError, match="one sample repeated"):
        AnomalyDetector(code_size=2, **FAST).fit(np.ones((50, 4)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0 warning from the PCA path's explained variance
        AutoEncoder(code_size=2, **FAST).fit(np.repeat(load_iris().data[:1], 50, axis=0))


def test_a_detector_names_itself_in_an_empty_input_error(cancer):
    detector = AnomalyDetector(code_size=2, random_state=0, **FAST).fit(cancer.values)
    with pytest.raises(InvalidInputError, match="AnomalyDetector") as caught:
        detector.score_samples(cancer.values[:0])
    assert "AutoEncoder" not in str(caught.value)


@pytest.mark.parametrize(
    "fit",
    [
        lambda X, y: AutoEncoder(code_size=2, **FAST).partial_fit(X, y),
        lambda X, y: AutoEncoder(code_size=2, **FAST).fit(scipy.sparse.csr_matrix(X), y),
        lambda X, y: AnomalyDetector(code_size=2, **FAST).fit(X, y),
    ],
    ids=["partial_fit", "sparse", "detector"],
)
def test_every_fit_refuses_a_y_of_another_length(fit):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(InvalidInputError, match="y has 10 entries but X has 150"):
        fit(X, y[:10])


def test_a_column_name_for_y_needs_a_table():
    with pytest.raises(InvalidInputError, match="names a label column, but X"):
        AutoEncoder(code_size=2, **FAST).fit(load_iris().data, y="species")


def test_codes_sparse_listed_or_text(cancer):
    ae = AutoEncoder(code_size=2, random_state=0, **FAST).fit(cancer.values)
    codes = ae.transform(cancer.values[:5])
    expected = ae.inverse_transform(codes)
    np.testing.assert_array_equal(ae.inverse_transform(scipy.sparse.csr_matrix(codes)), expected)
    np.testing.assert_allclose(ae.inverse_transform(codes.tolist()), expected, rtol=1e-6)
    with pytest.raises(InvalidInputError, match="not numbers"):
        ae.inverse_transform(codes.astype(str))


def test_text_that_reads_as_numbers_is_still_text():
    with pytest.raises(InvalidInputError, match="holds text .*'5.1'"):
        AutoEncoder(code_size=2, **FAST).fit(load_iris().data.astype(str))


def test_vq_indices_must_be_whole_numbers():
    rng = np.random.default_rng(0)
    vq = VQAutoEncoder(channels=(4,), codebook_size=4, epochs=1, random_state=0, device="cpu")
    vq.fit(rng.uniform(size=(16, 1, 8, 8)).astype(np.float32))
    grid = np.zeros((1, *vq.grid_shape_))
    vq.decode_indices(grid)  # whole numbers as floats are indices
    with pytest.raises(InvalidInputError, match="whole numbers"):
        vq.decode_indices(grid + 0.5)


def test_data_in_small_units_train_as_well_as_in_large_ones():
    # iris / 8 in [0, 1] is kept in its units; scaled by 1e-3 (rates, concentrations) it was too,
    # and the default noise (sigma 0.3) swamped it: 29x PCA's held-out error.
    X = load_iris().data / 8 * 1e-3
    ae = AutoEncoder(code_size=2, epochs=60, random_state=0, device="cpu").fit(X)
    assert ae.scaler_.kind == "standard"
    assert ae.validation_mse_scaled_ / ae.validation_pca_mse_ < 1.5


def test_a_column_far_from_zero_for_its_spread_warns():
    X = load_iris().data
    with pytest.warns(UserWarning, match="column 0 .* far from zero"):
        AutoEncoder(code_size=2, **FAST).fit(X + 1e8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AutoEncoder(code_size=2, **FAST).fit(X + 1e3)
