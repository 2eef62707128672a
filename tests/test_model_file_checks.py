"""A pretrained folder's layers never silently replace the user's, and model files that are
missing, corrupt or contradict their architecture fail with one ModelFileError line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import hourglass
from helpers import assert_one_line_error, run
from hourglass import AnomalyDetector, AutoEncoder, InvalidInputError
from hourglass.estimators.persistence import CONFIG_FILE, HISTORY_FILE
from hourglass.exceptions import ModelFileError

FAST = dict(hidden_layers=(6,), epochs=2, batch_size=16, verbose=0, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(3).random((120, 8)).astype(np.float32)


@pytest.fixture(scope="module")
def saved(X, tmp_path_factory):
    """A tiny dense model folder (8 -> 6 -> 2, gelu), saved once; tests damage copies of it."""
    return AutoEncoder(code_size=2, **FAST).fit(X).save(tmp_path_factory.mktemp("src") / "model")


@pytest.fixture
def folder(saved, tmp_path):
    return shutil.copytree(saved, tmp_path / "model")


def _edit(path, edit):
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


# -- defect 1: a pretrained folder's layers against the user's settings ----------------------------


@pytest.mark.parametrize(
    "role, setting, message",
    [
        (
            "encoder",
            {"hidden_layers": (7, 3)},
            r"=\(7, 3\) but the encoder .* hidden_layers=\(6,\)",
        ),
        ("encoder", {"hidden_layers": 5}, r"hidden_layers=\(5,\) but the encoder .* hidden_layers=\(6,\)"),
        ("encoder", {"activation": "tanh"}, r"activation='tanh' but the encoder .* activation='gelu'"),
        (
            "decoder",
            {"decoder_layers": (4,)},
            r"=\(4,\) but the decoder .* decoder_layers=\(6,\)",
        ),
        ("decoder", {"activation": "relu"}, r"activation='relu' but the decoder .* activation='gelu'"),
    ],
)
def test_a_setting_the_pretrained_part_would_replace_is_refused(X, saved, role, setting, message):
    settings = {**FAST, "hidden_layers": "auto", **setting}
    with pytest.raises(InvalidInputError, match=message):
        AutoEncoder(code_size=2, **{role: saved}, **settings).fit(X)


# -- defect 2: history.json -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, reason",
    [
        ("{{{", "is corrupt"),
        ("[]", "expected an object"),
        ('{"epoch": "two"}', "epoch='two' has the wrong type"),
        ('{"epoch": [1, 2], "train_loss": [0.5]}', "per-epoch lists of different lengths"),
    ],
)
def test_a_damaged_history_is_refused_naming_the_file(folder, text, reason):
    (folder / HISTORY_FILE).write_text(text)
    with pytest.raises(ModelFileError, match="history.json") as info:
        hourglass.load(folder)
    assert reason in str(info.value)


def test_a_missing_history_loads_and_a_newer_field_is_left_out(folder):
    record = '{"epoch": [1, 2], "train_loss": [0.5, 0.4], "from_a_later_version": 1}'
    (folder / HISTORY_FILE).write_text(record)
    assert hourglass.load(folder).history_.epoch == [1, 2]
    (folder / HISTORY_FILE).unlink()
    assert hourglass.load(folder).history_.epoch == []


def test_info_on_a_corrupt_history_is_one_line(folder):
    (folder / HISTORY_FILE).write_text("{{{")
    assert_one_line_error(*run("info", folder), "history.json", "corrupt")


# -- defect 2: config.json's parameters against its architecture --------------------------------


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("code_size", 4, "params.code_size=4 but the architecture's code_size is 2"),
        (
            "hidden_layers",
            [64, 32],
            "params.hidden_layers=(64, 32) but the architecture's hidden_layers is (6,)",
        ),
        ("hidden_layers", 5, "params.hidden_layers=(5,) but the architecture's hidden_layers is (6,)"),
        ("decoder_layers", [3], "params.decoder_layers=(3,) but the architecture's decoder_layers is (6,)"),
    ],
)
def test_a_parameter_contradicting_the_architecture_is_refused(folder, name, value, message):
    _edit(folder / CONFIG_FILE, lambda c: c["params"].__setitem__(name, value))
    with pytest.raises(ModelFileError, match="config.json") as info:
        hourglass.load(folder)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("n_features_out", 5, "fitted n_features_out=5 but the architecture's code_size is 2"),
        ("feature_names_in_", ["a", "b"], "feature_names_in_ has 2 names but n_features_in_=8"),
    ],
)
def test_a_fitted_size_contradicting_the_architecture_is_refused(folder, name, value, message):
    _edit(folder / CONFIG_FILE, lambda c: c["fitted"].__setitem__(name, value))
    with pytest.raises(ModelFileError, match="config.json") as info:
        hourglass.load(folder)
    assert message in str(info.value)


def test_a_detector_checks_its_autoencoders_parameters(X, tmp_path):
    path = AnomalyDetector(code_size=2, **FAST).fit(X).save(tmp_path / "detector")
    _edit(path / CONFIG_FILE, lambda c: c["fitted"]["estimator_params"].__setitem__("code_size", 3))
    message = r"estimator_params\.code_size=3 but the architecture's code_size is 2"
    with pytest.raises(ModelFileError, match=message):
        hourglass.load(path)


def test_a_damaged_history_says_how_to_load_the_model_anyway(folder):
    (folder / HISTORY_FILE).write_text("{{{")
    with pytest.raises(ModelFileError, match="remove it to load the model without its training record"):
        hourglass.load(folder)
    (folder / HISTORY_FILE).unlink()
    assert hourglass.load(folder).history_.epoch == []
