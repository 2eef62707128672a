"""A column that looks like an identifier (``customer_id``, 0..n-1) is warned of, never dropped.

It was learnt as a feature without a word; now a warning names it and says how to drop it (in
Python and on the command line). Integer features (counts, ages, pixels, scikit-learn's tables)
must not warn.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

from helpers import run
from hourglass import AutoEncoder
from hourglass.data.identifiers import identifier_columns, identifier_name, time_name
from hourglass.data.loading import load_data
from hourglass.exceptions import IdentifierColumnWarning

TINY = {"code_size": 2, "hidden_layers": (8,), "epochs": 1, "verbose": 0, "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def customers():
    """Wine with a shuffled ``customer_id`` of 1..n in front."""
    frame = datasets.load_wine(as_frame=True).data.iloc[:80].reset_index(drop=True)
    frame.insert(0, "customer_id", np.random.default_rng(0).permutation(80) + 1)
    return frame


def _identifier_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, IdentifierColumnWarning)]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("id", True), ("ID", True), ("customer_id", True), ("Customer ID", True), ("customerId", True),
        ("CustomerID", True), ("id_client", True), ("Unnamed: 0", True), ("index", True),
        ("acid", False), ("malic_acid", False), ("fluid", False), ("Valid", False), ("PAID", False),
        ("flavanoids", False), ("idle_time", False), ("width", False), ("pixel_12", False),
    ],
)  # fmt: skip
def test_identifier_names(name, expected):
    assert identifier_name(name) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("year", True), ("Year", True), ("YEAR", True), ("fiscal_year", True), ("fiscalYear", True),
        ("year_id", True), ("Month", True), ("day", True), ("date", True), ("idle_time", True),
        ("period", True), ("quarter", True), ("weeks", True), ("hour", True), ("timestamp", True),
        ("yearly", False), ("update", False), ("customer_id", False), ("weight", False), ("0", False),
    ],
)  # fmt: skip
def test_time_names(name, expected):
    assert time_name(name) is expected


def _per_year(name: str, values=np.arange(1990, 2030)) -> pd.DataFrame:
    """One row per year (shuffled), with a measurement beside it."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({name: rng.permutation(values), "gdp": rng.random(len(values)) * 100})


@pytest.mark.parametrize("name", ["year", "Year", "fiscal_year", "fiscalYear", "yr"])
def test_a_year_per_row_is_no_identifier(name):
    assert identifier_columns(_per_year(name)) == []


@pytest.mark.parametrize("name", ["month", "day", "period", "week"])
def test_a_column_named_like_a_time_is_no_identifier_even_as_1_to_n(name):
    assert identifier_columns(_per_year(name, np.arange(1, 41))) == []


@pytest.mark.parametrize("name", ["year_id", "YearID", "customer_id"])
def test_a_year_range_under_a_name_that_says_id_still_warns(name):
    assert identifier_columns(_per_year(name)) == [(0, name, "the whole numbers 1990 to 2029, each once")]


@pytest.mark.parametrize(
    ("values", "found"),
    [
        (np.arange(1990, 2030), False), (np.arange(1800, 2200, 10), False), (np.arange(40), True),
        (np.arange(1, 41), True), (np.arange(1000, 1040), True), (np.arange(2150, 2250), True),
    ],
)  # fmt: skip
def test_unnamed_calendar_years_are_no_identifier_but_an_index_is(values, found):
    X = np.c_[np.random.default_rng(0).permutation(values), np.random.default_rng(1).random(len(values))]
    assert [position for position, _, _ in identifier_columns(X)] == ([0] if found else [])


def test_fit_on_a_dataframe_warns_of_an_id_column_and_keeps_it(customers):
    with pytest.warns(IdentifierColumnWarning) as caught:
        ae = AutoEncoder(**TINY).fit(customers)
    (message,) = _identifier_warnings(caught)
    assert message.startswith("column 'customer_id' of X holds the whole numbers 1 to 80, each once")
    assert "X.drop(columns='customer_id') before fit" in message
    assert ae.n_features_in_ == 14  # warned of, not dropped


