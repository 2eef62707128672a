import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hourglass.exceptions import InvalidInputError
from hourglass.train.losses import choose_loss, reconstruction_loss, total_loss


@pytest.mark.parametrize(
    "data, expected, reason",
    [
        # Data that fill [0, 1] name the interval once ("span [0, 1] within [0, 1]" said it twice).
        (np.array([[0.0, 0.5, 1.0]]), "mse", r"^auto: training values span \[0, 1\] but are not binary"),
        (np.array([[0.2, 0.5, 0.9]]), "mse", r"span \[0\.2, 0\.9\], inside \[0, 1\], but are not binary"),
        (np.array([[0.0, 1.0], [1.0, 0.0]]), "bce", r"0 or 1"),
        (np.array([[0.0, 1.5]]), "mse", r"outside \[0, 1\]"),
        (np.array([[-0.1, 0.5]]), "mse", r"outside \[0, 1\]"),
        (np.array([[1000.0, 2000.0]]), "mse", r"outside \[0, 1\]"),
    ],
)
def test_choose_loss_auto_picks_bce_only_for_binary_data(data, expected, reason):
    loss, why = choose_loss("auto", data)
    assert loss == expected
    assert why.startswith("auto")
    assert len(why.splitlines()) == 1
    assert re.search(reason, why)


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_choose_loss_keeps_the_users_choice(loss):
    assert choose_loss(loss, np.array([[0.0, 1.0]])) == (loss, "set by the user")


@pytest.mark.parametrize(
    "data, span", [(np.array([[0.0, 2.0]]), r"\[0, 2\]"), (np.array([[-3.0, 0.5]]), r"\[-3, 0.5\]")]
)
def test_choose_loss_bce_outside_unit_interval_names_the_range(data, span):
    with pytest.raises(InvalidInputError, match=rf"loss='bce'.*\[0, 1\].*{span}"):
        choose_loss("bce", data)


def test_choose_loss_rejects_unknown_loss():
    with pytest.raises(InvalidInputError, match="loss='huber'"):
        choose_loss("huber", np.zeros((2, 2)))


def test_reconstruction_loss_bce_uses_logits():
    logits = torch.tensor([[30.0, -30.0]])  # the sigmoid saturates to exactly 1 and 0 in float32
    outputs = {"logits": logits, "reconstruction": torch.sigmoid(logits)}
    target = torch.tensor([[0.0, 1.0]])
    loss = reconstruction_loss(outputs, target, "bce")
    assert torch.isfinite(loss)
    assert torch.allclose(loss, F.binary_cross_entropy_with_logits(logits, target))


def test_reconstruction_loss_mse_uses_reconstruction():
    outputs = {"logits": torch.zeros(1, 2), "reconstruction": torch.tensor([[1.0, 3.0]])}
    assert float(reconstruction_loss(outputs, torch.zeros(1, 2), "mse")) == pytest.approx(5.0)


def test_total_loss_sums_named_terms():
    class Penalty:
        name = "penalty"

        def __call__(self, model, inputs, outputs):
            return torch.tensor(0.25)

    outputs = {
        "logits": torch.zeros(1, 2),
        "reconstruction": torch.ones(1, 2),
        "aux": {"extra_loss": torch.tensor(1.0)},
    }
    parts = total_loss(None, torch.zeros(1, 2), torch.zeros(1, 2), outputs, "mse", [Penalty()])
    assert set(parts) == {"reconstruction", "penalty", "extra_loss", "loss"}
    assert float(parts["loss"]) == pytest.approx(1.0 + 0.25 + 1.0)


# -- the loss inside the estimator -------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture, expected, output",
    [("unit_data", "mse", "clip"), ("real_data", "mse", "identity"), ("binary_data", "bce", "sigmoid")],
)
def test_estimator_auto_loss_is_recorded_with_its_reason(make_ae, request, fixture, expected, output):
    ae = make_ae().fit(request.getfixturevalue(fixture))
    assert ae.loss_ == expected
    assert ae.loss_reason_.startswith("auto")
    assert ae.architecture_.output_activation == output


def test_estimator_auto_loss_sees_the_scaled_data(make_ae, real_data):
    ae = make_ae(scaling="minmax").fit(real_data)
    assert ae.architecture_.output_activation == "clip"


def test_clip_output_keeps_reconstructions_in_the_unit_interval_only_in_use(make_ae, unit_data):
    ae = make_ae().fit(unit_data)
    far = np.full((3, unit_data.shape[1]), 5.0)
    assert ae.reconstruct(far).max() <= 1.0 and ae.inverse_transform(np.full((2, 2), 50.0)).min() >= 0.0
    ae.module_.train()
    raw = ae.module_(torch.full((3, unit_data.shape[1]), 5.0))["reconstruction"]
    assert not bool(((raw >= 0) & (raw <= 1)).all())  # training sees the unclamped output
    ae.module_.eval()


@pytest.fixture
def binary_data(unit_data):
    return (unit_data > 0.3).astype(float)


def test_estimator_bce_on_data_outside_unit_interval_raises_naming_the_range(make_ae, real_data):
    with pytest.raises(InvalidInputError, match=r"loss='bce'.*\[0, 1\].*\[9\d\d"):
        make_ae(loss="bce", scaling="none").fit(real_data)
