"""Sparse-code metrics use the conventional definitions and reach the history and the report."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import r2_score

from hourglass import AutoEncoder, InvalidInputError
from hourglass.nn.config import DenseConfig
from hourglass.nn.model import build_model
from hourglass.report.html import Report
from hourglass.report.sections import add_model_sections
from hourglass.train.sparsity import (
    SparsityMonitor,
    activation_frequency,
    dead_fraction,
    explained_variance,
    l0,
    normalized_mse,
    sparse_code_metrics,
)

FAST = dict(hidden_layers=(16,), epochs=3, batch_size=32, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(1).random((120, 16)).astype(np.float32)


CODES = np.array([[0.0, 1.0, 0.0, 2.0], [0.0, 0.5, 0.0, 0.0], [0.0, 3.0, 0.0, 0.0]])


@pytest.mark.parametrize(
    "metric, expected",
    [
        (lambda: l0(CODES), 4 / 3),
        (lambda: activation_frequency(CODES).tolist(), [0.0, 1.0, 0.0, 1 / 3]),
        (lambda: dead_fraction(CODES), 0.5),
        (lambda: l0(CODES, threshold=0.9), 1.0),
    ],
)
def test_code_metric_values(metric, expected):
    assert metric() == pytest.approx(expected)


def test_explained_variance_is_one_minus_sse_over_sst_about_the_mean():
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, (50, 4))  # a non-zero mean: SST must be taken about it
    X_hat = X + rng.normal(0, 0.5, X.shape)
    sse, sst = ((X - X_hat) ** 2).sum(), ((X - X.mean(0)) ** 2).sum()
    assert normalized_mse(X, X_hat) == pytest.approx(sse / sst)
    assert explained_variance(X, X_hat) == pytest.approx(r2_score(X, X_hat, multioutput="variance_weighted"))


@pytest.mark.parametrize("X_hat, expected", [("mean", 1.0), ("same", 0.0)])
def test_normalized_mse_reference_points(X_hat, expected):
    X = np.random.default_rng(0).random((20, 3))
    pred = np.broadcast_to(X.mean(0), X.shape) if X_hat == "mean" else X
    assert normalized_mse(X, pred) == pytest.approx(expected, abs=1e-12)


def test_normalized_mse_rejects_shape_mismatch():
    with pytest.raises(InvalidInputError, match="shape"):
        normalized_mse(np.zeros((3, 2)), np.zeros((3, 4)))


def test_sparse_code_metrics_on_a_perfect_one_hot_code():
    X = np.eye(4)
    out = sparse_code_metrics(X, np.eye(4), X)
    assert out["l0"] == 1.0 and out["dead_fraction"] == 0.0 and out["explained_variance"] == 1.0


def test_monitor_dead_fraction_uses_a_window():
    torch.manual_seed(0)
    model = build_model(
        DenseConfig(input_dim=4, code_size=4, hidden_layers=(), code_activation="relu")
    ).eval()
    with torch.no_grad():
        model.encoder.code.weight.copy_(torch.eye(4))
        model.encoder.code.bias.zero_()
    monitor = SparsityMonitor(window=2)
    only_first = torch.zeros(5, 4)
    only_first[:, 0] = 1.0
    only_second = torch.zeros(5, 4)
    only_second[:, 1] = 1.0
    assert monitor(model, only_first)["dead_fraction"] == 0.75
    assert monitor(model, only_second)["dead_fraction"] == 0.5  # unit 0 fired within the window
    assert monitor(model, only_second)["dead_fraction"] == 0.75  # unit 0 now silent for 2 epochs


def test_monitor_falls_back_to_probe():
    model = build_model(DenseConfig(input_dim=4, code_size=3, hidden_layers=(), topk=2)).eval()
    assert SparsityMonitor(probe=torch.rand(6, 4))(model, None)["l0"] == 2.0
    assert SparsityMonitor()(model, None) == {}


@pytest.mark.parametrize("params", [{"topk": 3}, {"l1_penalty": 0.01}, {"kl_penalty": 0.1}])
def test_history_records_sparse_metrics(X, params):
    ae = AutoEncoder(code_size=8, **params, **FAST).fit(X)
    metrics = ae.history_.metrics
    assert {"l0", "dead_fraction", "normalized_mse", "explained_variance"} <= set(metrics)
    assert len(metrics["l0"]) == ae.n_epochs_


def test_history_has_no_sparse_metrics_without_a_guard(X):
    assert AutoEncoder(code_size=4, **FAST).fit(X).history_.metrics == {}


def test_report_shows_sparse_code_and_atoms(X):
    ae = AutoEncoder(code_size=24, topk=4, **FAST).fit(X)
    report = Report("t")
    add_model_sections(report, ae, X, image_shape=(4, 4))
    html = report.to_html()
    for text in ("Sparse code", "L0 (active units per sample)", "explained variance", "Dictionary atoms"):
        assert text in html


def test_report_adds_nothing_without_a_guard(X):
    report = Report("t")
    add_model_sections(report, AutoEncoder(code_size=4, **FAST).fit(X), X, image_shape=(4, 4))
    assert "Sparse code" not in report.to_html()
