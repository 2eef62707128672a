"""fit is all or nothing: whatever stops it (a callback, Ctrl-C, a collapse) leaves the estimator
unfitted, or, fitted before, exactly as it was."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from conftest import TINY
from helpers import interrupt_once_at
from hourglass import (
    AnomalyDetector,
    AutoEncoder,
    CallbackError,
    TrainingDivergedError,
    VariationalAutoEncoder,
    VQAutoEncoder,
)
from hourglass.train.trainer import Trainer

X = np.random.default_rng(0).random((48, 6))
IMAGES = np.random.default_rng(0).random((48, 1, 8, 8)).astype(np.float32)


def failing_callback(estimator, epoch, logs):
    if epoch == 2:
        raise ValueError("stop here")


def collapse(monkeypatch):
    """Training runs (and moves the weights), then gives up as the loop does after its restarts."""
    original = Trainer.fit

    def collapsing(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise TrainingDivergedError("training collapsed at epoch 3: the loss became NaN (simulated)")

    monkeypatch.setattr(Trainer, "fit", collapsing)


def make(kind, **overrides):
    if kind == "vq":
        settings = dict(channels=(4,), codebook_size=8, embedding_dim=2, epochs=3, verbose=0, random_state=0)
        return VQAutoEncoder(**settings, device="cpu", **overrides)
    cls = {"ae": AutoEncoder, "vae": VariationalAutoEncoder}[kind]
    return cls(**{**TINY, **overrides})


def data_for(kind):
    return IMAGES if kind == "vq" else X


STOPS = {
    "callback": (lambda mp: None, {"callbacks": [failing_callback]}, CallbackError),
    "ctrl-c": (lambda mp: interrupt_once_at(2, mp), {}, KeyboardInterrupt),
    "collapse": (collapse, {}, TrainingDivergedError),
}


@pytest.mark.parametrize("kind", ["ae", "vae", "vq"])
@pytest.mark.parametrize("stop", STOPS)
def test_a_fit_that_stops_leaves_the_estimator_unfitted(monkeypatch, kind, stop):
    arrange, params, error = STOPS[stop]
    estimator = make(kind, **params)
    arrange(monkeypatch)
    with pytest.raises(error):
        estimator.fit(data_for(kind))
    assert not [name for name in vars(estimator) if name.endswith("_") and not name.startswith("_")]
    with pytest.raises(NotFittedError):
        estimator.transform(data_for(kind))


@pytest.mark.parametrize("stop", STOPS)
def test_a_warm_start_fit_that_stops_leaves_the_previous_model(monkeypatch, stop):
    arrange, params, error = STOPS[stop]
    estimator = make("ae", warm_start=True).fit(X)
    before, attributes = estimator.transform(X), dict(vars(estimator))
    estimator.set_params(**params)
    arrange(monkeypatch)
    with pytest.raises(error):
        estimator.fit(X)
    np.testing.assert_array_equal(estimator.transform(X), before)
    assert vars(estimator).keys() == attributes.keys()
    assert all(vars(estimator)[k] is v for k, v in attributes.items() if k != "callbacks")


def test_a_detector_whose_fit_stops_is_unfitted(monkeypatch):
    detector = AnomalyDetector(code_size=2, epochs=3, verbose=0, random_state=0)
    interrupt_once_at(2, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        detector.fit(X)
    assert not hasattr(detector, "threshold_") and not hasattr(detector, "estimator_")
