import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from helpers import FakeClock
from helpers import interrupt_once_at as _interrupt_once_at
from hourglass.exceptions import InvalidInputError, ModelFileError, TrainingDivergedError
from hourglass.nn.config import DenseConfig
from hourglass.nn.model import build_model
from hourglass.train import checkpoint, resume
from hourglass.train import epoch as epoch_module
from hourglass.train import evaluation as evaluation_module
from hourglass.train import trainer as trainer_module
from hourglass.train.config import TrainConfig
from hourglass.train.trainer import History, Trainer, WarmupCosine, resolve_device


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert torch.equal(sa[name], sb[name]), name


def _any_different(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return any(
        not torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


# -- devices and schedule ----------------------------------------------------------------------


@pytest.mark.parametrize("device, expected", [("cpu", "cpu"), (torch.device("cpu"), "cpu")])
def test_resolve_device(device, expected):
    assert resolve_device(device).type == expected


def test_resolve_device_auto_picks_cuda_only_when_available():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_resolve_device_refuses_cuda_without_cuda():
    with pytest.raises(InvalidInputError, match="device='cuda'"):
        resolve_device("cuda")


def test_resolve_device_rejects_nonsense_naming_it():
    with pytest.raises(InvalidInputError, match="device='gpu-please'"):
        resolve_device("gpu-please")


def test_resolve_device_refuses_a_device_type_this_pytorch_cannot_run_on():
    # 'meta' is a device type every PyTorch knows and none trains on; it reached a RuntimeError.
    with pytest.raises(InvalidInputError, match="device='meta' was asked for, but this PyTorch has no meta"):
        resolve_device("meta")


def test_warmup_cosine_rises_then_decays_to_five_percent():
    schedule = WarmupCosine(total_steps=100, warmup=10)
    factors = [schedule(step) for step in range(100)]
    assert factors[0] == pytest.approx(0.1)
    assert factors[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[9:-1], factors[10:], strict=True))
    assert schedule(100) == pytest.approx(0.05)


def test_history_round_trips_through_json():
    history = History(epoch=[1, 2], train_loss=[0.5, 0.4], val_loss=[0.6, 0.5], best_epoch=2)
    assert History.from_dict(json.loads(json.dumps(history.to_dict()))) == history


# -- seeded and reproducible ----------------------------------------------------------------


@pytest.mark.parametrize("extra", [{}, {"dropout": 0.2}, {"noise": None}])
def test_fit_same_seed_gives_identical_weights(make_ae, unit_data, extra):
    a = make_ae(**extra).fit(unit_data)
    b = make_ae(**extra).fit(unit_data)
    _assert_same_weights(a.module_, b.module_)
    assert a.history_.train_loss == b.history_.train_loss


def test_fit_different_seeds_give_different_weights(make_ae, unit_data):
    a = make_ae(random_state=0).fit(unit_data)
    b = make_ae(random_state=1).fit(unit_data)
    assert _any_different(a.module_, b.module_)


def test_fit_leaves_the_global_torch_rng_alone(make_ae, unit_data):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_ae(dropout=0.2).fit(unit_data)
    assert torch.equal(torch.rand(3), expected)


# -- early stopping --------------------------------------------------------------------------


def test_early_stopping_stops_when_validation_stalls_and_restores_best(make_ae, unit_data, monkeypatch):
    # Validation improves for two epochs, then gets worse: with patience 2 the run stops at
    # epoch 4 and ends with the weights of epoch 2.
    val_losses = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3])
    snapshots = {}
    original = Trainer.evaluate

    def scripted_evaluate(self, data):
        original(self, data)
        snapshots[len(snapshots) + 1] = {k: v.clone() for k, v in self.model.state_dict().items()}
        return next(val_losses)

    monkeypatch.setattr(Trainer, "evaluate", scripted_evaluate)
    ae = make_ae(epochs=10, patience=2, noise=None).fit(unit_data)
    assert ae.history_.epoch == [1, 2, 3, 4]
    assert ae.n_epochs_ == 4
    assert ae.history_.best_epoch == 2
    assert ae.history_.stopped_early is True
    assert ae.history_.val_loss == [1.0, 0.5, 0.6, 0.7]
    for name, value in ae.module_.state_dict().items():
        assert torch.equal(value, snapshots[2][name]), name
    assert not all(torch.equal(v, snapshots[4][k]) for k, v in ae.module_.state_dict().items())


def test_early_stopping_stops_before_epochs_on_real_stall(make_ae, unit_data):
    # A learning rate this small cannot move the validation loss by the tolerance.
    ae = make_ae(epochs=40, patience=2, learning_rate=1e-12, noise=None).fit(unit_data)
    assert ae.n_epochs_ < 40
    assert ae.history_.stopped_early
    assert ae.history_.best_epoch == ae.n_epochs_ - 2


