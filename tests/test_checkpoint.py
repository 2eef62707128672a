"""Checkpoints: one atomic file, checked whole on load, and tied to the run that wrote it."""

import json
import os
import stat

import numpy as np
import pytest
import safetensors.torch
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from helpers import interrupt_once_at as _interrupt_once_at
from hourglass.exceptions import ModelFileError, OutputError
from hourglass.train import checkpoint

SETTINGS = {"epochs": 4, "patience": 0}


@pytest.fixture
def interrupted_run(make_ae, unit_data, tmp_path, monkeypatch):
    """The checkpoint folder of a run of SETTINGS on unit_data interrupted during epoch 3."""
    _interrupt_once_at(3, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        make_ae(checkpoint_dir=str(tmp_path), **SETTINGS).fit(unit_data)
    return tmp_path


def _rewrite(folder, change) -> None:
    """Rewrite the checkpoint file with ``change(tensors, metadata)`` applied (a crafted file)."""
    path = folder / checkpoint.CHECKPOINT_FILE
    metadata = checkpoint.safetensors_header(path)[0]
    tensors = load_file(str(path))
    change(tensors, metadata)
    save_file(tensors, str(path), metadata=metadata)


def test_checkpoint_is_one_file_recording_epoch_state_and_run(interrupted_run, unit_data):
    assert [p.name for p in interrupted_run.iterdir()] == [checkpoint.CHECKPOINT_FILE]
    header = checkpoint.read_header(interrupted_run)
    assert header["epoch"] == header["state"]["epoch"] == 2
    assert header["state"]["history"]["epoch"] == [1, 2]
    run = header["run"]
    assert run["data"]["shape"] == list(unit_data.shape) and run["seed"] == 0
    assert run["params"]["epochs"] == 4 and "checkpoint_dir" not in run["params"]


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda t, m: m.update(epoch="3"), "the state is of epoch 2, the tensors of 3"),
        (lambda t, m: m.update(state=json.dumps({**json.loads(m["state"]), "epoch": 1})), "epoch 1"),
        (lambda t, m: t.update({"model.encoder.code.bias": torch.zeros(2)}), "digest"),
        (lambda t, m: m.update(version="1"), "not an hourglass checkpoint"),
        (lambda t, m: m.update(state="{"), "malformed metadata"),
        (lambda t, m: m.update(run="[1, 2]"), "malformed run"),
        # A well-formed edit of the state: a best loss or a learning rate that is not the run's.
        (
            lambda t, m: m.update(state=json.dumps({**json.loads(m["state"]), "best_loss": 0.001})),
            "state does",
        ),
        (lambda t, m: m.pop("state_digest") and m.update(digest="0" * 32), "digest"),
    ],
)
def test_resume_refuses_a_torn_or_altered_checkpoint(make_ae, unit_data, interrupted_run, change, reason):
    _rewrite(interrupted_run, change)
    with pytest.raises(ModelFileError, match=reason) as info:
        make_ae(checkpoint_dir=str(interrupted_run), **SETTINGS).fit(unit_data, resume=True)
    assert str(info.value).endswith("start over: fit without resume=True")


def test_resume_refuses_the_old_two_file_checkpoint(make_ae, unit_data, tmp_path):
    save_file({"model.x": torch.zeros(1)}, str(tmp_path / "checkpoint.safetensors"), metadata={"epoch": "2"})
    (tmp_path / checkpoint.LEGACY_STATE_FILE).write_text(json.dumps({"epoch": 2}))
    with pytest.raises(ModelFileError, match="older hourglass.*start over: fit without resume=True"):
        make_ae(checkpoint_dir=str(tmp_path)).fit(unit_data, resume=True)


@pytest.mark.parametrize(
    "data_change, overrides, message",
    [
        (lambda X: X[:40], {}, "data differs: 64x6 -> 40x6"),
        (lambda X: X * 2, {}, "data differs: same shape 64x6, other values"),
        (lambda X: X, {"epochs": 5}, "parameters differ: epochs 4 -> 5"),
        (
            lambda X: X,
            {"code_size": 3, "learning_rate": 0.1},
            "code_size 2 -> 3, learning_rate 'auto' -> 0.1",
        ),
        (lambda X: X, {"random_state": 1}, "random_state 0 -> 1; seed differs: 0 -> 1"),
    ],
)
def test_resume_refuses_another_run_naming_what_differs(
    make_ae, unit_data, interrupted_run, data_change, overrides, message
):
    before = (interrupted_run / checkpoint.CHECKPOINT_FILE).read_bytes()
    with pytest.raises(ModelFileError, match="another run") as info:
        make_ae(checkpoint_dir=str(interrupted_run), **{**SETTINGS, **overrides}).fit(
            data_change(unit_data), resume=True
        )
    # Worded for the caller: fit's argument, not the command line's flags.
    assert message in str(info.value) and "start over: fit without resume=True" in str(info.value)
    assert "--force" not in str(info.value) and "--resume" not in str(info.value)
    assert (interrupted_run / checkpoint.CHECKPOINT_FILE).read_bytes() == before  # untouched


