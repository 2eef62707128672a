"""A table is judged the same way whichever door it comes through: a file read by the loader or
the CLI, a DataFrame given to fit, compare or cluster.

- A column so far from zero that float32 rounds its variation away warns from the loader too
  (the CLI, ``load_data``, a table streamed through a cache, a float64 ``.npy``), before the
  cast to float32 hides it from the check.
- A label column with a missing value is refused where the labels are read (compare, cluster),
  in the command line's words, naming the column and the row.
- Numbers stored as text are read in every text dtype, as in an ``object`` column.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris, load_wine

import hourglass
from helpers import run
from hourglass.data import sources
from hourglass.exceptions import InvalidInputError

FAST = {"epochs": 2, "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    return load_wine(as_frame=True).frame.drop(columns="target")


@pytest.fixture
def big_offset(wine, tmp_path):
    """Wine with a column at 1e9 that varies by about 100: float32's step there is 64."""
    table = wine.assign(big=1e9 + np.random.default_rng(0).normal(size=len(wine)) * 100)
    path = tmp_path / "bigoffset.csv"
    table.to_csv(path, index=False)
    return path


# -- a column float32 cannot resolve --------------------------------------------------------------
def test_the_loader_warns_of_a_column_float32_rounds_away(big_offset, wine, tmp_path):
    with pytest.warns(UserWarning, match="column 'big' of 'bigoffset.csv' sits far from zero"):
        hourglass.load_data(big_offset)
    wine.to_csv(tmp_path / "wine.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hourglass.load_data(tmp_path / "wine.csv")  # proline in the thousands is no such column


def test_a_streamed_table_warns_too(big_offset, monkeypatch):
    monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 1000)  # stream through a float32 .npy cache
    with pytest.warns(UserWarning, match="column 'big' of 'bigoffset.csv'") as caught:
        data = hourglass.load_data(big_offset)
    assert sources.streams(data.X)
    assert len([w for w in caught if "far from zero" in str(w.message)]) == 1  # once, not per chunk


def test_a_float64_array_file_warns(tmp_path):
    np.save(tmp_path / "shifted.npy", load_iris().data + 1e8)
    with pytest.warns(UserWarning, match="column 0 .* of 'shifted.npy' sits far from zero"):
        hourglass.load_data(tmp_path / "shifted.npy")


@pytest.mark.parametrize("streamed", [False, True])
def test_fit_on_a_float64_memory_map_warns(tmp_path, monkeypatch, streamed):
    # Its rows are read as float32, whether streamed or read whole.
    np.save(tmp_path / "shifted.npy", load_iris().data + 1e8)
    X = np.load(tmp_path / "shifted.npy", mmap_mode="r")
    if streamed:
        monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 1000)
    assert sources.streams(X) is streamed
    with pytest.warns(UserWarning, match="column 0 .* far from zero"):
        hourglass.AutoEncoder(code_size=2, **FAST).fit(X)


def test_the_cli_warns_as_python_does(big_offset, tmp_path):
    code, _, err = run("fit", big_offset, "-o", tmp_path / "m", "--code-size", "2", "--epochs", "1", "-q")
    assert code == 0, err
    assert "hourglass: warning: column 'big' of 'bigoffset.csv' sits far from zero" in err
    assert "float32" in err


def test_compare_warns_too(wine):
    shifted = wine.assign(big=1e9 + np.random.default_rng(0).normal(size=len(wine)) * 100)
    with pytest.warns(UserWarning, match="column 'big' of X sits far from zero"):
        hourglass.compare(shifted, code_sizes=[2], estimator=hourglass.AutoEncoder(**FAST))


# -- a label column with a missing value ----------------------------------------------------------
@pytest.fixture(scope="module")
def holed() -> pd.DataFrame:
    iris = load_iris(as_frame=True).frame.rename(columns={"target": "lab"})
    iris["lab"] = iris["lab"].astype(float)
    iris.loc[3, "lab"] = np.nan
    return iris


def test_compare_refuses_a_missing_label_as_the_cli_does(holed):
    with pytest.raises(
        InvalidInputError, match=r"label column 'lab' of X holds 1 missing value\(s\), the first in row 3"
    ):
        hourglass.compare(holed, code_sizes=[2], y="lab", estimator=hourglass.AutoEncoder(**FAST))


def test_cluster_names_the_label_column_that_misses_a_label(holed):
    # fit(X, y='lab') reads no label (it keeps the column out of the features), so it takes it;
    # cluster reads the labels, of the fitted column by default, and names that column.
    ae = hourglass.AutoEncoder(code_size=2, **FAST).fit(holed, y="lab")
    assert ae.table_.label == "lab" and ae.n_features_in_ == 4
    for labels in (None, "lab"):
        with pytest.raises(InvalidInputError, match="label column 'lab' of X .* row 3 .*expected a label"):
            hourglass.cluster(ae, holed, labels=labels)


# -- numbers stored as text ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["string", "str", "string[pyarrow]"])
def test_numbers_as_text_read_in_every_text_dtype(dtype):
    if dtype == "string[pyarrow]":
        pytest.importorskip("pyarrow")
    iris = load_iris(as_frame=True).data
    as_object = iris.assign(s=iris.iloc[:, 0].astype(str).astype(object))
    as_text = iris.assign(s=iris.iloc[:, 0].astype(str).astype(dtype))
    ae = hourglass.AutoEncoder(code_size=2, **FAST).fit(as_object)
    twin = hourglass.AutoEncoder(code_size=2, **FAST).fit(as_text)
    np.testing.assert_array_equal(twin.transform(as_text), ae.transform(as_object))
    np.testing.assert_array_equal(ae.transform(as_text), ae.transform(as_object))
    assert as_text["s"].dtype == dtype  # the caller's frame is left as it was
    with pytest.raises(InvalidInputError, match="column 's' is not numeric"):
        ae.fit(iris.assign(s=pd.Series(["a"] * len(iris), dtype=dtype)))
