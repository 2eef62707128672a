import errno
import json
import os
import re
import stat

import numpy as np
import pandas as pd
import pytest
import safetensors.torch
import torch
from safetensors import SafetensorError

import hourglass
from hourglass.estimators.persistence import CONFIG_FILE, HISTORY_FILE, WEIGHTS_FILE, read_config
from hourglass.exceptions import InvalidInputError, ModelFileError, OutputError, OutputExistsError

PICKLE_PROTOCOL_MARKER = b"\x80"


@pytest.fixture(scope="module")
def saved(fitted_ae, tmp_path_factory):
    """The folder of ``fitted_ae``, saved once; tests that damage it work on a copy."""
    return fitted_ae.save(tmp_path_factory.mktemp("saved") / "model")


@pytest.fixture
def copy_of_saved(saved, tmp_path):
    import shutil

    return shutil.copytree(saved, tmp_path / "model")


def _edit_config(folder, edit):
    config = json.loads((folder / CONFIG_FILE).read_text())
    edit(config)
    (folder / CONFIG_FILE).write_text(json.dumps(config))


# -- round trip ------------------------------------------------------------------------------------


def test_load_gives_identical_outputs(fitted_ae, saved, unit_data):
    loaded = hourglass.load(saved, device="cpu")
    np.testing.assert_array_equal(loaded.transform(unit_data), fitted_ae.transform(unit_data))
    np.testing.assert_array_equal(loaded.reconstruct(unit_data), fitted_ae.reconstruct(unit_data))
    codes = fitted_ae.transform(unit_data)
    np.testing.assert_array_equal(loaded.inverse_transform(codes), fitted_ae.inverse_transform(codes))


def test_load_restores_fitted_state(fitted_ae, saved):
    loaded = hourglass.load(saved, device="cpu")
    assert type(loaded) is type(fitted_ae)
    assert loaded.get_params() == fitted_ae.get_params()
    assert (loaded.loss_, loaded.loss_reason_) == (fitted_ae.loss_, fitted_ae.loss_reason_)
    assert loaded.scaler_.kind == fitted_ae.scaler_.kind
    np.testing.assert_array_equal(loaded.scaler_.offset, fitted_ae.scaler_.offset)
    np.testing.assert_array_equal(loaded.scaler_.scale, fitted_ae.scaler_.scale)
    assert loaded.history_ == fitted_ae.history_
    assert loaded.architecture_ == fitted_ae.architecture_
    assert loaded.n_features_in_ == fitted_ae.n_features_in_
    assert list(loaded.get_feature_names_out()) == list(fitted_ae.get_feature_names_out())
    for name, value in fitted_ae.module_.state_dict().items():
        assert torch.equal(loaded.module_.state_dict()[name], value)


@pytest.mark.parametrize("scaling", ["standard", "minmax"])
def test_round_trip_keeps_the_scaler_in_users_units(make_ae, real_data, tmp_path, scaling):
    ae = make_ae(scaling=scaling).fit(real_data)
    loaded = hourglass.load(ae.save(tmp_path / "m"), device="cpu")
    np.testing.assert_array_equal(loaded.reconstruct(real_data), ae.reconstruct(real_data))
    assert abs(loaded.reconstruct(real_data).mean() - 1000) < 50


def test_round_trip_keeps_dataframe_feature_names(make_ae, unit_data, tmp_path):
    df = pd.DataFrame(unit_data, columns=list("abcdef"))
    loaded = hourglass.load(make_ae().fit(df).save(tmp_path / "m"), device="cpu")
    assert list(loaded.feature_names_in_) == list("abcdef")
    assert loaded.transform(df).shape == (64, 2)


def test_loaded_model_is_usable_for_more_training(saved, unit_data):
    loaded = hourglass.load(saved, device="cpu")
    assert loaded.fit(unit_data).transform(unit_data).shape == (64, 2)


# -- the folder -----------------------------------------------------------------------------------