def test_resume_may_change_what_does_not_change_the_result(make_ae, unit_data, interrupted_run):
    ae = make_ae(checkpoint_dir=str(interrupted_run), verbose=0, **SETTINGS)
    assert ae.fit(unit_data, resume=True).history_.epoch == [1, 2, 3, 4]


def test_resume_without_a_seed_continues_with_the_checkpoints_seed(make_ae, unit_data, tmp_path, monkeypatch):
    settings = {**SETTINGS, "random_state": None}
    _interrupt_once_at(3, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        make_ae(checkpoint_dir=str(tmp_path), **settings).fit(unit_data)
    seed = checkpoint.saved_seed(tmp_path)
    resumed = make_ae(checkpoint_dir=str(tmp_path), **settings).fit(unit_data, resume=True)
    assert resumed.seed_ == seed and resumed.history_.epoch == [1, 2, 3, 4]
    reference = make_ae(**{**SETTINGS, "random_state": seed}).fit(unit_data)
    for name, value in reference.module_.state_dict().items():
        assert torch.equal(value, resumed.module_.state_dict()[name]), name


def test_resume_needs_a_checkpoint_dir(make_ae, unit_data):
    with pytest.raises(ValueError, match="checkpoint_dir"):
        make_ae().fit(unit_data, resume=True)


def test_data_fingerprint_hashes_a_fixed_sample_of_large_arrays(monkeypatch):
    monkeypatch.setattr(checkpoint, "HASH_WHOLE_BYTES", 1000)
    X = np.arange(5000 * 4, dtype=np.float32).reshape(5000, 4)
    a = checkpoint.data_fingerprint(X)
    assert a == checkpoint.data_fingerprint(X.copy())
    assert a["shape"] == [5000, 4] and a["dtype"] == "float32"
    Y = X.copy()
    Y[0, 0] = -1  # the first row is always in the sample
    assert checkpoint.data_fingerprint(Y)["hash"] != a["hash"]
    assert checkpoint.data_fingerprint(X[:10], n_samples=5000)["shape"] == [5000, 4]


# -- writing -----------------------------------------------------------------------------------------

#: What safetensors raises when the file outgrows ``ulimit -f`` (EFBIG, errno 27).
FILE_TOO_LARGE = SafetensorError("Error while serializing: I/O error: File too large (os error 27)")


def _save(folder, epoch: int):
    return checkpoint.save(folder, epoch, {"model.w": torch.full((3,), float(epoch))}, {"best_loss": 1.0})


def test_a_checkpoint_that_cannot_be_written_names_it_and_leaves_no_folder(tmp_path, monkeypatch):
    def too_large(*args, **kwargs):
        raise FILE_TOO_LARGE

    monkeypatch.setattr(safetensors.torch, "serialize_file", too_large)
    folder = tmp_path / "m.checkpoint"
    with pytest.raises(OutputError) as info:
        _save(folder, 1)
    assert str(info.value) == f"cannot write {str(folder / checkpoint.CHECKPOINT_FILE)!r}: File too large"
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_that_cannot_be_written_keeps_the_previous_epochs(tmp_path, monkeypatch):
    folder = tmp_path / "m.checkpoint"
    _save(folder, 1)

    def disk_full(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(safetensors.torch, "serialize_file", disk_full)
    with pytest.raises(OutputError, match=r"cannot write '.*checkpoint.safetensors': the file .* full"):
        _save(folder, 2)
    assert [p.name for p in folder.iterdir()] == [checkpoint.CHECKPOINT_FILE]
    assert checkpoint.read_header(folder)["epoch"] == 1


@pytest.mark.parametrize("umask", [0o022, 0o027], ids=["022", "027"])
def test_checkpoint_file_follows_the_umask_like_other_files(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = _save(tmp_path / "m.checkpoint", 1)
        (tmp_path / "other.json").write_text("{}")
    finally:
        os.umask(old)
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "other.json").stat().st_mode) == 0o666 & ~umask
