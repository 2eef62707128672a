"""Calibrating a detector on the very rows its autoencoder was fitted on is warned of.

Rows a model trained on reconstruct better than new normal rows, so a threshold set on them
comes out low: on digits (fit on 60%, 20% new normal rows), the 0.95 quantile of the training
rows' scores flagged 21.7% of new normal rows, that of held-out rows 4.4%. ``calibrate`` and
``AnomalyDetector(fitted_model).fit(rows)`` accepted the training rows without a word.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

from helpers import run
from hourglass import AutoEncoder, TrainingRowsWarning, load
from hourglass.estimators.anomaly import AnomalyDetector

MESSAGE = (
    "the calibration rows are those the model was fitted on (178 rows, its training and validation rows)"
)


@pytest.fixture(scope="module")
def wine():
    return load_wine().data


@pytest.fixture(scope="module")
def model(wine):
    return AutoEncoder(code_size=2, hidden_layers=(8,), epochs=2, random_state=0).fit(wine)


def _calibration_warnings(estimator, rows) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        AnomalyDetector(estimator, quantile=0.9).fit(rows)
    return [str(w.message) for w in caught if issubclass(w.category, TrainingRowsWarning)]


def test_calibrating_on_the_training_array_warns_once(model, wine):
    said = _calibration_warnings(model, wine)
    assert len(said) == 1 and said[0].startswith(MESSAGE), said
    assert "calibrate on normal rows the model did not see" in said[0]


def test_other_rows_are_not_warned_of(model, wine):
    # Other rows, or the same rows in another order: only the exact data is recognised.
    assert _calibration_warnings(model, wine[:100]) == []
    assert _calibration_warnings(model, wine[::-1]) == []
    assert _calibration_warnings(model, wine + 1e-3) == []


def test_the_fingerprint_is_the_runs_and_survives_save_and_load(model, wine, tmp_path):
    kept = model.training_data_fingerprint_
    assert kept["shape"] == [178, 13] and kept["dtype"] == "float32"
    model.save(tmp_path / "ae")
    config = json.loads((tmp_path / "ae" / "config.json").read_text())
    assert config["fitted"]["training_data_fingerprint_"] == kept  # JSON, beside the other state
    loaded = load(tmp_path / "ae")
    assert loaded.training_data_fingerprint_ == kept
    assert len(_calibration_warnings(loaded, wine)) == 1


def test_a_model_saved_before_fingerprints_were_kept_is_not_checked(model, wine, tmp_path):
    model.save(tmp_path / "ae")
    path = tmp_path / "ae" / "config.json"
    config = json.loads(path.read_text())
    del config["fitted"]["training_data_fingerprint_"]
    path.write_text(json.dumps(config))
    old = load(tmp_path / "ae")
    assert not hasattr(old, "training_data_fingerprint_")
    assert _calibration_warnings(old, wine) == []


def test_a_table_fitted_with_its_label_column_is_recognised(wine):
    frame = pd.DataFrame(wine, columns=[f"c{i}" for i in range(13)]).assign(kind=np.arange(178) % 3)
    ae = AutoEncoder(code_size=2, hidden_layers=(8,), epochs=1, random_state=0).fit(frame, y="kind")
    assert len(_calibration_warnings(ae, frame)) == 1  # the label column is not a feature


def test_cli_calibrate_on_the_training_csv_warns_in_one_line(tmp_path):
    table = load_wine(as_frame=True).frame
    table.to_csv(tmp_path / "wine.csv", index=False)
    table.iloc[::5].to_csv(tmp_path / "held.csv", index=False)
    fit = ["fit", tmp_path / "wine.csv", "--label", "target", "-o", tmp_path / "ae", "--epochs", "2", "-q"]
    assert run(*fit)[0] == 0
    code, _, err = run("calibrate", tmp_path / "ae", tmp_path / "wine.csv", "-o", tmp_path / "det", "-q")
    assert code == 0
    lines = [line for line in err.splitlines() if "fitted on" in line]
    assert lines == [
        f"hourglass: warning: {MESSAGE}: the threshold will flag more new normal rows "
        "than its quantile says; calibrate on normal rows the model did not see"
    ], err
    code, _, err = run("calibrate", tmp_path / "ae", tmp_path / "held.csv", "-o", tmp_path / "det2", "-q")
    assert code == 0 and "fitted on" not in err, err
