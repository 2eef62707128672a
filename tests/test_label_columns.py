"""A label column named by its name works in compare and cluster as it does in fit and the CLI."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

import hourglass
from hourglass.exceptions import InvalidInputError


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    return load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})


@pytest.fixture(scope="module")
def fitted(wine):
    return hourglass.AutoEncoder(code_size=2, epochs=2, random_state=0).fit(wine, y="cultivar")


def test_compare_takes_the_label_column_by_name(wine):
    result = hourglass.compare(
        wine, code_sizes=[2], y="cultivar", estimator=hourglass.AutoEncoder(epochs=1, random_state=0)
    )
    assert result.X_train.shape[1] == 13  # the label is no feature
    np.testing.assert_array_equal(result.y_test, wine["cultivar"].to_numpy()[result.test_index])


def test_compare_names_a_missing_label_column(wine):
    with pytest.raises(InvalidInputError, match="y='kind' names no column of X"):
        hourglass.compare(wine, code_sizes=[2], y="kind")


def test_compare_names_the_column_that_is_not_numeric_or_holds_a_nan(wine):
    with pytest.raises(InvalidInputError, match="column 'note' is not numeric"):
        hourglass.compare(wine.assign(note="a"), code_sizes=[2])
    holed = wine.copy()
    holed.loc[5, "ash"] = np.nan
    with pytest.raises(InvalidInputError, match="column 'ash' at index 5"):
        hourglass.compare(holed, code_sizes=[2])


def test_cluster_takes_the_label_column_by_name(wine, fitted):
    by_name = hourglass.cluster(fitted, wine, labels="cultivar")
    by_values = hourglass.cluster(fitted, wine, labels=wine["cultivar"].to_numpy())
    pd.testing.assert_frame_equal(by_name.metrics, by_values.metrics)


def test_cluster_scores_against_the_fitted_label_column_by_default(wine, fitted):
    result = hourglass.cluster(fitted, wine)
    assert result.metrics is not None
    assert result.n_clusters == 3  # one per cultivar, as the labels say
    assert hourglass.cluster(fitted, wine.drop(columns="cultivar")).metrics is None


def test_cluster_refuses_a_column_name_without_a_table(wine, fitted):
    with pytest.raises(InvalidInputError, match="labels='cultivar' names a column, but X is a ndarray"):
        hourglass.cluster(fitted, wine.drop(columns="cultivar").to_numpy(), labels="cultivar")


def test_cluster_fits_an_unfitted_model_without_the_label_column(wine):
    ae = hourglass.AutoEncoder(code_size=2, epochs=1, random_state=0)
    hourglass.cluster(ae, wine, labels="cultivar")
    assert ae.n_features_in_ == 13


def test_numbered_feature_columns_beside_a_named_label_column(wine):
    # pd.DataFrame(X) numbers its columns; a label added by name is no feature, so no mix of names.
    frame = pd.DataFrame(wine.drop(columns="cultivar").to_numpy())
    frame["label"] = wine["cultivar"].to_numpy()
    ae = hourglass.AutoEncoder(code_size=2, epochs=1, random_state=0).fit(frame, y="label")
    assert ae.transform(frame).shape == (178, 2)
    assert hourglass.cluster(ae, frame, labels="label").metrics is not None
    hourglass.compare(frame, code_sizes=[2], y="label", estimator=hourglass.AutoEncoder(epochs=1))