def test_fit_on_an_array_warns_of_an_arange_column_by_position(customers):
    X = customers.drop(columns="customer_id").to_numpy()
    with pytest.warns(IdentifierColumnWarning, match=r"column 13 of X .* np\.delete\(X, 13, axis=1\)"):
        AutoEncoder(**TINY).fit(np.c_[X, 1000 + 10 * np.arange(80)])


def test_a_column_named_like_an_id_warns_in_a_small_table():
    frame = pd.DataFrame({"order_id": [7, 3, 3, 9, 1], "amount": [1.5, 2.0, 0.5, 3.5, 1.0]})
    assert [name for _, name, _ in identifier_columns(frame)] == ["order_id"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_load_data_warns_with_the_python_and_the_command_line_way_to_drop_it(customers, tmp_path, suffix):
    path = tmp_path / f"customers{suffix}"
    customers.to_csv(path, index=False) if suffix == ".csv" else customers.to_parquet(path)
    with pytest.warns(IdentifierColumnWarning) as caught:
        load_data(path)
    (message,) = _identifier_warnings(caught)
    assert f"column 'customer_id' of 'customers{suffix}'" in message
    assert message.endswith("--drop customer_id on the command line, drop='customer_id' in load_data")
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdentifierColumnWarning)
        assert load_data(path, drop="customer_id").X.shape == (80, 13)


def test_fit_on_load_datas_array_warns_once_with_load_datas_advice(customers, tmp_path):
    customers.to_csv(tmp_path / "c.csv", index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_data(tmp_path / "c.csv")
        AutoEncoder(**TINY).fit(ds.X)
    (message,) = _identifier_warnings(caught)  # was two, the second advising np.delete on X
    assert message.endswith("drop='customer_id' in load_data")
    # A copy of it, or any other array, is judged by fit as before.
    with pytest.warns(IdentifierColumnWarning, match=r"column 0 of X .* np\.delete\(X, 0, axis=1\)"):
        AutoEncoder(**TINY).fit(ds.X.copy())


def test_cli_fit_warns_once_and_drop_silences_it(customers, tmp_path):
    customers.to_csv(tmp_path / "c.csv", index=False)
    code, _, err = run("fit", tmp_path / "c.csv", "-o", tmp_path / "m", "--epochs", "1", "-q")
    assert code == 0, err
    lines = [line for line in err.splitlines() if "identifier" in line]
    assert len(lines) == 1 and lines[0].startswith("hourglass: warning: column 'customer_id' of 'c.csv'"), err
    assert "--drop customer_id" in lines[0]
    code, _, err = run("fit", tmp_path / "c.csv", "-o", tmp_path / "m2", "--epochs", "1", "-q",
                       "--drop", "customer_id")  # fmt: skip
    assert code == 0 and "identifier" not in err, err


@pytest.mark.parametrize(
    "load",
    [
        datasets.load_iris, datasets.load_wine, datasets.load_digits, datasets.load_breast_cancer,
        datasets.load_diabetes, lambda **kw: datasets.load_diabetes(scaled=False, **kw),
        datasets.load_linnerud,
    ],
)  # fmt: skip
def test_scikit_learn_tables_do_not_warn(load):
    bunch = load(as_frame=True)
    for table in (bunch.frame, bunch.data.to_numpy()):
        assert identifier_columns(table) == []


def test_integer_features_do_not_warn():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "visits": rng.poisson(3, 500), "age": rng.integers(18, 90, 500), "pixel": rng.integers(0, 256, 500),
        "is_member": rng.integers(0, 2, 500).astype(bool), "price": rng.random(500) * 100,
    })  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdentifierColumnWarning)
        AutoEncoder(**TINY).fit(frame)
        AutoEncoder(**TINY).fit(datasets.load_wine().data)
