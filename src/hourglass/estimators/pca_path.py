"""Whether a dense autoencoder gets the PCA path (:mod:`hourglass.nn.pca_path`), and setting it.

``pca_path='auto'`` adds it to a plain dense autoencoder trained on squared error on values in
[0, 1] (pixel intensities, shares): there the network starts at PCA's solution and learns the
non-linear correction. It stays off where PCA's solution is not the code or output asked for: a
sparse, TopK or contractive code, binary cross-entropy (a sigmoid output), pretrained parts,
layer-wise pretraining, or fewer training rows than code units plus one (PCA has no more
directions to give). And it stays off for standardized data (any table with values outside
[0, 1]), where the start measured worse than random weights (``python -m benchmarks suite``,
held-out error against PCA's: wine 0.79x / 0.82x at codes 2 / 5 without it, 0.89x / 0.96x with
it; diabetes at code 5 0.82x / 0.92x; digits' raw pixels, standardized, at code 16 0.34x /
0.44x), while on values in [0, 1] it won on every set measured (digits, Fashion-MNIST,
scikit-image's faces).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch
from sklearn.decomposition import PCA

from hourglass.data.sources import first_items
from hourglass.exceptions import InvalidInputError
from hourglass.nn.config import DenseConfig
from hourglass.nn.pca_path import set_pca_path

#: Training rows PCA's directions are computed from, at most (a random draw): 10,000 give
#: directions within a fraction of a percent of all 60,000 of Fashion-MNIST's, in 0.3 s.
MAX_PCA_ROWS = 10_000


def _conflict(est: Any, n_train: int) -> str | None:
    """Why the path cannot go with these parameters and data, or None."""
    if est.loss_ != "mse":
        return f"loss {est.loss_!r}: the output goes through a sigmoid, and PCA's reconstruction is no logit"
    for name in ("l1_penalty", "kl_penalty", "contractive_penalty"):
        if getattr(est, name, 0.0):
            return f"{name}={getattr(est, name)}: a regularized code is not PCA's"
    if getattr(est, "topk", None) is not None:
        return f"topk={est.topk}: a TopK code is not PCA's"
    for name in ("encoder", "decoder"):
        if getattr(est, name, None) is not None:
            return f"a pretrained {name} sets its own weights"
    if getattr(est, "pretrain", None) is not None:
        return f"pretrain={est.pretrain!r} sets the weights layer by layer"
    if n_train <= est.architecture_.code_size:
        return (
            f"{n_train} training row(s) give PCA fewer than code_size={est.architecture_.code_size} "
            "directions"
        )
    return None


def resolve(est: Any, n_train: int) -> None:
    """Settle ``est.pca_path_`` and its reason, and put it in ``est.architecture_``.

    Only a dense autoencoder's own ``pca_path`` parameter counts; other estimators keep their
    architecture. Raises InvalidInputError for a value other than True, False or 'auto', and
    for True where the path cannot go (the reason named).
    """
    if not hasattr(est, "pca_path") or type(est.architecture_) is not DenseConfig:
        return
    wanted = est.pca_path
    if not (wanted is True or wanted is False or wanted == "auto"):
        raise InvalidInputError(f"pca_path={wanted!r}; expected True, False or 'auto'")
    conflict = _conflict(est, n_train)
    if wanted is True and conflict is not None:
        raise InvalidInputError(f"pca_path=True does not go with {conflict}; use pca_path='auto' or False")
    lo, hi = est.data_range_
    if conflict is None and (lo < 0.0 or hi > 1.0):
        # A preference of 'auto', not a conflict: pca_path=True takes standardized data.
        conflict = f"the scaled training data span [{lo:.3g}, {hi:.3g}], not [0, 1] (standardized data)"
    on = wanted is True or (wanted == "auto" and conflict is None)
    if wanted is False:
        reason = "off: set by the user"
    elif on:
        reason = ("set by the user" if wanted is True else "auto") + (
            ": the network starts at PCA's solution and learns the non-linear correction"
        )
    else:
        reason = f"auto: off, {conflict}"
    est.pca_path_, est.pca_path_reason_ = on, reason
    if on:
        est.architecture_ = replace(est.architecture_, pca_encoder=True, pca_decoder=True)


def _sample(train: Any, seed: int) -> np.ndarray:
    """Up to :data:`MAX_PCA_ROWS` training rows (scaled), drawn at random from ``seed``."""
    n = len(train)
    if n <= MAX_PCA_ROWS:
        rows = train.materialize() if hasattr(train, "materialize") else first_items(train, n)
    else:
        picked = np.sort(np.random.default_rng(seed).choice(n, MAX_PCA_ROWS, replace=False))
        if hasattr(train, "__getitems__"):
            rows = train.__getitems__(picked.tolist())
        else:
            rows = first_items(train, MAX_PCA_ROWS)  # a stream without random access: its head
    # In float64: float32's rounding leaves directions of ~1e-8 on a constant column, whose tiny
    # error gradients Adam, scale-free, turns into full steps that move that column.
    return torch.as_tensor(rows).reshape(len(rows), -1).to("cpu", torch.float64).numpy()


def fit(est: Any, train: Any) -> None:
    """Set the module's PCA path from the training rows, when ``pca_path_`` says so."""
    if not getattr(est, "pca_path_", False):
        return
    rows = _sample(train, est.seed_)
    pca = PCA(n_components=est.architecture_.code_size, random_state=est.seed_).fit(rows)
    components = torch.from_numpy(np.ascontiguousarray(pca.components_, dtype=np.float32))
    mean = torch.from_numpy(np.ascontiguousarray(pca.mean_, dtype=np.float32))
    set_pca_path(est.module_.encoder, components, mean, "encoder")
    set_pca_path(est.module_.decoder, components, mean, "decoder")


__all__ = ["MAX_PCA_ROWS", "fit", "resolve"]
