"""Users' own untidy tables: text in a model's feature, thousands commas, % and currency signs,
column names with commas, missing values over several columns, overflow and complex numbers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_wine

from helpers import assert_one_line_error, run
from hourglass import AutoEncoder, InvalidInputError
from hourglass.cli.inputs import load_input
from hourglass.data.loading import load_data

FAST = ["--epochs", "2", "--hidden-layers", "8", "-q"]


@pytest.fixture(scope="module")
def wine():
    frame = load_wine(as_frame=True).data.iloc[:, [0, 1, 2, 12]].copy()  # proline: 278 to 1680
    frame.insert(0, "id", np.arange(len(frame)))
    frame["flag"] = frame["alcohol"] > 13
    return frame


# -- 1. text in a feature of the model ----------------------------------------------------------


def test_text_in_a_models_feature_says_to_write_it_as_fitted_not_to_drop_it(tmp_path, wine):
    wine.to_csv(tmp_path / "fit.csv", index=False)
    code, out, err = run("fit", tmp_path / "fit.csv", "--drop", "id", "-o", tmp_path / "m", *FAST)
    assert code == 0, err
    yes_no = wine.assign(flag=wine["flag"].map({True: "yes", False: "no"}))
    yes_no.to_csv(tmp_path / "new.csv", index=False)
    for command in ("encode", "score", "reconstruct"):
        code, out, err = run(command, tmp_path / "m", tmp_path / "new.csv", "-o", tmp_path / f"{command}.csv")
        assert_one_line_error(
            code,
            out,
            err,
            "column 'flag' of 'new.csv' is a feature the model was fitted on as numbers (bool) but holds "
            "text here (e.g. 'yes'); write it as at fit time",
        )
        assert "--drop" not in err  # it was the advice, which the next run then refused
    # One stray cell among 178: the row is what to fix; the column cannot be dropped.
    stray = wine.astype({"alcohol": object})
    stray.loc[5, "alcohol"] = "?"
    stray.to_csv(tmp_path / "stray.csv", index=False)
    code, out, err = run("encode", tmp_path / "m", tmp_path / "stray.csv", "-o", tmp_path / "s.csv")
    assert_one_line_error(
        code, out, err, "column 'alcohol' of 'stray.csv' holds numbers but also text at row 5"
    )
    assert err.rstrip().endswith("; fix those rows") and "--drop" not in err


# -- 2. thousands commas, % and currency signs -------------------------------------------------


def test_thousands_commas_in_a_comma_csv_are_read_as_numbers(tmp_path, wine):
    frame = wine.drop(columns=["id", "flag"])
    written = frame.assign(proline=[f"{v:,.1f}" for v in frame["proline"]])
    assert written["proline"].str.contains(",").sum() > 40
    written.to_csv(tmp_path / "us.csv", index=False)  # pandas quotes '1,065.0'
    data, said = _loaded(tmp_path / "us.csv")
    np.testing.assert_allclose(data.X, frame.to_numpy(np.float32))
    assert not said  # its decimal points say what the commas are
    # The same without a header: a first row such as "1,065.0" is data, not names.
    written.to_csv(tmp_path / "bare.csv", index=False, header=False)
    np.testing.assert_allclose(_loaded(tmp_path / "bare.csv")[0].X, frame.to_numpy(np.float32))


def test_thousands_commas_that_might_be_decimal_commas(tmp_path):
    # Whole numbers only: read as thousands, the comma-separated file's own convention, with a warning.
    (tmp_path / "whole.csv").write_text('a,b\n"1,234",1\n"2,500",2\n"999",3\n')
    data, said = _loaded(tmp_path / "whole.csv")
    assert data.X[:, 0].tolist() == [1234, 2500, 999]
    assert len(said) == 1 and "'1,234' in column 'a' of 'whole.csv' as thousands" in said[0]
    # Beside a decimal comma ('0,5'), '1,234' may be 1.234: left as text, and refused.
    (tmp_path / "mixed.csv").write_text('a,b\n"1,234","0,5"\n"2,500",2\n')
    with pytest.raises(InvalidInputError, match="column 'a' of 'mixed.csv' is not numeric"):
        load_data(tmp_path / "mixed.csv")
    # More than one group, or a decimal point anywhere, settles it: no warning.
    (tmp_path / "sure.csv").write_text('a,b\n"1,234,567",1\n"2,500",2.5\n')
    data, said = _loaded(tmp_path / "sure.csv")
    assert data.X[:, 0].tolist() == [1234567, 2500] and not said


def test_percent_and_currency_signs_are_refused_with_what_to_remove(tmp_path, wine):
    frame = wine[["alcohol", "ash", "proline"]]
    frame.assign(alcohol=[f"{v}%" for v in frame["alcohol"]]).to_csv(tmp_path / "pct.csv", index=False)
    with pytest.raises(InvalidInputError, match="'alcohol' looks like numbers written with %: remove them"):
        load_data(tmp_path / "pct.csv")
    money = frame.assign(
        proline=[f"${v:,.2f}" for v in frame["proline"]], ash=[f"€{v}" for v in frame["ash"]]
    )
    money.to_csv(tmp_path / "money.csv", index=False)
    currency = r"'ash', 'proline' look like numbers written with a currency sign \(\$, €\): remove them"
    with pytest.raises(InvalidInputError, match=currency):
        load_data(tmp_path / "money.csv")
    # Text that is not a number once the signs go gets no such advice.
    frame.assign(ash=["50% off"] * len(frame)).to_csv(tmp_path / "text.csv", index=False)
    with pytest.raises(InvalidInputError) as refused:
        load_data(tmp_path / "text.csv")
    assert "looks like numbers" not in str(refused.value)


# -- 3. column names holding a comma ----------------------------------------------------------


def test_drop_finds_a_column_name_that_holds_a_comma(tmp_path, wine):
    frame = wine[["alcohol", "ash", "proline"]].assign(**{"name, full": "x", "price, usd": 1.0})
    frame.to_csv(tmp_path / "names.csv", index=False)
    data = load_input(str(tmp_path / "names.csv"), drop="name, full")
    assert data.feature_names == ["alcohol", "ash", "proline", "price, usd"]
    data = load_input(str(tmp_path / "names.csv"), drop="name, full,price, usd,ash")
    assert data.feature_names == ["alcohol", "proline"]
    code, out, err = run("fit", tmp_path / "names.csv", "--drop", "nope", "-o", tmp_path / "m", *FAST)
    assert_one_line_error(code, out, err, "('alcohol', 'ash', 'proline', 'name, full', 'price, usd')")
    from hourglass.data.table_files import split_column_list

    assert split_column_list("a, b,", None) == ["a", "b"]
    assert split_column_list("x,name, full", ["name, full"]) == ["x", "name, full"]


# -- 4. missing values in several columns ----------------------------------------------------


def test_missing_values_are_counted_per_column_and_an_empty_column_offered_to_drop(tmp_path, wine):
    frame = wine[["alcohol", "ash", "proline"]].assign(allnan=np.nan, fewnan=wine["ash"])
    frame.loc[[3, 50, 90, 120], "fewnan"] = np.nan
    frame.to_csv(tmp_path / "holes.csv", index=False)
    with pytest.raises(InvalidInputError) as refused:
        load_data(tmp_path / "holes.csv")
    assert str(refused.value) == (
        "'holes.csv' holds 182 NaN or infinite value(s), the first in column 'allnan' at row 0 (per "
        "column: 'allnan': 178 of 178 (empty), 'fewnan': 4); fill or drop them first; 'allnan' is "
        "empty: leave it out (--drop allnan on the command line, drop=['allnan'] in load_data)"
    )
    # A spreadsheet's trailing delimiter on every line: an unnamed, empty last column.
    lines = (tmp_path / "holes.csv").read_text().splitlines()
    (tmp_path / "trail.csv").write_text("\n".join(line + "," for line in lines) + "\n")
    code, out, err = run(
        "fit", tmp_path / "trail.csv", "--drop", "allnan,fewnan", "-o", tmp_path / "m", *FAST
    )
    assert_one_line_error(
        code, out, err, "'Unnamed: 5' is empty (the last, unnamed: every line ends with a delimiter"
    )
    dropped = "allnan,fewnan,Unnamed: 5"
    code, out, err = run("fit", tmp_path / "trail.csv", "--drop", dropped, "-o", tmp_path / "m", *FAST)
    assert code == 0, err


# -- 5. overflow and complex numbers, by column name --------------------------------------------


def test_overflow_names_the_column(tmp_path, wine):
    frame = wine[["alcohol", "ash", "proline"]].assign(big=wine["proline"] * 1e36)
    frame.to_csv(tmp_path / "big.csv", index=False)
    overflow = r"'big.csv' holds \d+ value\(s\) in column 'big' that overflow float32 .*, the first at row 0"
    with pytest.raises(InvalidInputError, match=overflow):
        load_data(tmp_path / "big.csv")
    with pytest.raises(InvalidInputError, match=r"overflow float32 .*, the first at \(row 0, column 'big'\)"):
        AutoEncoder(code_size=1, epochs=1, verbose=0).fit(frame)


def test_complex_numbers_in_a_dataframe_name_the_column_and_its_dtype(wine):
    frame = wine[["alcohol", "ash", "proline"]]
    with pytest.raises(InvalidInputError) as refused:
        AutoEncoder(code_size=1, epochs=1, verbose=0).fit(frame.assign(big=frame["ash"] + 1j))
    assert str(refused.value).startswith(  # scikit-learn's words first, as its check_complex_data wants
        "Complex data not supported: X holds complex numbers in column 'big' (dtype complex128); "
        "expected real numbers"
    )


def _loaded(path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_data(path)
    return data, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
