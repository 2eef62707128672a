"""Table files as people's tools write them: numeric headers, regional CSV, pandas' index, repeated names."""

from __future__ import annotations

import decimal
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris, load_wine
from sklearn.model_selection import train_test_split

import hourglass
from helpers import assert_one_line_error, run
from hourglass import AnomalyDetector, AutoEncoder, InvalidInputError
from hourglass.data.loading import load_data

FAST = ["--epochs", "2", "--hidden-layers", "8", "-q"]


def _quietly_loaded(path, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_data(path, **kwargs)
    return data, [str(w.message) for w in caught]


@pytest.fixture(scope="module")
def wine4():
    frame = load_wine(as_frame=True).data.iloc[:, :4].copy()
    frame.columns = ["Température", "Gewicht (kg, netto)", "ash", "Länge"]
    return frame


def test_a_header_of_wavelengths_names_the_columns_with_a_warning(tmp_path):
    rng = np.random.default_rng(1)
    values = rng.normal(5, 1, size=(100, 20))
    names = [str(400 + 10 * i) for i in range(20)]
    pd.DataFrame(values, columns=names).to_csv(tmp_path / "spectra.csv", index=False)
    data, caught = _quietly_loaded(tmp_path / "spectra.csv")
    assert data.X.shape == (100, 20)
    assert list(data.feature_names) == names
    np.testing.assert_allclose(data.X, values, rtol=1e-6)
    assert any("as column names" in message and "400, 410" in message for message in caught)


def test_numbers_without_a_header_stay_data(tmp_path):
    # np.savetxt's files have no header; a first row that rises across the columns but lies among
    # the rows below (a sorted-looking sample) is data.
    rng = np.random.default_rng(0)
    values = np.sort(rng.normal(size=(50, 6)), axis=1)
    np.savetxt(tmp_path / "plain.csv", values, delimiter=",")
    data, caught = _quietly_loaded(tmp_path / "plain.csv")
    assert data.X.shape == (50, 6) and data.feature_names is None
    assert not caught


def test_a_semicolon_csv_with_a_comma_in_a_column_name(tmp_path, wine4):
    wine4.to_csv(tmp_path / "semi.csv", sep=";", decimal=",", index=False)
    data = load_data(tmp_path / "semi.csv")
    assert list(data.feature_names) == list(wine4.columns)
    np.testing.assert_allclose(data.X, wine4.to_numpy(), rtol=1e-6)


def test_excel_windows_encoding_is_read_with_a_warning(tmp_path, wine4):
    wine4.to_csv(tmp_path / "latin.csv", sep=";", decimal=",", index=False, encoding="cp1252")
    data, caught = _quietly_loaded(tmp_path / "latin.csv")
    assert data.feature_names[0] == "Température"
    np.testing.assert_allclose(data.X, wine4.to_numpy(), rtol=1e-6)
    assert any("not UTF-8" in message and "Windows-1252" in message for message in caught)


def test_decimal_commas_below_whole_numbers_and_thousands_points(tmp_path):
    lines = ["a;b"] + [f"{i};{i * 2}" for i in range(60)] + ["0,5;1.065,25"]
    (tmp_path / "late.csv").write_text("\n".join(lines) + "\n")
    data = load_data(tmp_path / "late.csv")
    np.testing.assert_allclose(data.X[-1], [0.5, 1065.25])
    (tmp_path / "thousands.csv").write_text("a;b\n1.065,5;2\n3,25;4\n")
    np.testing.assert_allclose(load_data(tmp_path / "thousands.csv").X, [[1065.5, 2], [3.25, 4]])


def test_pandas_index_column_is_not_a_feature(tmp_path, wine4):
    wine4.to_csv(tmp_path / "indexed.csv")  # to_csv's default writes the index, unnamed
    data, caught = _quietly_loaded(tmp_path / "indexed.csv")
    assert list(data.feature_names) == list(wine4.columns)
    assert any("row index" in message for message in caught)


def test_repeated_column_names_are_refused_in_every_format(tmp_path):
    frame = pd.DataFrame(np.random.default_rng(0).random((20, 4)), columns=list("abac"))
    frame.to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(InvalidInputError, match=r"same name \('a'\)"):
        load_data(tmp_path / "dup.csv")
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_arrays(
        [pa.array(frame[c].iloc[:, 0] if c == "a" else frame[c]) for c in "abac"], list("abac")
    )
    pq.write_table(table, tmp_path / "dup.parquet")
    with pytest.raises(InvalidInputError, match=r"same name \('a'\)"):
        load_data(tmp_path / "dup.parquet")


def test_parquet_decimals_are_numbers_and_names_lose_their_spaces(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    prices = pa.array([decimal.Decimal(f"{i}.25") for i in range(30)], pa.decimal128(10, 2))
    pq.write_table(pa.table({"price": prices, "z": pa.array(np.arange(30.0))}), tmp_path / "d.parquet")
    data = load_data(tmp_path / "d.parquet")
    np.testing.assert_allclose(data.X[:, 0], np.arange(30) + 0.25)
    (tmp_path / "padded.csv").write_text(" a , b ,c \n1.0 , 2.0 ,3\n4,5,6\n")
    assert list(load_data(tmp_path / "padded.csv").feature_names) == ["a", "b", "c"]


def test_a_missing_value_is_named_by_its_column_after_drop(tmp_path):
    frame = pd.DataFrame({"id": ["x"] * 5, "date": ["2020"] * 5, "count": [1, None, 3, 4, 5], "v": [1.0] * 5})
    frame.to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(
        InvalidInputError, match=r"1 NaN or infinite value\(s\), the first in column 'count' at row 1"
    ):
        load_data(tmp_path / "m.csv", drop=["id", "date"])


def test_scoring_with_a_feature_dropped_says_so(tmp_path):
    frame = load_wine(as_frame=True).data
    frame.to_csv(tmp_path / "wine.csv", index=False)
    assert run("fit", tmp_path / "wine.csv", "-o", tmp_path / "ae", *FAST)[0] == 0
    code, out, err = run(
        "reconstruct", tmp_path / "ae", tmp_path / "wine.csv", "--drop", "alcohol", "-o", tmp_path / "r.csv"
    )
    assert_one_line_error(
        code, out, err, "--drop 'alcohol' removes 'alcohol', a feature the model was fitted on"
    )


def test_an_output_is_never_its_own_input(tmp_path):
    frame = load_wine(as_frame=True).data
    frame.to_csv(tmp_path / "wine.csv", index=False)
    before = (tmp_path / "wine.csv").read_bytes()
    assert run("fit", tmp_path / "wine.csv", "-o", tmp_path / "ae", *FAST)[0] == 0
    code, out, err = run(
        "reconstruct", tmp_path / "ae", tmp_path / "wine.csv", "-o", tmp_path / "wine.csv", "--force"
    )
    assert_one_line_error(code, out, err, "is the input DATA")
    assert (tmp_path / "wine.csv").read_bytes() == before


def test_cli_warnings_are_one_line(tmp_path):
    values = np.random.default_rng(1).normal(5, 1, size=(60, 6))
    pd.DataFrame(values, columns=[str(400 + 10 * i) for i in range(6)]).to_csv(
        tmp_path / "s.csv", index=False
    )
    code, out, err = run("fit", tmp_path / "s.csv", "-o", tmp_path / "ae", *FAST)
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and all(line.startswith("hourglass: warning: ") for line in lines), err
    assert "as column names" in err


def test_compare_on_one_row_is_refused():
    with pytest.raises(InvalidInputError, match="1 sample"):
        hourglass.compare(np.random.default_rng(0).random((1, 5)), code_sizes=[2])


def test_a_threshold_from_few_normal_rows_warns_once():
    X = np.random.default_rng(0).random((60, 5))
    ae = AutoEncoder(code_size=2, epochs=2, hidden_layers=(8,), random_state=0).fit(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        AnomalyDetector(estimator=ae).fit(X[:1])
    messages = [str(w.message) for w in caught]
    assert sum("normal row(s), too few" in m for m in messages) == 1, messages
    assert not any("Only one sample" in m for m in messages), messages
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        AnomalyDetector(estimator=ae).fit(X)
    assert not any("too few" in str(w.message) for w in caught)


def test_load_data_is_public():
    assert hourglass.load_data("digits").X.shape == (1797, 64)


def test_utf16_text_and_binary_bytes(tmp_path):
    frame = pd.DataFrame(np.arange(12.0).reshape(4, 3), columns=["a", "b", "ç"])
    frame.to_csv(tmp_path / "u16.csv", sep="\t", encoding="utf-16", index=False)
    assert list(load_data(tmp_path / "u16.csv").feature_names) == ["a", "b", "ç"]
    (tmp_path / "bin.csv").write_bytes(b"PK\x03\x04\x00\x00garbage")
    with pytest.raises(hourglass.DataFileError, match="NUL bytes"):
        load_data(tmp_path / "bin.csv")


def test_scores_carry_the_columns_the_model_does_not_read(tmp_path):
    frame = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    frame.insert(0, "id", [f"W{i:03d}" for i in range(len(frame))])
    frame.to_csv(tmp_path / "wine.csv", index=False)
    fit = ["--drop", "id", "--label", "cultivar"]
    assert run("fit", tmp_path / "wine.csv", *fit, "-o", tmp_path / "ae", *FAST)[0] == 0
    assert run("calibrate", tmp_path / "ae", tmp_path / "wine.csv", "-o", tmp_path / "det", "-q")[0] == 0
    code, _, err = run("score", tmp_path / "det", tmp_path / "wine.csv", "-o", tmp_path / "s.csv", "-q")
    assert code == 0, err
    scores = pd.read_csv(tmp_path / "s.csv")
    assert list(scores.columns) == ["id", "anomaly_score", "score", "error_raw", "prediction"]
    assert scores["id"].tolist() == frame["id"].tolist()


def test_the_largest_row_of_a_sorted_table_without_header_stays_data(tmp_path):
    # Cumulative sales of 30 products over 6 months, largest first: the first row rises and lies
    # above every other, but is neither a regular grid nor written otherwise than the rest.
    rng = np.random.default_rng(3)
    monthly = rng.lognormal(3.0, 1.0, size=(30, 1)) * rng.uniform(0.8, 1.2, size=(30, 6))
    sales = np.cumsum(monthly, axis=1)
    sales = sales[np.argsort(-sales[:, -1])]
    np.savetxt(tmp_path / "sales.csv", sales, delimiter=",", fmt="%.2f")
    data, caught = _quietly_loaded(tmp_path / "sales.csv")
    assert data.X.shape == (30, 6) and data.feature_names is None, caught
    # Years over whole counts: a regular grid names the columns.
    counts = rng.integers(0, 50, size=(40, 5))
    pd.DataFrame(counts, columns=[str(y) for y in range(2020, 2025)]).to_csv(
        tmp_path / "years.csv", index=False
    )
    assert list(load_data(tmp_path / "years.csv").feature_names) == ["2020", "2021", "2022", "2023", "2024"]


@pytest.mark.parametrize("streamed", [False, True], ids=["in memory", "streamed"])
def test_stray_text_in_a_column_of_numbers_is_named_by_its_row(tmp_path, monkeypatch, streamed):
    # It named the column only, and told to drop it; pandas' "mixed types" advice came first.
    from hourglass.data import loading, sources

    if streamed:
        monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 64)
        monkeypatch.setattr(loading, "TABLE_CHUNK_ROWS", 700)  # the text in the fourth chunk
    table = pd.DataFrame(np.random.default_rng(0).normal(size=(3000, 3)), columns=["a", "b", "c"]).astype(
        object
    )
    table.iloc[2500, 1] = "oops"
    table.to_csv(tmp_path / "t.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(
            InvalidInputError, match=r"column 'b' of 't.csv' holds numbers but also text at row 2500 \('oops'"
        ):
            load_data(tmp_path / "t.csv")


def test_semicolon_csv_with_point_decimals_of_three_digits_is_not_read_as_thousands(tmp_path):
    # Every cell such as '5.100' looked like thousands grouped by a point, so the table was read as
    # decimal commas and 5.1 became 5100, though the file held no comma at all.
    iris = load_iris(as_frame=True).data
    iris.to_csv(tmp_path / "iris.csv", sep=";", index=False, float_format="%.3f")
    data, caught = _quietly_loaded(tmp_path / "iris.csv")
    np.testing.assert_allclose(data.X, iris.to_numpy(), rtol=1e-6)
    assert not caught  # '0.200' is a decimal: no one groups thousands after a 0
    # Without a '0.xxx' or a '5.1' to tell, decimals still, and a warning says how they were read.
    iris.iloc[:, :3].to_csv(tmp_path / "ambiguous.csv", sep=";", index=False, float_format="%.3f")
    data, caught = _quietly_loaded(tmp_path / "ambiguous.csv")
    np.testing.assert_allclose(data.X, iris.iloc[:, :3].to_numpy(), rtol=1e-6)
    assert any("'5.100'" in message and "as decimals" in message for message in caught)
    # Whole numbers in the first rows, a point decimal further down: '6.508' was read as 6508.
    wine = load_wine(as_frame=True).data[["magnesium", "proline"]].astype(object)
    wine.iloc[100, 0] = 6.508
    wine.to_csv(tmp_path / "late.csv", sep=";", index=False)
    assert load_data(tmp_path / "late.csv").X[100, 0] == pytest.approx(6.508)


@pytest.mark.parametrize("part", ["slice", "split"])
def test_a_pandas_index_of_other_labels_than_0_to_n_is_not_a_feature(tmp_path, part):
    # A slice's index starts at 100, a split's is shuffled: 'Unnamed: 0' was trained on.
    wine = load_wine(as_frame=True).data
    frame = wine.iloc[100:] if part == "slice" else train_test_split(wine, random_state=0)[0]
    frame.to_csv(tmp_path / "part.csv")
    data, caught = _quietly_loaded(tmp_path / "part.csv")
    assert list(data.feature_names) == list(wine.columns)
    np.testing.assert_allclose(data.X, frame.to_numpy(), rtol=1e-6)
    assert any("row index" in message for message in caught)


def test_french_thousands_spaces_are_read_and_an_error_names_a_cell_that_is_text(tmp_path):
    wine = load_wine(as_frame=True).data[["alcohol", "proline"]]
    lines = ["alcohol;proline"] + [
        f"{a:.2f};{p:,.2f}".replace(",", "\u202f").replace(".", ",") for a, p in wine.to_numpy()
    ]
    (tmp_path / "fr.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    np.testing.assert_allclose(load_data(tmp_path / "fr.csv").X, wine.to_numpy(), rtol=1e-6)
    # It named a valid number ('14,23') as the cell that is not numeric.
    text = wine.map(lambda value: f"{value:.2f}".replace(".", ","))  # to_csv's decimal skips text columns
    text.iloc[1::10, 0] = "k.A."
    text.to_csv(tmp_path / "ka.csv", sep=";", index=False)
    with pytest.raises(InvalidInputError, match=r"column 'alcohol' .* not numeric \(e\.g\. 'k\.A\.'\)"):
        load_data(tmp_path / "ka.csv")


def test_excel_sep_line_names_the_delimiter(tmp_path):
    # Excel's 'sep=;' first line was read as the header, a column named 'sep='.
    iris = load_iris(as_frame=True).data
    with open(tmp_path / "excel.csv", "w", encoding="utf-8-sig", newline="") as f:
        f.write("sep=;\r\n")
        iris.to_csv(f, sep=";", decimal=",", index=False, lineterminator="\r\n")
    data = load_data(tmp_path / "excel.csv")
    assert list(data.feature_names) == list(iris.columns)
    np.testing.assert_allclose(data.X, iris.to_numpy(), rtol=1e-6)