def test_patience_zero_never_stops_early(make_ae, unit_data):
    ae = make_ae(epochs=5, patience=0, learning_rate=1e-12, noise=None).fit(unit_data)
    assert ae.n_epochs_ == 5 and not ae.history_.stopped_early


def test_history_records_every_epoch(make_ae, unit_data):
    ae = make_ae(epochs=4, patience=0).fit(unit_data)
    h = ae.history_
    assert h.epoch == [1, 2, 3, 4]
    assert len(h.train_loss) == len(h.val_loss) == len(h.lr) == len(h.seconds) == 4
    assert all(math.isfinite(v) for v in h.train_loss + h.val_loss)
    assert h.terms["reconstruction"] == pytest.approx(h.train_loss)


def test_without_validation_split_monitors_training_loss(make_ae, unit_data):
    ae = make_ae(validation_fraction=0.0, epochs=3).fit(unit_data)
    assert all(math.isnan(v) for v in ae.history_.val_loss)
    assert ae.history_.best_epoch == int(np.argmin(ae.history_.train_loss)) + 1


# -- divergence ----------------------------------------------------------------------------


def test_huge_learning_rate_raises_training_diverged_naming_the_epoch(make_ae, real_data):
    with pytest.raises(TrainingDivergedError, match=r"at epoch \d+\b.*tried restarts.*learning_rate"):
        make_ae(loss="mse", scaling="standard", learning_rate=1e6, epochs=6).fit(real_data)


def _poison_epoch(monkeypatch, poisoned_epoch: int, bad: float) -> None:
    """Make the loss of every step of ``poisoned_epoch`` non-finite."""
    original = epoch_module.total_loss
    calls = {"epoch": 0}
    original_epoch = Trainer.train_one_epoch

    def counting_epoch(self, data, epoch):
        calls["epoch"] = epoch
        return original_epoch(self, data, epoch)

    def poisoned(*args, **kwargs):
        parts = original(*args, **kwargs)
        if calls["epoch"] == poisoned_epoch:
            parts["loss"] = parts["loss"] * bad
        return parts

    monkeypatch.setattr(Trainer, "train_one_epoch", counting_epoch)
    # The training pass and the held-out loss each compute the loss (both were in trainer.py).
    monkeypatch.setattr(epoch_module, "total_loss", poisoned)
    monkeypatch.setattr(evaluation_module, "total_loss", poisoned)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_loss_without_restarts_names_that_epoch(unit_data, monkeypatch, bad):
    _poison_epoch(monkeypatch, 3, bad)
    config = TrainConfig(epochs=5, batch_size=16, patience=0, device="cpu", verbose=0, max_restarts=0)
    trainer = Trainer(build_model(DenseConfig(input_dim=6, code_size=2, hidden_layers=(8,))), config, "mse")
    with pytest.raises(TrainingDivergedError, match=r"(nan|inf) at epoch 3\b|epoch 3: the training loss"):
        trainer.fit(torch.as_tensor(unit_data, dtype=torch.float32))


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_loss_at_a_later_epoch_restarts_from_the_best_weights(
    make_ae, unit_data, monkeypatch, bad
):
    _poison_epoch(monkeypatch, 3, bad)
    ae = make_ae(epochs=5, patience=0).fit(unit_data)
    (restart,) = ae.history_.restarts
    assert restart["epoch"] == 3 and "training loss became" in restart["reason"]
    assert restart["learning_rate"] == pytest.approx(ae.learning_rate_ * trainer_module.RESTART_FACTOR)
    assert all(math.isfinite(v) for v in ae.history_.val_loss[3:])
    assert np.isfinite(ae.transform(unit_data)).all()


# -- checkpoints ---------------------------------------------------------------------------


def _checkpoint_epoch(folder) -> int:
    return checkpoint.read_header(folder)["epoch"]


def _spy_on_checkpoints(folder, monkeypatch) -> list[int]:
    """The epochs whose checkpoint the run writes, as read back from ``folder``, in order."""
    seen = []
    original = Trainer._save_checkpoint

    def spy(self, epoch, *args):
        original(self, epoch, *args)
        seen.append(_checkpoint_epoch(folder))

    monkeypatch.setattr(Trainer, "_save_checkpoint", spy)
    return seen


