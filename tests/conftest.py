"""Tiny data, tiny models and seeds shared by the tests.

Everything here is small enough that a fit takes well under a second on a loaded CPU; tests
that need real quality (digits against PCA) say so and carry the ``slow`` marker where needed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hourglass import AutoEncoder

# Every tensor in these tests is tiny: with the CPU shared by other jobs, a second intra-op
# thread only adds synchronisation (a 3-epoch fit goes from ~1 s to ~0.05 s with one thread).
torch.set_num_threads(1)

#: Settings for an autoencoder that trains in a blink: use ``make_ae(**overrides)``.
TINY = {
    "code_size": 2,
    "hidden_layers": (16,),
    "epochs": 3,
    "batch_size": 16,
    "verbose": 0,
    "random_state": 0,
    "device": "cpu",
}


@pytest.fixture(autouse=True)
def _seed_everything():
    """Seed the global RNGs, so a test never depends on the order tests run in."""
    np.random.seed(0)  # noqa: NPY002 (the legacy global RNG is what unseeded library code draws from)
    torch.manual_seed(0)


@pytest.fixture
def make_ae():
    """Factory of tiny :class:`hourglass.AutoEncoder` estimators (keyword overrides allowed)."""

    def factory(**overrides) -> AutoEncoder:
        return AutoEncoder(**{**TINY, **overrides})

    return factory


@pytest.fixture(scope="session")
def unit_data() -> np.ndarray:
    """(64, 6) float64 values in [0, 1] with some structure (two latent factors)."""
    rng = np.random.default_rng(0)
    latent = rng.uniform(size=(64, 2))
    mixing = rng.uniform(size=(2, 6))
    return np.clip(latent @ mixing / 2 + rng.normal(scale=0.02, size=(64, 6)), 0.0, 1.0)


@pytest.fixture(scope="session")
def real_data() -> np.ndarray:
    """(64, 6) float64 values far from [0, 1]: mean about 1000, spread about 10."""
    rng = np.random.default_rng(1)
    latent = rng.normal(size=(64, 2))
    return 1000.0 + 10.0 * latent @ rng.normal(size=(2, 6)) + rng.normal(scale=0.5, size=(64, 6))


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits scaled to [0, 1] (float64) and their labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data / 16.0, bunch.target


@pytest.fixture(scope="session")
def fitted_ae(unit_data) -> AutoEncoder:
    """A tiny autoencoder fitted on ``unit_data``; tests must not modify it."""
    return AutoEncoder(**TINY).fit(unit_data)


def pytest_collection_modifyitems(config, items):
    """Skip the ``cuda`` checks where there is no GPU: they test CUDA itself, not a fallback."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (an NVIDIA GPU)")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)
