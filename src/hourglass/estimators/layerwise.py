"""``pretrain='layerwise'`` before a dense fit, and what a resumed run keeps of it.

The layer pairs train before the run itself (:func:`hourglass.train.pretrained.layerwise_pretrain`)
and take a share of its time budget. A run resumed from its checkpoint starts from weights that
pretraining led to, so pretraining is not repeated: the checkpoint's history records its seconds
and its layer pairs' histories (under :data:`RECIPE_KEY` of the recipe), and the resumed run
counts those seconds against the budget again, as the interrupted run did. Repeated, it cost the
resumed run its time twice over, and its weights were thrown away at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from hourglass.data.sources import ScaledRows
from hourglass.exceptions import InvalidInputError, ModelFileError
from hourglass.runtime.devices import resolve_device
from hourglass.train import checkpoint, pretrained
from hourglass.train.config import TrainConfig
from hourglass.train.history import History

#: Where a run's recipe (saved with every checkpoint and model) records its pretraining.
RECIPE_KEY = "pretraining"


def pretrain(
    est: Any, train: Any, config: TrainConfig, make_trainer: Callable, resume: bool = False
) -> tuple[float, float]:
    """Pretrain ``est.module_`` layer by layer if ``est.pretrain`` asks; set ``pretrain_history_``.

    Returns
    -------
    counted : float
        The seconds pretraining took, which the time budget counts (those of the interrupted run
        when ``resume`` finds them in the checkpoint).
    taken : float
        The seconds it took in this call (0 when a resume skipped it).
    """
    kind = getattr(est, "pretrain", None)
    if kind is None:
        return 0.0, 0.0
    if kind != "layerwise":
        raise InvalidInputError(f"pretrain={kind!r}; expected None or 'layerwise'")
    if not isinstance(train, ScaledRows):
        raise InvalidInputError(
            "pretrain='layerwise' passes the whole training set through each layer, so it needs "
            "data in memory; this data is streamed from a file (load it with np.load to use it)"
        )
    saved = saved_pretraining(est.checkpoint_dir) if resume else None
    if saved is not None:
        seconds, histories = saved
        est.pretrain_history_ = histories
        return seconds, 0.0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(est.seed_)
        tic = time.perf_counter()
        est.pretrain_history_ = pretrained.layerwise_pretrain(
            est.module_,
            est.architecture_,
            train.to(resolve_device(est.device)).materialize(),
            config,
            est.loss_,
            regularizers=est._bottleneck().regularizers(est),
            corruption=est._corruption(),
            make_trainer=make_trainer,
        )
        seconds = time.perf_counter() - tic
    return seconds, seconds


def record(est: Any, history: History, seconds: float) -> None:
    """Write the pretraining of ``est`` (``seconds``, its pairs' histories) into ``history``'s
    recipe, so that the run's checkpoints carry it."""
    pairs = getattr(est, "pretrain_history_", None)
    if getattr(est, "pretrain", None) is None or pairs is None:
        return
    history.recipe[RECIPE_KEY] = {"seconds": float(seconds), "layers": [pair.to_dict() for pair in pairs]}


def saved_pretraining(directory: Any) -> tuple[float, list[History]] | None:
    """The pretraining the checkpoint in ``directory`` records: its seconds and its pairs'
    histories; None where it records none (a checkpoint of an earlier version), which
    pretrains again."""
    try:
        state = checkpoint.read_header(directory)["state"]
    except ModelFileError:
        return None  # the resume itself says what is wrong with the checkpoint
    history = state.get("history")
    recipe = history.get("recipe") if isinstance(history, dict) else None
    saved = recipe.get(RECIPE_KEY) if isinstance(recipe, dict) else None
    if not isinstance(saved, dict):
        return None
    seconds, layers = saved.get("seconds"), saved.get("layers")
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        return None
    if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
        return None
    try:
        return float(seconds), [History.from_dict(layer) for layer in layers]
    except TypeError:  # fields of another version
        return None