def test_checkpoint_written_every_epoch_where_epochs_outlast_writes(
    make_ae, unit_data, tmp_path, monkeypatch
):
    monkeypatch.setattr(resume, "SAVE_COST_MULTIPLE", 0.0)  # as where an epoch takes longer than a write
    seen = _spy_on_checkpoints(tmp_path, monkeypatch)
    ae = make_ae(epochs=3, patience=0, checkpoint_dir=str(tmp_path)).fit(unit_data)
    assert seen == [1, 2, 3]
    assert [p.name for p in tmp_path.iterdir()] == [checkpoint.CHECKPOINT_FILE]  # one file, no leftovers
    tensors = load_file(str(tmp_path / checkpoint.CHECKPOINT_FILE))
    assert {k[6:] for k in tensors if k.startswith("model.")} == set(ae.module_.state_dict())
    assert any(k.startswith("optimizer.") for k in tensors)


def test_checkpoints_of_short_epochs_take_a_tenth_of_the_run_at_most(
    make_ae, unit_data, tmp_path, monkeypatch
):
    # Epochs of a small table take a millisecond and a write about ten: written after every
    # epoch, checkpoints made such fits 2.7-3.3x slower. Here a write takes a (fake) second, so
    # only the first epoch's and the last one's are due; resumed, the run ends as it would have.
    clock = FakeClock(1.0)
    monkeypatch.setattr(resume, "time", SimpleNamespace(perf_counter=clock))
    seen = _spy_on_checkpoints(tmp_path / "reference", monkeypatch)
    settings = {"epochs": 6, "patience": 0}
    reference = make_ae(checkpoint_dir=str(tmp_path / "reference"), **settings).fit(unit_data)
    assert seen == [1, 6]

    _interrupt_once_at(5, monkeypatch)
    monkeypatch.setattr(resume, "SAVE_COST_MULTIPLE", 10.0)  # the default, which the helper sets to 0
    with pytest.raises(KeyboardInterrupt):
        make_ae(checkpoint_dir=str(tmp_path / "run"), **settings).fit(unit_data)
    assert _checkpoint_epoch(tmp_path / "run") == 1
    resumed = make_ae(checkpoint_dir=str(tmp_path / "run"), **settings).fit(unit_data, resume=True)
    _assert_same_weights(resumed.module_, reference.module_)
    assert resumed.history_.val_loss == reference.history_.val_loss


def test_checkpoint_write_is_atomic(make_ae, unit_data, tmp_path, monkeypatch):
    # The third write dies halfway: the checkpoint of epoch 2 must survive intact and no
    # temporary file may be left behind.
    monkeypatch.setattr(resume, "SAVE_COST_MULTIPLE", 0.0)
    original = checkpoint.save_tensors
    calls = {"n": 0}

    def dying_save_file(tensors, filename, metadata=None):
        calls["n"] += 1
        if calls["n"] == 3:
            with open(filename, "wb") as f:
                f.write(b"half a file")
            raise OSError("disk full")
        return original(tensors, filename, metadata=metadata)

    monkeypatch.setattr(checkpoint, "save_tensors", dying_save_file)
    with pytest.raises(OSError, match="disk full"):
        make_ae(epochs=5, patience=0, checkpoint_dir=str(tmp_path)).fit(unit_data)
    assert [p.name for p in tmp_path.iterdir()] == [checkpoint.CHECKPOINT_FILE]
    assert _checkpoint_epoch(tmp_path) == 2
    assert checkpoint.load(tmp_path)  # still a whole checkpoint, digest included


def test_resume_without_checkpoint_raises_model_file_error(make_ae, unit_data, tmp_path):
    with pytest.raises(ModelFileError, match="no checkpoint"):
        make_ae(checkpoint_dir=str(tmp_path / "none")).fit(unit_data, resume=True)


def test_resume_from_corrupt_checkpoint_raises_model_file_error(make_ae, unit_data, tmp_path):
    make_ae(checkpoint_dir=str(tmp_path)).fit(unit_data)
    (tmp_path / checkpoint.CHECKPOINT_FILE).write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="unreadable"):
        make_ae(checkpoint_dir=str(tmp_path)).fit(unit_data, resume=True)


@pytest.mark.parametrize("interrupt_at", [2, 3, 6])
def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_run(
    make_ae, unit_data, tmp_path, monkeypatch, interrupt_at
):
    # Noise is on by default; dropout adds global-RNG draws. Both must replay identically.
    settings = {"epochs": 6, "dropout": 0.2, "noise": "gaussian", "patience": 0}
    reference = make_ae(checkpoint_dir=str(tmp_path / "reference"), **settings).fit(unit_data)

    _interrupt_once_at(interrupt_at, monkeypatch)
    folder = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        make_ae(checkpoint_dir=str(folder), **settings).fit(unit_data)
    assert _checkpoint_epoch(folder) == interrupt_at - 1

    resumed = make_ae(checkpoint_dir=str(folder), **settings).fit(unit_data, resume=True)
    _assert_same_weights(resumed.module_, reference.module_)
    assert resumed.history_.epoch == list(range(1, 7))
    assert resumed.history_.train_loss == reference.history_.train_loss
    assert resumed.history_.val_loss == reference.history_.val_loss
    assert resumed.history_.best_epoch == reference.history_.best_epoch
    np.testing.assert_array_equal(resumed.transform(unit_data), reference.transform(unit_data))