def test_folder_holds_only_json_and_safetensors(saved):
    assert sorted(p.name for p in saved.iterdir()) == sorted([CONFIG_FILE, WEIGHTS_FILE, HISTORY_FILE])


@pytest.mark.parametrize("name", [CONFIG_FILE, WEIGHTS_FILE, HISTORY_FILE])
def test_no_file_is_a_pickle(saved, name):
    assert not (saved / name).read_bytes().startswith(PICKLE_PROTOCOL_MARKER)


@pytest.mark.parametrize("name", [CONFIG_FILE, HISTORY_FILE])
def test_json_files_are_plain_json(saved, name):
    assert isinstance(json.loads((saved / name).read_text()), dict)


def test_config_records_what_the_model_is(saved):
    config = read_config(saved)
    assert config["estimator"] == "AutoEncoder"
    assert config["architecture"]["kind"] == "dense"
    assert config["architecture"]["code_size"] == 2
    assert config["fitted"]["loss_"] == "mse"
    assert config["scaling"] == "none"


def test_missing_history_loads_with_empty_history(copy_of_saved, unit_data):
    (copy_of_saved / HISTORY_FILE).unlink()
    loaded = hourglass.load(copy_of_saved, device="cpu")
    assert loaded.history_.epoch == []
    assert loaded.transform(unit_data).shape == (64, 2)


# -- overwriting ----------------------------------------------------------------------------------


