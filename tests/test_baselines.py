import numpy as np
import pandas as pd
import pytest

import hourglass
from hourglass import AutoEncoder, baselines
from hourglass.baselines import compare, pca_reconstruction
from hourglass.exceptions import InvalidInputError

COLUMNS = ["code_size", "ae_mse", "pca_mse", "ratio", "ae_seconds", "pca_seconds"]


def _tiny_ae(**params):
    return AutoEncoder(
        hidden_layers=(16,), epochs=3, batch_size=32, verbose=0, random_state=0, device="cpu", **params
    )


@pytest.fixture(scope="module")
def comparison(digits):
    return compare(digits[0][:200], code_sizes=[2, 4], estimator=_tiny_ae(), random_state=0)


def test_compare_table_has_one_row_per_code_size(comparison):
    table = comparison.table
    assert isinstance(table, pd.DataFrame)
    assert set(COLUMNS) <= set(table.columns)
    assert table["code_size"].tolist() == [2, 4]


def test_compare_table_values_are_consistent(comparison):
    table = comparison.table
    assert (table[["ae_mse", "pca_mse", "ae_seconds", "pca_seconds"]] > 0).all().all()
    np.testing.assert_allclose(table["ratio"], table["ae_mse"] / table["pca_mse"])
    assert (table["loss"] == "bce").all()


def test_compare_scores_every_model_on_the_same_held_out_split(comparison, digits):
    X = digits[0][:200]
    assert comparison.X_train.shape == (160, 64) and comparison.X_test.shape == (40, 64)
    np.testing.assert_array_equal(comparison.X_test, X[comparison.test_index].astype(np.float32))
    for k, row in comparison.table.set_index("code_size").iterrows():
        ae, pca = comparison.models[k]["ae"], comparison.models[k]["pca"]
        assert ae.code_size == k and pca.n_components == k
        assert row["ae_mse"] == pytest.approx(float(np.mean(ae.reconstruction_error(comparison.X_test))))
        pca_mse = np.mean((pca.inverse_transform(pca.transform(comparison.X_test)) - comparison.X_test) ** 2)
        assert row["pca_mse"] == pytest.approx(pca_mse, rel=1e-5)


def test_compare_pca_error_falls_with_code_size(comparison):
    assert comparison.table["pca_mse"].is_monotonic_decreasing


def test_compare_clones_the_estimator(digits):
    base = _tiny_ae()
    compare(digits[0][:100], code_sizes=[2], estimator=base)
    assert not hasattr(base, "module_")


def test_compare_accepts_a_dataframe(digits):
    df = pd.DataFrame(digits[0][:100, :10])
    assert compare(df, code_sizes=[3], estimator=_tiny_ae()).table["code_size"].tolist() == [3]


@pytest.mark.parametrize("sizes, bad", [([2, 64], r"\[64\]"), ([70], r"\[70\]"), ([0, 2], r"\[0\]")])
def test_compare_rejects_code_sizes_outside_one_to_n_features(digits, sizes, bad):
    with pytest.raises(InvalidInputError, match=rf"code sizes {bad}.*\(63\)"):
        compare(digits[0][:50], code_sizes=sizes, estimator=_tiny_ae())


def test_compare_rejects_no_code_sizes(digits):
    with pytest.raises(InvalidInputError, match="code_sizes is empty"):
        compare(digits[0][:50], code_sizes=[])


@pytest.mark.parametrize("test_size", [0.0, 1.0, 1.5])
def test_compare_rejects_bad_test_size(digits, test_size):
    with pytest.raises(InvalidInputError, match=rf"test_size={test_size}"):
        compare(digits[0][:50], code_sizes=[2], test_size=test_size)


def test_compare_rejects_non_finite_data(digits):
    X = digits[0][:50].copy()
    X[0, 0] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        compare(X, code_sizes=[2])


@pytest.mark.parametrize("k", [1, 3])
def test_pca_reconstruction(k):
    rng = np.random.default_rng(0)
    X_train, X_test = rng.normal(size=(30, 5)), rng.normal(size=(7, 5))
    pca, rec = pca_reconstruction(X_train, X_test, k)
    assert pca.n_components_ == k and rec.shape == (7, 5)


def test_compare_is_public_api():
    assert hourglass.compare is baselines.compare
    assert "compare" in hourglass.__all__
