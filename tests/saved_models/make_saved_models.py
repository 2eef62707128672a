"""Write the model folders that ``tests/test_old_model_folders.py`` loads, with the code that pins them.

Run it with the checkout whose saved format the folders should hold (they were written by
``main`` at 3558ede, before the registry of kinds, so that loading them proves old folders still
load)::

    PYTHONPATH=<checkout>/src python tests/saved_models/make_saved_models.py

Each folder sits beside ``<kind>.npz``: the input it was scored on and what ``transform`` (or
``score_samples`` for the anomaly detector) gave then.
"""

import shutil
from pathlib import Path

import numpy as np

import hourglass

HERE = Path(__file__).parent
FAST = {"epochs": 1, "batch_size": 8, "random_state": 0, "verbose": 0, "device": "cpu"}


def models():
    rng = np.random.default_rng(0)
    rows = rng.random((40, 6)).astype(np.float32)
    images = rng.random((16, 1, 8, 8)).astype(np.float32)
    yield "dense", hourglass.AutoEncoder(code_size=2, hidden_layers=(4,), **FAST), rows
    yield "conv", hourglass.ConvAutoEncoder(channels=(4,), **FAST), images
    yield (
        "vq",
        hourglass.VQAutoEncoder(channels=(4,), codebook_size=8, embedding_dim=2, **FAST),
        images,
    )
    yield "vae", hourglass.VariationalAutoEncoder(code_size=2, hidden_layers=(4,), **FAST), rows
    yield (
        "anomaly",
        hourglass.AnomalyDetector(hourglass.AutoEncoder(code_size=2, hidden_layers=(4,), **FAST)),
        rows,
    )


def main() -> None:
    for kind, model, X in models():
        model.fit(X)
        folder = HERE / kind
        shutil.rmtree(folder, ignore_errors=True)
        model.save(folder)
        output = model.score_samples(X) if kind == "anomaly" else model.transform(X)
        np.savez(HERE / f"{kind}.npz", X=X, output=output)
        print(kind, folder, np.asarray(output).shape)


if __name__ == "__main__":
    main()