def test_save_refuses_an_existing_folder(fitted_ae, tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(OutputExistsError, match=r"'.*m' exists already.*force"):
        fitted_ae.save(tmp_path / "m")
    assert list((tmp_path / "m").iterdir()) == []


def test_save_with_force_replaces_the_folder(fitted_ae, make_ae, unit_data, tmp_path):
    fitted_ae.save(tmp_path / "m")
    other = make_ae(code_size=3).fit(unit_data)
    other.save(tmp_path / "m", force=True)
    loaded = hourglass.load(tmp_path / "m", device="cpu")
    np.testing.assert_array_equal(loaded.transform(unit_data), other.transform(unit_data))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary or old folder left


def test_save_refuses_a_file_even_with_force(fitted_ae, tmp_path):
    (tmp_path / "m").write_text("precious")
    with pytest.raises(InvalidInputError, match="is a file"):
        fitted_ae.save(tmp_path / "m", force=True)
    assert (tmp_path / "m").read_text() == "precious"


@pytest.mark.parametrize(
    "error, reason",
    [
        (SafetensorError("Error while serializing: I/O error: File too large (os error 27)"), "too large"),
        (OSError(errno.ENOSPC, "No space left on device"), "is full"),
    ],
)
def test_save_that_cannot_write_the_weights_names_them_and_changes_nothing(
    fitted_ae, make_ae, unit_data, tmp_path, monkeypatch, error, reason
):
    fitted_ae.save(tmp_path / "old")
    other = make_ae(code_size=3).fit(unit_data)

    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(safetensors.torch, "serialize_file", failing)
    for path, force in ((tmp_path / "new" / "m", False), (tmp_path / "old", True)):
        named = re.escape(f"cannot write {str(path / WEIGHTS_FILE)!r}: ")
        with pytest.raises(OutputError, match=named) as info:
            other.save(path, force=force)
        assert reason in str(info.value)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["old"]  # no new folder, no temporary
    loaded = hourglass.load(tmp_path / "old", device="cpu")
    np.testing.assert_array_equal(loaded.transform(unit_data), fitted_ae.transform(unit_data))


@pytest.mark.parametrize("umask", [0o022, 0o027], ids=["022", "027"])
def test_every_file_of_a_saved_model_follows_the_umask(fitted_ae, tmp_path, umask):
    old = os.umask(umask)
    try:
        folder = fitted_ae.save(tmp_path / "m")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert modes == dict.fromkeys([CONFIG_FILE, HISTORY_FILE, WEIGHTS_FILE], 0o666 & ~umask)


def test_save_before_fit_is_refused(make_ae, tmp_path):
    with pytest.raises(InvalidInputError, match="not fitted"):
        make_ae().save(tmp_path / "m")


# -- missing, corrupt, mismatched --------------------------------------------------------------------


def test_load_missing_folder(tmp_path):
    with pytest.raises(ModelFileError, match=r"no such model folder: '.*nowhere'"):
        hourglass.load(tmp_path / "nowhere")


@pytest.mark.parametrize("path", [42, None, b"digits-model"])
def test_load_refuses_what_is_not_a_path_in_one_line(path):
    with pytest.raises(InvalidInputError, match=r"^path=.*; expected the model folder's path"):
        hourglass.load(path)


def test_load_a_file_instead_of_a_folder(tmp_path):
    (tmp_path / "model.npy").write_bytes(b"x")
    with pytest.raises(ModelFileError, match="is not a model folder"):
        hourglass.load(tmp_path / "model.npy")


def test_load_folder_without_config(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match=r"holds no config.json"):
        hourglass.load(tmp_path / "empty")


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00garbage", b""])
def test_load_corrupt_config(copy_of_saved, content):
    (copy_of_saved / CONFIG_FILE).write_bytes(content)
    with pytest.raises(ModelFileError, match=r"config.json' is corrupt"):
        hourglass.load(copy_of_saved)


def test_load_config_of_something_else(copy_of_saved):
    (copy_of_saved / CONFIG_FILE).write_text(json.dumps({"format": "keras"}))
    with pytest.raises(ModelFileError, match="not an hourglass model config"):
        hourglass.load(copy_of_saved)


def test_load_config_missing_a_fitted_attribute_names_it(copy_of_saved):
    _edit_config(copy_of_saved, lambda c: c["fitted"].pop("n_features_in_"))
    with pytest.raises(ModelFileError, match=r"config.json' is not valid: fitted lacks 'n_features_in_'"):
        hourglass.load(copy_of_saved)


def test_load_newer_format_asks_for_an_upgrade(copy_of_saved):
    _edit_config(copy_of_saved, lambda c: c.update(format_version=99))
    with pytest.raises(ModelFileError, match=r"format version 99.*upgrade"):
        hourglass.load(copy_of_saved)


def test_load_unknown_estimator(copy_of_saved):
    _edit_config(copy_of_saved, lambda c: c.update(estimator="Transformer"))
    with pytest.raises(ModelFileError, match="unknown estimator 'Transformer'"):
        hourglass.load(copy_of_saved)


@pytest.mark.parametrize("content", [b"garbage", b"\x80\x04K\x01.", b""])
def test_load_corrupt_weights(copy_of_saved, content):
    (copy_of_saved / WEIGHTS_FILE).write_bytes(content)
    with pytest.raises(ModelFileError, match=r"weights.safetensors' is corrupt"):
        hourglass.load(copy_of_saved)


def test_load_truncated_weights(copy_of_saved):
    data = (copy_of_saved / WEIGHTS_FILE).read_bytes()
    (copy_of_saved / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="is corrupt"):
        hourglass.load(copy_of_saved)


def test_load_missing_weights(copy_of_saved):
    (copy_of_saved / WEIGHTS_FILE).unlink()
    with pytest.raises(ModelFileError, match="holds no weights.safetensors"):
        hourglass.load(copy_of_saved)


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda c: c["architecture"].update(code_size=3),
            "does not match its config: model.decoder.layer1.0.weight is 16x2",
        ),
        (
            lambda c: c["architecture"].update(hidden_layers=[32]),
            "is 16 F32 in the weights but 32 F32 in the architecture",
        ),
        (lambda c: c["architecture"].update(input_dim=7), "does not match its config"),
        (lambda c: c["architecture"].update(activation="bogus"), "is not valid: activation='bogus'"),
        (lambda c: c["architecture"].update(kind="spiral"), "is not valid: unknown architecture kind"),
        (lambda c: c.pop("scaling"), "lacks scaling"),
        (lambda c: c["params"].update(unknown_param=1), "unknown AutoEncoder parameters"),
        (lambda c: c["fitted"].update(n_features_in_=7), "fitted n_features_in_=7"),
        (lambda c: c["fitted"].update(module_=1), "'module_', which is not a fitted attribute"),
        (lambda c: c["fitted"].update(__class__="x"), "not a fitted attribute"),
    ],
)
def test_load_weights_that_do_not_match_the_config(copy_of_saved, edit, message):
    _edit_config(copy_of_saved, edit)
    with pytest.raises(ModelFileError, match=re.escape(message)):
        hourglass.load(copy_of_saved)


