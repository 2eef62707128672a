"""Results written as Parquet: the same table as the .csv, named by the same columns, written atomically."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

from helpers import assert_one_line_error, run
from hourglass import AutoEncoder
from hourglass.data import saving
from hourglass.data.loading import load_data
from hourglass.data.saving import save_array
from hourglass.exceptions import InvalidInputError, MissingDependencyError, OutputExistsError

TABLE = np.arange(12, dtype=np.float32).reshape(4, 3) / 7


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    """The wine table as a CSV with a header, and a tiny model fitted on it by column name."""
    folder = tmp_path_factory.mktemp("wine")
    frame = load_wine(as_frame=True).data.iloc[:60]
    frame.to_csv(folder / "wine.csv", index=False)
    AutoEncoder(code_size=2, hidden_layers=(8,), epochs=1, verbose=0, random_state=0, device="cpu").fit(
        frame
    ).save(folder / "model")
    return folder


@pytest.mark.parametrize("columns", [None, ["a", "b", "c"]])
def test_save_array_parquet_round_trip_keeps_values_and_names(tmp_path, columns):
    path = save_array(tmp_path / "t.parquet", TABLE, columns=columns)
    loaded = load_data(path)
    np.testing.assert_array_equal(loaded.X, TABLE)
    assert loaded.feature_names == (columns or ["c0", "c1", "c2"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]  # no temporaries left


def test_save_array_parquet_refuses_overwrite_without_force(tmp_path):
    path = save_array(tmp_path / "t.parquet", TABLE)
    with pytest.raises(OutputExistsError, match=r"'.*t\.parquet' exists already"):
        save_array(path, TABLE * 2)
    np.testing.assert_array_equal(pd.read_parquet(path).to_numpy(), TABLE)
    save_array(path, TABLE * 2, force=True)
    np.testing.assert_array_equal(pd.read_parquet(path).to_numpy(), TABLE * 2)


def test_a_failed_parquet_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = save_array(tmp_path / "t.parquet", TABLE)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        save_array(path, TABLE * 2, force=True)
    np.testing.assert_array_equal(pd.read_parquet(path).to_numpy(), TABLE)
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_save_array_parquet_needs_2d_data(tmp_path):
    with pytest.raises(InvalidInputError, match=r"a \.parquet needs 2-D data; got shape \(2, 2, 2\)"):
        save_array(tmp_path / "t.parquet", np.zeros((2, 2, 2)))
    assert not (tmp_path / "t.parquet").exists()


def test_without_a_parquet_engine_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(saving, "PARQUET_ENGINES", ("no_such_parquet_engine",))
    with pytest.raises(MissingDependencyError, match=r"needs pyarrow .* or fastparquet"):
        saving.save_table(tmp_path / "t.parquet", pd.DataFrame({"a": [1.0]}))
    assert not (tmp_path / "t.parquet").exists()


def test_cli_without_a_parquet_engine_refuses_before_reading_the_model(wine, tmp_path, monkeypatch):
    monkeypatch.setattr(saving, "PARQUET_ENGINES", ("no_such_parquet_engine",))
    code, out, err = run("reconstruct", tmp_path / "nomodel", wine / "wine.csv", "-o", tmp_path / "r.parquet")
    assert_one_line_error(code, out, err, "r.parquet", "pip install pyarrow")
    assert not (tmp_path / "r.parquet").exists()


@pytest.mark.parametrize("command", ["reconstruct", "encode"])
def test_cli_parquet_output_is_the_csv_output_with_the_same_columns(wine, tmp_path, command):
    for suffix in (".csv", ".parquet"):
        code, _, err = run(command, wine / "model", wine / "wine.csv", "-o", tmp_path / f"r{suffix}")
        assert code == 0, err
    as_csv, as_parquet = pd.read_csv(tmp_path / "r.csv"), pd.read_parquet(tmp_path / "r.parquet")
    assert list(as_parquet.columns) == list(as_csv.columns)
    np.testing.assert_allclose(as_parquet.to_numpy(), as_csv.to_numpy(), rtol=1e-5)
    if command == "reconstruct":  # in the input's space: the header of the table read
        assert list(as_parquet.columns) == list(pd.read_csv(wine / "wine.csv").columns)


@pytest.mark.parametrize(
    "argv",
    [
        ["score", "{model}", "{data}", "--threshold", "1"],
        ["cluster", "{model}", "{data}", "--n-clusters", "2"],
        ["compare", "{data}", "--code-sizes", "2", "--epochs", "1", "--test-size", "0.3"],
    ],
)
def test_cli_tables_of_results_are_written_as_parquet_too(wine, tmp_path, argv):
    names = {"model": wine / "model", "data": wine / "wine.csv"}
    for suffix in (".csv", ".parquet"):
        code, _, err = run(*[a.format(**names) for a in argv], "-q", "-o", tmp_path / f"t{suffix}")
        assert code == 0, err
    as_csv, as_parquet = pd.read_csv(tmp_path / "t.csv"), pd.read_parquet(tmp_path / "t.parquet")
    assert list(as_parquet.columns) == list(as_csv.columns) and as_parquet.shape == as_csv.shape


def test_cli_parquet_output_is_not_overwritten_without_force(wine, tmp_path):
    target = tmp_path / "r.parquet"
    target.write_bytes(b"mine")
    code, out, err = run("reconstruct", wine / "model", wine / "wine.csv", "-o", target)
    assert_one_line_error(code, out, err, "exists already; pass --force")
    assert target.read_bytes() == b"mine"
    assert run("reconstruct", wine / "model", wine / "wine.csv", "-o", target, "--force")[0] == 0
    assert pd.read_parquet(target).shape == (60, 13)
