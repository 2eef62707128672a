"""Model folders saved by an earlier hourglass load and predict as they did.

``tests/data/saved_models`` holds one small fitted model of each kind (plain, sparse, TopK,
convolutional, Gaussian dense and conv, quantized 'vq' and 'fsq', an anomaly detector), saved
by the code of commit 3558ede (before issue 24's renovation), with their outputs on fixed
inputs in ``expected.npz``. Refactors must keep both loading and predictions: never regenerate
these files unless the folder format changes on purpose (then bump ``FORMAT_VERSION`` and keep
reading the old one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hourglass
from hourglass import AnomalyDetector, AutoEncoder, ConvAutoEncoder, VariationalAutoEncoder, VQAutoEncoder

FOLDER = Path(__file__).parent / "data" / "saved_models"
FAST = dict(epochs=3, batch_size=32, random_state=0)
SMALL = dict(hidden_layers=(8,), **FAST)

#: name -> (estimator factory, input kind); the inputs are drawn again from a fixed seed.
MODELS = {
    "ae": (lambda: AutoEncoder(code_size=3, **SMALL), "rows"),
    "ae_topk": (lambda: AutoEncoder(code_size=8, topk=3, topk_aux_penalty=0.1, **SMALL), "rows"),
    "ae_kl": (lambda: AutoEncoder(code_size=6, kl_penalty=1e-2, **SMALL), "rows"),
    "conv": (lambda: ConvAutoEncoder(channels=(4, 4), **FAST), "grids"),
    "vae_dense": (lambda: VariationalAutoEncoder(code_size=3, **SMALL), "binary"),
    "vae_conv": (
        lambda: VariationalAutoEncoder(code_size=3, channels=(4, 4), loss="mse", scaling="standard", **FAST),
        "grids",
    ),
    "vq": (lambda: VQAutoEncoder(channels=(4, 4), codebook_size=16, **FAST), "grids"),
    "fsq": (lambda: VQAutoEncoder(channels=(4, 4), codebook_size=64, quantizer="fsq", **FAST), "grids"),
    "anomaly": (lambda: AnomalyDetector(code_size=3, hidden_layers=(8,), epochs=3, random_state=0), "rows"),
}


def inputs(kind: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    if kind == "grids":
        return rng.random((48, 1, 16, 16)).astype(np.float32)
    rows = rng.random((120, 16)).astype(np.float32)
    return (rows > 0.5).astype(np.float32) if kind == "binary" else rows


def outputs(model, X: np.ndarray) -> dict[str, np.ndarray]:
    """What a user reads from a fitted model, deterministic for a given model and input."""
    X = X[:8]  # a few items keep expected.npz small
    if isinstance(model, AnomalyDetector):
        return {"score": model.score_samples(X), "predict": model.predict(X), "recon": model.reconstruct(X)}
    out = {"code": model.transform(X), "recon": model.reconstruct(X), "score": model.score_samples(X)}
    out["decoded"] = model.inverse_transform(out["code"])
    if isinstance(model, VQAutoEncoder):
        out["indices"] = model.encode_indices(X)
        out["prior"] = model.index_prior()
    if isinstance(model, VariationalAutoEncoder):
        out["sample"] = model.sample(4, random_state=1)
    return out


@pytest.fixture(scope="module")
def expected():
    with np.load(FOLDER / "expected.npz") as data:
        return dict(data)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_saved_model_loads_and_predicts_as_saved(name, expected):
    model = hourglass.load(FOLDER / name)
    assert type(model) is type(MODELS[name][0]())
    got = outputs(model, inputs(MODELS[name][1]))
    keys = {k.split(".", 1)[1] for k in expected if k.startswith(f"{name}.")}
    assert keys == set(got)
    for key, value in got.items():
        np.testing.assert_allclose(value, expected[f"{name}.{key}"], rtol=1e-5, atol=1e-6, err_msg=key)