CRAFTED_LOAD = """
import resource, sys
import hourglass
from hourglass.estimators import anomaly, conv, dense  # the libraries loaded before measuring
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    hourglass.load(sys.argv[1], device="cpu")
except hourglass.exceptions.ModelFileError as exc:
    message = str(exc)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(grown * 1024, message)
"""


@pytest.mark.parametrize("layers", [[1_000_000, 16], [10**9, 16], [64] * 65])
def test_crafted_layer_sizes_fail_fast_without_allocating(copy_of_saved, layers):
    # A config asking for a huge module beside small weights: refused from the header alone.
    import subprocess
    import sys

    _edit_config(copy_of_saved, lambda c: c["architecture"].update(hidden_layers=layers))
    result = subprocess.run(
        [sys.executable, "-c", CRAFTED_LOAD, str(copy_of_saved)], capture_output=True, text=True, timeout=120
    )
    # Refused before anything is built: peak memory barely moves (tests assert no wall-clock time).
    grown, message = result.stdout.split(" ", 1)
    assert int(grown) < 100 * 2**20, result.stdout
    assert "does not match its config" in message or "supported" in message, message


# -- parameters a model file does not carry --------------------------------------------------------
class _Counting:
    def __init__(self):
        self.epochs = 0

    def on_epoch_end(self, estimator, epoch, logs):
        self.epochs += 1


def test_a_model_fitted_with_callbacks_and_a_checkpoint_folder_loads_and_refits(tmp_path):
    X = np.random.default_rng(0).random((60, 5)).astype(np.float32)
    ae = hourglass.AutoEncoder(epochs=1, verbose=0, callbacks=[_Counting()], checkpoint_dir=tmp_path / "ck")
    folder = ae.fit(X).save(tmp_path / "m")
    params = read_config(folder)["params"]
    assert params["callbacks"] is None and params["checkpoint_dir"] is None
    loaded = hourglass.load(folder)
    assert loaded.callbacks is None and loaded.checkpoint_dir is None
    loaded.fit(X)  # [None] callbacks were refused here


def test_a_file_that_names_a_checkpoint_folder_does_not_choose_where_a_refit_writes(copy_of_saved, tmp_path):
    _edit_config(copy_of_saved, lambda c: c["params"].update(checkpoint_dir=str(tmp_path / "elsewhere")))
    loaded = hourglass.load(copy_of_saved)
    assert loaded.checkpoint_dir is None


def test_a_loaded_detector_keeps_the_estimator_it_was_given(tmp_path):
    X = np.random.default_rng(0).random((80, 6)).astype(np.float32)
    template = hourglass.AutoEncoder(code_size=4, epochs=2, random_state=0, verbose=0)
    detector = hourglass.AnomalyDetector(template, random_state=0).fit(X)
    loaded = hourglass.load(detector.save(tmp_path / "d"))
    assert loaded.get_params()["estimator"].get_params() == template.get_params()
    assert not hasattr(loaded.estimator, "module_")  # the template, not the fitted model
    np.testing.assert_array_equal(loaded.fit(X).decision_function(X), detector.decision_function(X))
    default = hourglass.AnomalyDetector(random_state=0, epochs=1).fit(X)
    assert hourglass.load(default.save(tmp_path / "e")).estimator is None