def test_resumed_run_with_early_stopping_matches_uninterrupted(make_ae, unit_data, tmp_path, monkeypatch):
    settings = {"epochs": 8, "patience": 2, "learning_rate": 1e-12, "noise": None}
    reference = make_ae(**settings).fit(unit_data)
    _interrupt_once_at(2, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        make_ae(checkpoint_dir=str(tmp_path), **settings).fit(unit_data)
    resumed = make_ae(checkpoint_dir=str(tmp_path), **settings).fit(unit_data, resume=True)
    assert resumed.history_.epoch == reference.history_.epoch
    assert resumed.history_.best_epoch == reference.history_.best_epoch
    _assert_same_weights(resumed.module_, reference.module_)


def test_resumed_conv_denoiser_matches_uninterrupted_run(tmp_path, monkeypatch):
    # On the CPU convolutional models train in channels-last layout; the checkpoint holds
    # default-layout tensors, and a resumed run must still end bit-identical.
    from hourglass import ConvAutoEncoder

    X = np.random.default_rng(0).random((40, 1, 12, 12)).astype(np.float32)
    settings = {
        "channels": (3, 4),
        "convs_per_block": 2,
        "skip_connections": True,
        "task": "denoise",
        "epochs": 4,
        "batch_size": 8,
        "patience": 0,
        "random_state": 0,
        "verbose": 0,
        "device": "cpu",
    }
    reference = ConvAutoEncoder(**settings).fit(X)
    _interrupt_once_at(3, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        ConvAutoEncoder(checkpoint_dir=str(tmp_path), **settings).fit(X)
    resumed = ConvAutoEncoder(checkpoint_dir=str(tmp_path), **settings).fit(X, resume=True)
    _assert_same_weights(resumed.module_, reference.module_)
    assert resumed.history_.train_loss == reference.history_.train_loss


def test_conv_training_on_cpu_uses_channels_last_and_hands_back_the_default_layout():
    from hourglass.nn.config import ConvConfig

    model = build_model(ConvConfig(input_shape=(1, 8, 8), channels=(4, 6)))
    config = TrainConfig(epochs=1, batch_size=8, patience=0, device="cpu", verbose=0)
    trainer = Trainer(model, config, "mse")
    assert trainer.memory_format == torch.channels_last
    trainer.fit(torch.rand(16, 1, 8, 8))
    assert all(p.is_contiguous() for p in model.parameters())
    dense = build_model(DenseConfig(input_dim=8, code_size=3, hidden_layers=(16,)))
    assert Trainer(dense, config, "mse").memory_format is None


# -- the Trainer on its own ------------------------------------------------------------------


def test_trainer_fits_a_module_and_lowers_the_loss():
    torch.manual_seed(0)
    data = torch.rand(64, 8)
    model = build_model(DenseConfig(input_dim=8, code_size=3, hidden_layers=(16,)))
    config = TrainConfig(epochs=15, batch_size=16, learning_rate=1e-2, patience=0, device="cpu", verbose=0)
    history = Trainer(model, config, "mse").fit(data[:48], data[48:])
    assert history.val_loss[-1] < history.val_loss[0]
    assert not model.training  # handed back in eval mode


def test_trainer_accepts_a_dataset():
    data = torch.rand(40, 5)
    dataset = torch.utils.data.TensorDataset(data)
    model = build_model(DenseConfig(input_dim=5, code_size=2, hidden_layers=(4,)))
    config = TrainConfig(epochs=2, batch_size=8, patience=0, device="cpu", verbose=0)
    history = Trainer(model, config, "mse").fit(dataset)
    assert history.epoch == [1, 2]


# -- the progress bar ------------------------------------------------------------------------


def test_verbose_zero_prints_nothing(make_ae, unit_data, capsys):
    make_ae(verbose=0).fit(unit_data)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_verbose_one_shows_a_progress_bar(make_ae, unit_data, capsys):
    make_ae(verbose=1, epochs=2, patience=0).fit(unit_data)
    err = capsys.readouterr().err
    assert "AutoEncoder" in err
    assert "2/2" in err
    assert "train mse" in err and "val mse" in err
