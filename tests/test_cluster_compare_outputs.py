"""What cluster, compare, encode and reconstruct write and print: key columns, units, the metrics
under --quiet."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.datasets import load_iris

from helpers import run
from hourglass.uses.comparison import _code_sizes

FAST = ["--epochs", "3", "--hidden-layers", "8", "-q"]


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    folder = tmp_path_factory.mktemp("iris")
    frame = load_iris(as_frame=True).frame.rename(columns={"target": "species"})
    frame.insert(0, "sample_id", [f"S{i:03d}" for i in range(len(frame))])
    frame.to_csv(folder / "iris.csv", index=False)
    code, _, err = run(
        "fit", folder / "iris.csv", "--drop", "sample_id", "--label", "species", "-o", folder / "ae", *FAST
    )
    assert code == 0, err
    return folder


def test_cluster_writes_the_key_columns_and_prints_its_metrics_under_quiet(iris, tmp_path):
    code, out, err = run("cluster", iris / "ae", iris / "iris.csv", "-o", tmp_path / "c.csv", "-q")
    assert code == 0, err
    assert "NMI" in out and "representation" in out  # the result, printed under --quiet
    written = pd.read_csv(tmp_path / "c.csv")
    assert list(written.columns) == ["sample_id", "cluster", "label"]
    assert written["sample_id"].tolist() == [f"S{i:03d}" for i in range(150)]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_encode_and_reconstruct_tables_keep_the_key_columns_first(iris, tmp_path, suffix):
    # Codes and reconstructions came without the ids that score and cluster keep: a user's
    # table joined back by row order only.
    ids = [f"S{i:03d}" for i in range(150)]
    read = pd.read_csv if suffix == ".csv" else pd.read_parquet
    for command, extra in (("encode", []), ("encode", ["--float16"]), ("reconstruct", [])):
        out_file = tmp_path / f"{command}{len(extra)}{suffix}"
        code, out, err = run(command, iris / "ae", iris / "iris.csv", "-o", out_file, *extra)
        assert code == 0, err
        assert "after its key column sample_id" in out
        written = read(out_file)
        assert written["sample_id"].tolist() == ids
        assert list(written.columns)[0] == "sample_id"
        if command == "reconstruct":
            assert list(written.columns)[1:] == ["sepal length (cm)", "sepal width (cm)",
                                                 "petal length (cm)", "petal width (cm)"]  # fmt: skip
        else:
            assert list(written.columns)[1:] == ["c0", "c1"]
    # decode reads the codes past their text ids (refused as text before) and carries them on.
    code, out, err = run("decode", iris / "ae", tmp_path / f"encode0{suffix}", "-o", tmp_path / f"d{suffix}")
    assert code == 0, err
    decoded = read(tmp_path / f"d{suffix}")
    assert decoded["sample_id"].tolist() == ids and decoded.shape == (150, 5)
    code, _, err = run("encode", iris / "ae", iris / "iris.csv", "-o", tmp_path / "codes.npy")
    assert code == 0, err


def test_cluster_counts_one_cluster_and_hdbscans_noise(iris):
    code, out, err = run("cluster", iris / "ae", iris / "iris.csv", "--n-clusters", "1")
    assert code == 0, err
    assert "150 samples in 1 cluster by" in out
    code, out, err = run("cluster", iris / "ae", iris / "iris.csv", "--method", "hdbscan")
    assert code == 0, err
    line = next(line for line in out.splitlines() if "samples in" in line)
    sizes = [int(s) for s in line.split("(sizes ")[1].split(";")[0].rstrip(")").split(", ")]
    noise = 150 - sum(sizes)
    assert (f"{noise} in none (noise, cluster -1)" in line) == (noise > 0), line


def test_compare_code_sizes_once_each_smallest_first_and_units_in_the_file(iris, tmp_path):
    assert _code_sizes([8, 2, 2]) == [2, 8]
    args = ["--drop", "sample_id", "--label", "species", "--code-sizes", "3,1,1", "--epochs", "3"]
    code, out, err = run("compare", iris / "iris.csv", *args, "-o", tmp_path / "t.csv", "-q")
    assert code == 0, err
    assert "held-out MSE in standardized units" in out
    table = pd.read_csv(tmp_path / "t.csv")
    assert table["code_size"].tolist() == [1, 3]
    assert set(table["units"]) == {"standardized"}
