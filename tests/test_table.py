"""A model fitted on a table keeps its columns: the training table works again as it is."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

from helpers import assert_one_line_error, run
from hourglass import AutoEncoder, InvalidInputError, load
from hourglass.data.loading import load_data
from hourglass.data.table import TableSchema, schema_of, select_features, split_frame

FAST = ["--epochs", "3", "--hidden-layers", "16", "-q"]


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    """scikit-learn's wine as a user writes it: an id column, a string label column, one wide column."""
    folder = tmp_path_factory.mktemp("wine")
    data = load_wine(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame.insert(0, "id", range(len(frame)))
    frame["cultivar"] = [str(data.target_names[t]) for t in data.target]
    frame.to_csv(folder / "wine.csv", index=False)
    frame.to_parquet(folder / "wine.parquet")
    (folder / "labels.txt").write_text("\n".join(map(str, data.target)) + "\n")
    pd.DataFrame({"cultivar": data.target}).to_csv(folder / "labels.csv", index=False)
    code, out, err = run(
        "fit", folder / "wine.csv", "--drop", "id", "--label", "cultivar", "-o", folder / "ae", *FAST
    )
    assert code == 0, err
    return folder


def test_schema_round_trips_through_json():
    schema = TableSchema(("a", "b"), ("float64", "int64"), "kind", ("id",), 2)
    assert TableSchema.from_json(json.loads(json.dumps(schema.to_json()))) == schema


@pytest.mark.parametrize(
    "value", [{"features": ["a"], "dtypes": [], "n_features": 2}, {"n_features": "2"}, ["a"], {"x": 1}]
)
def test_schema_refuses_other_json(value):
    with pytest.raises(InvalidInputError, match="not a table schema"):
        TableSchema.from_json(value)


def test_select_features_orders_by_name_and_ignores_the_rest():
    schema = schema_of(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    frame = pd.DataFrame({"id": [7], "b": [0.0], "a": [1.0], "new": [3.0]})
    assert select_features(frame, schema, "t.csv").columns.tolist() == ["a", "b"]


def test_select_features_names_the_missing_column():
    schema = schema_of(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    with pytest.raises(InvalidInputError, match="'t.csv' has no column 'b'"):
        select_features(pd.DataFrame({"a": [1.0]}), schema, "t.csv")


def test_split_frame_takes_a_label_column_named_by_y():
    frame = pd.DataFrame({"a": [1.0, 2.0], "kind": ["x", "y"]})
    features, schema = split_frame(frame, "kind")
    assert features.columns.tolist() == ["a"] and schema.label == "kind" and schema.dtypes == ("float64",)


def test_fit_on_a_dataframe_keeps_its_table_and_selects_by_name(tmp_path):
    frame = load_wine(as_frame=True).frame.rename(columns={"target": "kind"})
    ae = AutoEncoder(code_size=2, hidden_layers=(8,), epochs=2, verbose=0, random_state=0).fit(frame, "kind")
    assert ae.table_.label == "kind" and ae.table_.n_features == 13
    shuffled = frame[["kind", *reversed(frame.columns[:-1])]].assign(id=1)
    np.testing.assert_allclose(ae.transform(shuffled), ae.transform(frame.drop(columns="kind")), rtol=1e-6)
    again = load(ae.save(tmp_path / "m"))
    assert again.table_ == ae.table_
    with pytest.raises(InvalidInputError, match="no column 'proline'"):
        again.transform(frame.drop(columns="proline"))


def test_models_saved_without_a_table_load_with_one_from_their_feature_names(tmp_path):
    frame = load_wine(as_frame=True).data
    folder = AutoEncoder(code_size=2, hidden_layers=(8,), epochs=1, verbose=0).fit(frame).save(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    del config["fitted"]["table_"]  # as saved before models kept their table
    (folder / "config.json").write_text(json.dumps(config))
    assert load(folder).table_.features == tuple(frame.columns)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_load_data_with_a_schema_reads_the_training_columns(wine, suffix):
    schema = load(wine / "ae").table_
    dataset = load_data(wine / f"wine{suffix}", table=schema)
    assert dataset.feature_names == list(schema.features) and dataset.X.shape == (178, 13)
    assert sorted(set(dataset.y)) == ["class_0", "class_1", "class_2"]  # the stored label column


def test_cli_fit_saves_the_table(wine):
    fitted = json.loads((wine / "ae" / "config.json").read_text())["fitted"]["table_"]
    assert fitted["label"] == "cultivar" and fitted["dropped"] == ["id"] and fitted["n_features"] == 13
    assert fitted["features"][0] == "alcohol" and set(fitted["dtypes"]) == {"float64"}


@pytest.mark.parametrize(
    "command",
    [
        ["encode", "{ae}", "{data}", "-o", "{out}.npy"],
        ["reconstruct", "{ae}", "{data}", "-o", "{out}.npy"],
        ["cluster", "{ae}", "{data}", "-o", "{out}.csv"],
        ["calibrate", "{ae}", "{data}", "-o", "{out}"],
        ["score", "{ae}", "{data}", "-o", "{out}.csv"],
    ],
)
@pytest.mark.parametrize("data", ["wine.csv", "wine.parquet"])
def test_cli_commands_read_the_training_table_as_it_is(wine, tmp_path, command, data):
    args = [part.format(ae=wine / "ae", data=wine / data, out=tmp_path / "out") for part in command]
    code, out, err = run(*args)
    assert code == 0, err


@pytest.mark.parametrize("command", ["encode", "reconstruct", "score"])
def test_cli_refuses_a_table_missing_a_feature_column(wine, tmp_path, command):
    frame = pd.read_csv(wine / "wine.csv").drop(columns="magnesium")
    frame.to_csv(tmp_path / "less.csv", index=False)
    out = tmp_path / ("out.csv" if command == "score" else "out.npy")
    code, stdout, err = run(command, wine / "ae", tmp_path / "less.csv", "-o", out)
    assert_one_line_error(code, stdout, err, "no column 'magnesium'", "a feature the model was fitted on")
    assert not out.exists()


@pytest.mark.parametrize("labels", ["labels.txt", "labels.csv", "cultivar"])
def test_cli_cluster_takes_labels_from_text_csv_or_a_column(wine, labels):
    value = labels if labels == "cultivar" else wine / labels
    code, out, err = run("cluster", wine / "ae", wine / "wine.csv", "--labels", value)
    assert code == 0, err
    assert "PCA codes" in out and "standardized per feature" in out


def test_cli_encode_takes_drop_and_label_for_a_table_laid_out_otherwise(wine, tmp_path):
    frame = pd.read_csv(wine / "wine.csv").rename(columns={"id": "row"})
    frame.to_csv(tmp_path / "other.csv", index=False)
    code, out, err = run(
        "encode",
        wine / "ae",
        tmp_path / "other.csv",
        "--drop",
        "row",
        "--label",
        "cultivar",
        "-o",
        tmp_path / "c.npy",
    )
    assert code == 0, err
    assert np.load(tmp_path / "c.npy").shape == (178, 2)


def test_cli_refuses_a_label_column_with_nan(wine, tmp_path):
    frame = pd.read_csv(wine / "wine.csv")
    frame.loc[5, "cultivar"] = np.nan
    frame.to_csv(tmp_path / "nan.csv", index=False)
    code, out, err = run("cluster", wine / "ae", tmp_path / "nan.csv", "-o", tmp_path / "c.csv")
    assert_one_line_error(code, out, err, "label column 'cultivar'", "missing value")
    assert not (tmp_path / "c.csv").exists()


def test_cli_refuses_a_labels_file_of_the_wrong_length(wine, tmp_path):
    (tmp_path / "short.txt").write_text("0\n1\n")
    code, out, err = run(
        "cluster",
        wine / "ae",
        wine / "wine.csv",
        "--labels",
        tmp_path / "short.txt",
        "-o",
        tmp_path / "c.csv",
    )
    assert_one_line_error(code, out, err, "holds 2 labels for the 178 samples")
    assert not (tmp_path / "c.csv").exists()


def test_cli_info_and_fit_speak_standardized_units(wine, tmp_path):
    code, out, err = run("info", wine / "ae")
    assert code == 0 and "standardized units" in out and "label 'cultivar'" in out
    code, out, err = run(
        "fit", wine / "wine.csv", "--drop", "id", "--label", "cultivar", "-o", tmp_path / "m", "--epochs", "2"
    )
    assert code == 0 and "in standardized units (" in out and "in the data's raw units" in out


def test_cli_calibrate_and_score_threshold_in_standardized_units(wine, tmp_path):
    det = tmp_path / "det"
    code, out, err = run("calibrate", wine / "ae", wine / "wine.csv", "-o", det, "--score", "reconstruction")
    assert code == 0, err
    assert "standardized units" in out and "dominated by column 'proline'" in out
    code, out, err = run("score", det, wine / "wine.csv", "-o", tmp_path / "s.csv")
    assert code == 0 and "standardized units" in out
    table = pd.read_csv(tmp_path / "s.csv")
    assert {"error", "error_raw", "prediction"} <= set(table.columns)
    assert table["error"].median() < 10 < table["error_raw"].median()  # z-scores beside proline's thousands


def test_cli_calibrate_and_score_a_combined_score_in_medians_of_normal_rows(wine, tmp_path):
    code, out, err = run("calibrate", wine / "ae", wine / "wine.csv", "-o", tmp_path / "det")
    assert code == 0, err
    assert "in medians of normal rows" in out and "dominated by column 'proline'" in out
    code, out, err = run("score", tmp_path / "det", wine / "wine.csv", "-o", tmp_path / "s.csv")
    assert code == 0 and "in medians of normal rows" in out
    table = pd.read_csv(tmp_path / "s.csv")
    assert {"anomaly_score", "error_raw", "prediction"} <= set(table.columns)
    # The calibration rows are the scored ones here: half score under 1.5, their median.
    assert 1.0 < table["anomaly_score"].median() < 2.0 < 10 < table["error_raw"].median()
