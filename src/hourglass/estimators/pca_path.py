"""Whether a dense autoencoder gets the PCA path (:mod:`hourglass.nn.pca_path`), and setting it.

``pca_path='auto'``, the default, adds it to a plain dense autoencoder trained on fewer than
:data:`SMALL_DATA_ROWS` rows, in any units: there a network from random weights rarely finds the
subspace PCA computes exactly, and started at PCA's solution it learns only the non-linear
correction, with ``hidden_layers='auto'`` in narrower layers (:data:`SMALL_DATA_HIDDEN`). Held-out
error as a share of PCA's, mean of three splits (30 % held out), without and with the path (both
with 256-128 layers): linnerud's 20 rows at code 2 3.22x / 0.79x, iris's 30 4.32x / 2.26x, wine's
40 at code 5 1.58x / 1.12x, diabetes's 50 1.51x / 1.06x, breast cancer's 90 1.34x / 1.04x; 19 such
cases of 20-90 rows, geometric mean 1.22x / 0.99x. It cost on non-linear data (a swiss roll in 30
dimensions, 40 rows: 0.56x / 0.71x), which the path still leaves well below PCA. From 100 rows on
it stays off: on standardized tables the start measured worse than random weights (``python -m
benchmarks suite``, wine 0.79x / 0.82x at codes 2 / 5 without it, 0.89x / 0.96x with it; diabetes
at code 5 0.82x / 0.92x), and on pixels, where it lowers the error in less time, its codes are
nearer PCA's and clustered worse (Fashion-MNIST NMI 0.643-0.655 against 0.672): ``pca_path=True``
asks for it there. Choosing by the validation rows instead (train both, keep the better) measured
1.06x on the 19 small cases: a few held-out rows pick the wrong one.

A time budget that cuts the run hard changes that: where ``max_time`` is estimated to hold less
than a quarter of the planned steps, half for data in [0, 1] such as pixels
(:mod:`hourglass.estimators.pca_budget`, which times three steps of the plain network first),
'auto' adds the path on any number of rows, in the usual layers. Held-out error as a share of the
plain run's at ``max_time=1`` (``hourglass.compare``, split 0; 29-48 of 240-300 epochs): swiss
roll 0.35x / 0.68x at codes 2 / 4, S-curve 0.53x / 0.96x, digits' raw pixels 0.92x / 0.93x / 1.04x
at 2 / 8 / 16, digits / 16 0.79x / 0.69x / 0.40x (plain, k=16 was 1.25x PCA's error, with the path
0.50x); with ``max_time=2`` on digits / 16, three seeds, 0.53-0.73x PCA's against 0.52-0.54x at
k=2, 0.49-0.59x against 0.42-0.44x at k=16. Where the run nearly fitted the budget it cost (iris
1.21x at 239 of 239 epochs, wine 1.10x / 1.16x at 226-233) and at 37-40 % of the plan it was mixed
(breast cancer 1.03x / 0.98x, diabetes 0.94x / 1.15x). Before and after this rule, alternating in
one process on a loaded core (1 s held 1-13 % of the cap): geometric mean 0.55x the error over the
suite's 17 sets and codes at ``max_time=1`` (13 better by more than 3 %, none worse), 0.64x at 3
(13 better, 3 worse: tables within their run-to-run spread of about 10 %).

It stays off where PCA's solution is not the code or output asked for: a sparse, TopK or
contractive code, binary cross-entropy (a sigmoid output), pretrained parts, layer-wise
pretraining, or fewer training rows than code units plus one (PCA has no more directions to
give); for ``partial_fit``, whose first chunk says nothing of the stream's size; and a
``warm_start`` fit keeps the choice of the fit it continues.
"""

from __future__ import annotations

from collections.abc import Callable
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
#: 'auto' adds the path below this many training rows.
SMALL_DATA_ROWS = 100
#: ... and there, with ``hidden_layers='auto'``, the encoder's layers (the decoder mirrors them):
#: the correction to PCA that a few dozen rows can teach needs fewer units than 256-128 give.
#: Held-out error as a share of PCA's, geometric mean over 5 draws each: on iris, wine, diabetes
#: and breast cancer at 20, 50, 80 and 100 rows (code 2), 1.09x with 256-128 against 1.05x
#: (iris's 20 rows 1.42x -> 1.20x, its 50 1.22x -> 1.08x, wine's 80 0.97x -> 0.92x); over 38
#: cases with the swiss roll, the S-curve and codes of 4 and 5, 0.980x -> 0.947x, 17 better by
#: more than 3 % and 5 worse (the swiss roll, whose strong curl a wider net follows: 40 rows
#: 0.39x -> 0.43x, 80 rows 0.21x -> 0.23x). 32-16 gained more on the tables (1.03x) but lost
#: more on the swiss roll (0.47x, 0.32x). Digits' and Fashion-MNIST's pixels at 40 and 90 rows
#: gained or tied (digits, 90 rows, code 8: 0.91x -> 0.87x). ``python -m benchmarks small_tables``
#: reruns the comparison (34 cases: 0.844x against 0.866x, 15 better, 5 worse).
SMALL_DATA_HIDDEN = (64, 32)
STARTS_AT_PCA = ": the network starts at PCA's solution and learns the non-linear correction"
#: Words in every reason a time budget gave (:mod:`hourglass.estimators.pca_budget`).
BUDGET_WORDS = "time budget"
KEPT = "auto: kept from the fit this one continues (warm_start)"


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


