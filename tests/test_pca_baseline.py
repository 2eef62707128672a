"""PCA beside every fit: its error on the fit's own validation rows, at the fit's code size."""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from hourglass.estimators import fitting, pca_baseline
from hourglass.estimators.pca_baseline import baseline_pca


def _expected(ae, X, sample=None):
    """PCA on the training rows (or ``sample`` of them), scored on the validation rows, in the
    model's units: what the fit should have recorded, computed independently."""
    train_idx, val_idx = fitting.split(ae, len(X))
    train_idx = train_idx if sample is None else sample(train_idx)
    scaled = (X - ae.scaler_.offset) / ae.scaler_.scale
    pca = PCA(n_components=ae.code_size, random_state=0).fit(scaled[train_idx])
    held_out = scaled[val_idx]
    return float(np.mean((pca.inverse_transform(pca.transform(held_out)) - held_out) ** 2))


def test_a_fit_records_pca_error_on_its_own_validation_rows(make_ae, digits):
    X = digits[0][:400]
    ae = make_ae(code_size=3, epochs=2).fit(X)
    assert ae.validation_pca_mse_ == pytest.approx(_expected(ae, X), rel=1e-4)


def test_pca_is_scored_in_the_model_units_for_standardized_tables(make_ae, real_data):
    ae = make_ae(code_size=2, epochs=2, validation_fraction=0.25).fit(real_data)
    assert ae.scaler_.scale.max() > 1  # standardized: the raw units would be 100x larger
    assert ae.validation_pca_mse_ == pytest.approx(_expected(ae, real_data), rel=1e-4)


def test_pca_is_fitted_on_a_random_sample_of_a_large_split(make_ae, digits, monkeypatch):
    # A file sorted by class: the first rows alone would be one digit.
    order = np.argsort(digits[1], kind="stable")
    X = digits[0][order][:600]
    monkeypatch.setattr(pca_baseline, "PCA_ROWS", 200)
    ae = make_ae(code_size=3, epochs=1).fit(X)

    def sample(train_idx):
        return np.sort(np.random.default_rng(ae.seed_).choice(train_idx, 200, replace=False))

    assert ae.validation_pca_mse_ == pytest.approx(_expected(ae, X, sample), rel=1e-4)


def test_no_pca_figure_without_a_validation_split_or_for_codes_pca_does_not_compare(make_ae, unit_data):
    assert make_ae(code_size=2, epochs=1, validation_fraction=0.0).fit(unit_data).validation_pca_mse_ is None
    ae = make_ae(code_size=2, epochs=1).fit(unit_data)
    assert baseline_pca(ae, None, np.arange(5), np.arange(0)) is None


def test_the_figure_survives_save_and_load(make_ae, unit_data, tmp_path):
    from hourglass import load

    ae = make_ae(code_size=2, epochs=1).fit(unit_data)
    ae.save(tmp_path / "m")
    assert load(tmp_path / "m").validation_pca_mse_ == pytest.approx(ae.validation_pca_mse_)
