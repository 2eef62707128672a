"""Conventions users bring from scikit-learn and PyTorch: Datasets, partial_fit, warm_start,
callbacks, n_iter_ / loss_curve_, quiet by default."""

import numpy as np
import pytest
import torch

from hourglass import AutoEncoder, ConvAutoEncoder, InvalidInputError, load
from hourglass.exceptions import CallbackError


def test_python_estimators_are_quiet_by_default(unit_data, capsys):
    AutoEncoder(code_size=2, hidden_layers=(8,), epochs=2, random_state=0).fit(unit_data)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_n_iter_and_loss_curve_follow_the_history(make_ae, unit_data):
    ae = make_ae(epochs=4, patience=0).fit(unit_data)
    assert ae.n_iter_ == 4 and ae.loss_curve_ == ae.history_.train_loss and len(ae.loss_curve_) == 4


@pytest.mark.parametrize("wrap", ["dataset", "loader"])
def test_dense_fit_on_a_torch_dataset_matches_the_array(make_ae, unit_data, wrap):
    X = unit_data.astype(np.float32)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X))
    given = dataset if wrap == "dataset" else torch.utils.data.DataLoader(dataset, batch_size=7)
    from_dataset = make_ae().fit(given)
    from_array = make_ae().fit(X)
    assert from_dataset.n_features_in_ == X.shape[1]
    np.testing.assert_allclose(from_dataset.transform(X), from_array.transform(X), atol=1e-5)


def test_dense_fit_refuses_a_dataset_of_images(make_ae):
    images = torch.utils.data.TensorDataset(torch.rand(8, 1, 4, 4))
    with pytest.raises(InvalidInputError, match=r"items have shape \(1, 4, 4\); expected 1-D rows"):
        make_ae().fit(images)


def test_conv_fit_on_a_dataloader():
    X = torch.rand(16, 1, 8, 8)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X), batch_size=4)
    ae = ConvAutoEncoder(channels=(2,), epochs=1, random_state=0, device="cpu").fit(loader)
    assert ae.input_shape_ == (1, 8, 8)


def test_partial_fit_passes_keep_the_optimizer_and_lower_the_loss(make_ae, unit_data):
    # From random weights (pca_path=False): with the PCA path these two-factor rows start at
    # PCA's near-exact fit, and there is no half of the loss left to lose.
    ae = make_ae(noise=None, pca_path=False)
    for _ in range(15):
        ae.partial_fit(unit_data)
    assert ae.n_iter_ == 15
    assert ae.loss_curve_[-1] < 0.5 * ae.loss_curve_[0]
    # Adam's moments survive between calls: the step count is that of all passes.
    state = next(iter(ae._partial_trainer.optimizer.state.values()))
    assert int(state["step"]) == 15 * int(np.ceil(len(unit_data) / 16))


def test_partial_fit_with_another_width_changes_nothing(make_ae, unit_data):
    ae = make_ae().partial_fit(unit_data)
    before = {k: v.clone() for k, v in ae.module_.state_dict().items()}
    with pytest.raises(InvalidInputError, match="features"):
        ae.partial_fit(unit_data[:, :3])
    assert ae.n_iter_ == 1
    for name, value in ae.module_.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_partial_fit_continues_a_loaded_model(make_ae, unit_data, tmp_path):
    fitted = make_ae().fit(unit_data)
    fitted.save(tmp_path / "m")
    loaded = load(tmp_path / "m", device="cpu")
    weights = {k: v.clone() for k, v in loaded.module_.state_dict().items()}
    loaded.partial_fit(unit_data)
    assert loaded.n_iter_ == fitted.n_iter_ + 1
    changed = [k for k, v in loaded.module_.state_dict().items() if not torch.equal(v, weights[k])]
    assert changed  # trained on from the saved weights, not rebuilt
    assert loaded.scaler_.kind == fitted.scaler_.kind


def test_warm_start_continues_from_the_previous_weights(make_ae, unit_data):
    cold = make_ae(epochs=2, patience=0).fit(unit_data)
    warm = make_ae(epochs=2, patience=0, warm_start=True).fit(unit_data)
    module = warm.module_
    warm.fit(unit_data)
    assert warm.module_ is module  # the same module trained on
    assert warm.history_.train_loss[0] < cold.history_.train_loss[0]


def test_warm_start_adds_up_n_iter_and_the_loss_curve_as_mlp_does(make_ae, unit_data, tmp_path):
    # scikit-learn's MLP counts the epochs of every fit a warm start continued; they restarted.
    warm = make_ae(epochs=3, patience=0, warm_start=True).fit(unit_data)
    first = warm.loss_curve_
    warm.fit(unit_data)
    assert (warm.n_iter_, warm.n_epochs_) == (6, 3)
    assert warm.loss_curve_[:3] == first and len(warm.loss_curve_) == 6
    loaded = load(warm.save(tmp_path / "m"))
    assert loaded.n_iter_ == 6 and loaded.loss_curve_ == warm.loss_curve_
    cold = make_ae(epochs=3, patience=0).fit(unit_data)
    cold.fit(unit_data)
    assert cold.n_iter_ == 3  # without warm_start, a fit starts afresh


def test_warm_start_refuses_another_architecture(make_ae, unit_data):
    ae = make_ae(warm_start=True).fit(unit_data)
    with pytest.raises(InvalidInputError, match="warm_start=True"):
        ae.fit(unit_data[:, :4])


class StopAt:
    def __init__(self, epoch):
        self.epoch, self.seen = epoch, []

    def on_epoch_end(self, estimator, epoch, logs):
        self.seen.append((epoch, sorted(logs), len(estimator.history_.epoch)))
        return epoch >= self.epoch


def test_a_callback_sees_every_epoch_and_can_stop(make_ae, unit_data):
    stop = StopAt(2)
    ae = make_ae(epochs=5, patience=0, callbacks=[stop]).fit(unit_data)
    assert ae.n_iter_ == 2 and ae.history_.stopped_by_callback
    assert [e for e, _, _ in stop.seen] == [1, 2]
    assert {"train_loss", "val_loss", "learning_rate", "seconds"} <= set(stop.seen[0][1])
    assert stop.seen[1][2] == 2  # the live history is on the estimator


def test_a_callback_that_raises_stops_with_one_line_and_keeps_the_checkpoint(make_ae, unit_data, tmp_path):
    def broken(estimator, epoch, logs):
        if epoch == 2:
            raise KeyError("missing metric")

    ae = make_ae(epochs=4, patience=0, callbacks=[broken], checkpoint_dir=str(tmp_path))
    with pytest.raises(CallbackError, match=r"callback .*broken.on_epoch_end raised at epoch 2: KeyError"):
        ae.fit(unit_data)
    assert (tmp_path / "checkpoint.safetensors").exists()
    resumed = make_ae(epochs=4, patience=0, checkpoint_dir=str(tmp_path)).fit(unit_data, resume=True)
    assert resumed.history_.epoch == [1, 2, 3, 4]


def test_callbacks_must_have_on_epoch_end(make_ae, unit_data):
    with pytest.raises(InvalidInputError, match="expected objects with on_epoch_end"):
        make_ae(callbacks=[42]).fit(unit_data)