def resolve(
    est: Any,
    n_train: int,
    partial: bool = False,
    continues: bool = False,
    budget_rule: Callable[[], tuple[bool, str] | None] | None = None,
) -> None:
    """Settle ``est.pca_path_`` and its reason, and put it in ``est.architecture_``.

    Only a dense autoencoder's own ``pca_path`` parameter counts; other estimators keep their
    architecture. Raises InvalidInputError for a value other than True, False or 'auto', and
    for True where the path cannot go (the reason named). ``partial``: the first chunk of
    ``partial_fit``, whose rows say nothing of how many the stream holds ('auto' leaves the path
    off). ``continues``: a fit that continues the previous one (``warm_start``), which keeps
    that fit's choice under 'auto', as it keeps its weights. ``budget_rule``: asked under 'auto'
    where the rows alone leave the path off (100 rows or more, nothing against it) for the time
    budget's choice (:func:`hourglass.estimators.pca_budget.budget_rule`), None to keep it off.
    """
    if not hasattr(est, "pca_path") or type(est.architecture_) is not DenseConfig:
        return
    wanted = est.pca_path
    if not (wanted is True or wanted is False or wanted == "auto"):
        raise InvalidInputError(f"pca_path={wanted!r}; expected True, False or 'auto'")
    conflict = _conflict(est, n_train)
    if wanted is True and conflict is not None:
        raise InvalidInputError(f"pca_path=True does not go with {conflict}; use pca_path='auto' or False")
    kept = wanted == "auto" and continues and conflict is None and hasattr(est, "pca_path_")
    budget_given = False
    if kept:
        on, reason = est.pca_path_, _kept_reason(est.pca_path_reason_)
        budget_given = BUDGET_WORDS in reason
    else:
        on, reason = _decide(wanted, conflict, n_train, partial)
        rows_only = wanted == "auto" and conflict is None and not partial and n_train >= SMALL_DATA_ROWS
        if rows_only and budget_rule is not None:
            on, reason = budget_rule() or (on, reason)
            budget_given = on
    # The small-data layers go with the path 'auto' adds for few rows (a kept one included, so
    # that a warm start builds the network it continues); a path asked for, or one a time budget
    # gave a larger set, keeps the usual layers.
    auto_layers = isinstance(est.hidden_layers, str) and est.hidden_layers == "auto"  # not an array
    narrow = on and wanted == "auto" and auto_layers and est.decoder_layers is None and not budget_given
    if narrow and not kept:
        reason += ", in layers of " + "-".join(map(str, SMALL_DATA_HIDDEN))
    est.pca_path_, est.pca_path_reason_ = on, reason
    if on:
        est.architecture_ = replace(est.architecture_, pca_encoder=True, pca_decoder=True)
    if narrow:
        est.architecture_ = replace(est.architecture_, hidden_layers=SMALL_DATA_HIDDEN)


def _kept_reason(previous: str) -> str:
    """The reason of a choice a warm start keeps; one a time budget made says so (and keeps saying
    so over further warm starts), since it keeps the usual layers."""
    if previous.startswith(KEPT):
        return previous
    if BUDGET_WORDS in previous and not previous.startswith("auto: off"):
        return f"{KEPT}, where {previous.removeprefix('auto: ')}"
    return KEPT


def _decide(wanted: bool | str, conflict: str | None, n_train: int, partial: bool) -> tuple[bool, str]:
    """Whether a fresh fit gets the path, and why: the user's True or False, or 'auto'."""
    if wanted is False:
        return False, "off: set by the user"
    if wanted is True:
        return True, "set by the user" + STARTS_AT_PCA
    if conflict is None and partial:
        conflict = "partial_fit: its first chunk does not tell how many rows the stream holds"
    if conflict is None and n_train >= SMALL_DATA_ROWS:
        # A preference of 'auto', not a conflict: pca_path=True takes any number of rows.
        conflict = (
            f"{n_train} training rows, {SMALL_DATA_ROWS} or more, where random weights measured as well "
            "or better"
        )
    if conflict is not None:
        return False, f"auto: off, {conflict}"
    return True, f"auto: {n_train} training rows, fewer than {SMALL_DATA_ROWS}" + STARTS_AT_PCA


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
    # Rows that are all one row have no variance: scikit-learn's explained-variance share then
    # divides 0 by 0 and numpy warns; the directions are arbitrary and the path starts at the mean.
    with np.errstate(invalid="ignore", divide="ignore"):
        pca = PCA(n_components=est.architecture_.code_size, random_state=est.seed_).fit(rows)
    components = torch.from_numpy(np.ascontiguousarray(pca.components_, dtype=np.float32))
    mean = torch.from_numpy(np.ascontiguousarray(pca.mean_, dtype=np.float32))
    set_pca_path(est.module_.encoder, components, mean, "encoder")
    set_pca_path(est.module_.decoder, components, mean, "decoder")


__all__ = ["MAX_PCA_ROWS", "fit", "resolve"]
