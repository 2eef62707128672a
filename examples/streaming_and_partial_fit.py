"""Training from a file without loading it, and from chunks as they come.

Two ways to train on more data than memory holds:

1. ``fit`` on ``np.load(path, mmap_mode='r')``: a ``.npy`` memory map whose data exceed
   ``hourglass.data.sources.IN_MEMORY_BYTES`` (512 MiB as float32) is streamed from the file a
   batch at a time, with the same split, scaling, early stopping and Trainer as an array.
2. ``partial_fit(chunk)``: one pass over each chunk, keeping Adam's moments between calls, as
   scikit-learn's ``MLPRegressor.partial_fit`` does (no validation or early stopping: that is
   ``fit``'s job).

The data: scikit-learn's digits and their one-pixel shifts, 7,185 rows of 64 pixels, written
to a temporary ``.npy``; the threshold is lowered so that this small file streams as a large
one would.

Run: ``python examples/streaming_and_partial_fit.py`` (about 30 s on one core).
"""

import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

import hourglass
import hourglass.data.sources

images = load_digits().images / 16  # (1797, 8, 8), pixels in [0, 1]
train, test = train_test_split(images, test_size=0.2, random_state=0)
# More rows: each training digit moved one pixel left, right, up and down (np.roll wraps the
# border column or row, which is blank or nearly so in these digits).
shifted = [np.roll(train, shift, axis) for shift in (-1, 1) for axis in (1, 2)]
rows = np.concatenate([train, *shifted]).reshape(-1, 64).astype(np.float32)
test = test.reshape(-1, 64)

with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "digits.npy"
    np.save(path, rows)
    X = np.load(path, mmap_mode="r")  # a memory map: nothing is read yet
    print(f"{path.name}: {X.shape[0]} x {X.shape[1]} float32, {path.stat().st_size / 2**20:.1f} MiB")

    # For this demo only: stream anything over 1 MiB, as files over 512 MiB stream by default.
    hourglass.data.sources.IN_MEMORY_BYTES = 2**20
    streamed = hourglass.AutoEncoder(code_size=8, epochs=15, random_state=0).fit(X)
    print(f"fit on the memory map: {streamed.n_iter_} epochs in {streamed.fit_seconds_:.1f} s")

    # The same file in chunks of 1,000 rows, ten passes over it; a chunk is a slice of the
    # memory map, read when it is used. partial_fit has no end to fade the default input noise
    # toward, so it would train at full noise throughout: turned off here. Smaller batches give
    # more optimizer steps per chunk.
    chunked = hourglass.AutoEncoder(code_size=8, batch_size=64, noise=None, random_state=0)
    for _ in range(10):
        for start in range(0, len(X), 1000):
            chunked.partial_fit(X[start : start + 1000])
    curve = chunked.loss_curve_  # the training loss after every call
    print(f"partial_fit: {chunked.n_iter_} chunks, loss {curve[0]:.4f} -> {curve[-1]:.4f}")

    pca = PCA(8).fit(X)
    pca_mse = np.mean((pca.inverse_transform(pca.transform(test)) - test) ** 2)
    print("held-out MSE at code size 8 (digits never trained on):")
    print(f"  fit, streamed      {-streamed.score(test):.4f}")
    print(f"  partial_fit        {-chunked.score(test):.4f}")
    print(f"  PCA                {pca_mse:.4f}")
