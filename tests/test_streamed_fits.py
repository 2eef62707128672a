"""One fit whatever the input: an array in memory, a Dataset and a file streamed from disk train to
the same weights, for every model kind, those that draw random numbers as they train included."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from hourglass import AutoEncoder, VariationalAutoEncoder, VQAutoEncoder
from hourglass.data import sources

RUN = dict(epochs=2, random_state=0, device="cpu", threads=1, verbose=0)


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data[:400] / 16).astype(np.float32)


# Each draws from torch's global generator as it trains: dropout's masks, the VAE's
# reparameterization, the codebook's restarts. Starting a DataLoader drew from it first.
MODELS = {
    "dropout": lambda: AutoEncoder(code_size=4, hidden_layers=(16,), dropout=0.2, **RUN),
    "vae": lambda: VariationalAutoEncoder(code_size=4, hidden_layers=(16,), **RUN),
    "vq": lambda: VQAutoEncoder(channels=(8,), codebook_size=16, embedding_dim=4, **RUN),
}


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_a_dataset_and_a_streamed_file_train_to_the_arrays_weights(kind, digits, tmp_path, monkeypatch):
    X = digits.reshape(-1, 1, 8, 8) if kind == "vq" else digits
    in_memory = MODELS[kind]().fit(X)
    dataset = MODELS[kind]().fit(torch.utils.data.TensorDataset(torch.from_numpy(X)))
    np.save(tmp_path / "x.npy", X)
    monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 1024)  # stream the file, as one too large would be
    streamed = MODELS[kind]().fit(np.load(tmp_path / "x.npy", mmap_mode="r"))
    for other in (dataset, streamed):
        assert other.loss_curve_ == in_memory.loss_curve_
        np.testing.assert_array_equal(other.transform(X[:50]), in_memory.transform(X[:50]))
