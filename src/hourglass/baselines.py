"""PCA side by side with the autoencoder, on the same split and at the same code size."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from hourglass.estimator import AutoEncoder, BaseAutoEncoder
from hourglass.exceptions import InvalidInputError


def pca_reconstruction(X_train: np.ndarray, X_test: np.ndarray, code_size: int) -> tuple[PCA, np.ndarray]:
    """Fit PCA(code_size) on ``X_train``; return it and its reconstruction of ``X_test``."""
    pca = PCA(n_components=code_size, svd_solver="full").fit(X_train)
    return pca, pca.inverse_transform(pca.transform(X_test))


@dataclass
class Comparison:
    """The result of :func:`compare`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per code size: ``code_size, ae_mse, pca_mse, ratio, ae_seconds, pca_seconds,
        ae_epochs, loss``.
    models : dict
        The fitted autoencoders and PCAs by code size: ``{k: {'ae': ..., 'pca': ...}}``.
    X_train, X_test : ndarray
        The split every model was fitted and scored on.
    test_index : ndarray
        Rows of the input that form ``X_test`` (to pick their labels, say).
    """

    table: pd.DataFrame
    models: dict[int, dict[str, Any]] = field(default_factory=dict)
    X_train: np.ndarray | None = None
    X_test: np.ndarray | None = None
    test_index: np.ndarray | None = None


def compare(
    X: Any,
    code_sizes: list[int] | tuple[int, ...] = (2, 8, 16),
    estimator: BaseAutoEncoder | None = None,
    test_size: float = 0.2,
    random_state: int = 0,
    verbose: int = 0,
) -> Comparison:
    """Fit PCA and the autoencoder at each code size on one split; score both on held-out data.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data.
    code_sizes : list of int
        Code sizes to compare (each smaller than the number of features).
    estimator : AutoEncoder, optional
        The autoencoder to clone at each code size (its ``code_size`` is overridden);
        ``AutoEncoder(random_state=random_state)`` by default.
    test_size : float, default=0.2
        Share of the samples held out for scoring.
    random_state : int, default=0
        Seeds the split (and the default autoencoder).
    verbose : int, default=0
        Passed to the default autoencoder (1 shows progress bars).

    Returns
    -------
    Comparison
        ``.table`` holds held-out MSE (in the data's units), the AE/PCA ratio (below 1: the
        autoencoder wins) and fit seconds per code size.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> result = compare(load_digits().data / 16, code_sizes=[2, 8])  # doctest: +SKIP
    >>> result.table[["code_size", "ae_mse", "pca_mse", "ratio"]]        # doctest: +SKIP
    """
    from hourglass.data import validate_finite_2d

    X = validate_finite_2d(np.asarray(X) if not hasattr(X, "to_numpy") else X.to_numpy(), "X")
    sizes = [int(k) for k in code_sizes]
    if not sizes:
        raise InvalidInputError("code_sizes is empty; expected at least one code size")
    too_wide = [k for k in sizes if not 1 <= k < X.shape[1]]
    if too_wide:
        raise InvalidInputError(
            f"code sizes {too_wide} are not between 1 and the number of features minus one ({X.shape[1] - 1})"
        )
    if not 0.0 < test_size < 1.0:
        raise InvalidInputError(f"test_size={test_size} must lie in (0, 1)")
    train_index, test_index = train_test_split(
        np.arange(len(X)), test_size=test_size, random_state=random_state
    )
    X_train, X_test = X[train_index], X[test_index]
    base = estimator if estimator is not None else AutoEncoder(random_state=random_state, verbose=verbose)
    rows, models = [], {}
    for k in sizes:
        tic = time.perf_counter()
        pca, pca_rec = pca_reconstruction(X_train, X_test, k)
        pca_seconds = time.perf_counter() - tic
        ae = clone(base).set_params(code_size=k)
        tic = time.perf_counter()
        ae.fit(X_train)
        ae_seconds = time.perf_counter() - tic
        ae_mse = float(np.mean(ae.reconstruction_error(X_test)))
        pca_mse = float(np.mean((pca_rec - X_test) ** 2))
        rows.append(
            {
                "code_size": k,
                "ae_mse": ae_mse,
                "pca_mse": pca_mse,
                "ratio": ae_mse / pca_mse if pca_mse > 0 else float("nan"),
                "ae_seconds": ae_seconds,
                "pca_seconds": pca_seconds,
                "ae_epochs": ae.n_epochs_,
                "loss": ae.loss_,
            }
        )
        models[k] = {"ae": ae, "pca": pca}
    return Comparison(pd.DataFrame(rows), models, X_train, X_test, test_index)
