"""The steps of a training run, shared by every estimator's ``fit`` and ``partial_fit``.

:meth:`~hourglass.estimators.base.BaseAutoEncoder.fit` reads as the recipe and calls these in
order: seed and fingerprint the run (:func:`start_run`), split off validation items (:func:`split`),
build the module from the seed alone (:func:`build_module`) or continue a warm start
(:func:`warm_state`, :func:`continue_from`), prepare it (:func:`prepare_module`), resolve the
:class:`~hourglass.train.config.TrainConfig` (:func:`train_config`, :func:`main_config`) and train
with the one Trainer factory (:func:`make_trainer`); then judge the fit on the validation items
(:func:`validation_mse`). ``partial_fit`` starts with :func:`start_partial` and trains on with
:func:`incremental_trainer`. Each step takes the estimator and reads or sets its attributes.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import os
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from hourglass.data.duplicates import repeats_note, split_rows
from hourglass.data.sources import TrainingSource, first_items
from hourglass.estimators import layerwise, parts, pca_path
from hourglass.estimators.columns import remember_table
from hourglass.estimators.constraints import check_choices
from hourglass.estimators.predicting import PREDICT_BATCH, reconstruction, run_batches
from hourglass.estimators.saved_params import json_params
from hourglass.exceptions import CallbackError, InvalidInputError, TimeBudgetWarning
from hourglass.nn.model import build_model
from hourglass.runtime import distributed
from hourglass.runtime.devices import resolve_device
from hourglass.runtime.seeds import as_seed
from hourglass.train import checkpoint, pretrained
from hourglass.train.budget import duration_words, parse_duration
from hourglass.train.config import TrainConfig
from hourglass.train.tasks import task_of
from hourglass.train.trainer import Trainer

#: ``epochs='auto'``: at most about this many optimizer steps, within these bounds on the epochs
#: (digits: 300, Fashion-MNIST: 57). A cap, not a plan: the run ends once learning stalls and
#: its rate has decayed (:mod:`hourglass.train.schedule`), mostly well before. Fashion-MNIST's
#: 60,000 images are the set a cap binds (one core, bf16, 512-256 layers): 12,000 steps gave
#: 0.487x PCA-30 in 89 s (134 s on a slower day), 15,000 0.479x in 121 s, 20,000 0.472x in
#: 152 s. Sets under about 10,000 rows reach the 300-epoch bound first and do not feel it.
AUTO_STEPS = 12_000
#: Values per block of the validation pass after training (16 MB in float64).
VALIDATION_BLOCK_VALUES = 1 << 21
AUTO_EPOCHS = (30, 300)


# -- resolving the parameters ----------------------------------------------------------------
def resolved_learning_rate(est: Any) -> tuple[float, str]:
    """The learning rate the run uses, and the rule that gave it ('auto', default or user's)."""
    if isinstance(est.learning_rate, str):
        if est.learning_rate != "auto":
            raise InvalidInputError(
                f"learning_rate={est.learning_rate!r}; expected 'auto' or a positive number"
            )
        return est._input().auto_learning_rate(est)
    default = inspect.signature(type(est).__init__).parameters["learning_rate"].default
    # A number can be the estimator's own default (the conv recipe's): say which.
    rule = "the default" if est.learning_rate == default else "set by the user"
    return float(est.learning_rate), rule


def resolved_epochs(est: Any, n_train: int) -> int:
    """``epochs``, or for ``'auto'`` enough epochs for about ``AUTO_STEPS`` optimizer steps."""
    if isinstance(est.epochs, str):
        if est.epochs != "auto":
            raise InvalidInputError(f"epochs={est.epochs!r}; expected 'auto' or a positive integer")
        steps_per_epoch = math.ceil(max(1, n_train) / max(1, int(est.batch_size)))
        return int(min(AUTO_EPOCHS[1], max(AUTO_EPOCHS[0], math.ceil(AUTO_STEPS / steps_per_epoch))))
    return est.epochs


def train_config(est: Any, n_train: int) -> TrainConfig:
    """The run's :class:`TrainConfig`; sets ``learning_rate_``, its reason and ``epochs_``."""
    est.learning_rate_, est.learning_rate_reason_ = resolved_learning_rate(est)
    est.epochs_ = resolved_epochs(est, n_train)
    return TrainConfig(
        epochs=est.epochs_,
        batch_size=est.batch_size,
        learning_rate=est.learning_rate_,
        weight_decay=est.weight_decay,
        patience=est.patience,
        seed=est.seed_,
        device=est.device,
        precision=est.precision,
        verbose=est.verbose,
        noise_schedule=getattr(est, "noise_schedule", "constant"),
        compile=bool(getattr(est, "compile", False)),
        adaptive=est.epochs == "auto",
        max_time=parse_duration(getattr(est, "max_time", None)),
        threads=getattr(est, "threads", "auto"),
    )


def main_config(est: Any, n_train: int, workers: int, spent: float = 0.0, setup: float = 0.0) -> TrainConfig:
    """:func:`train_config` for the run itself, with ``workers``; a time budget less the ``spent``
    seconds of layer-wise pretraining (:data:`~hourglass.train.pretrained.PRETRAIN_SHARE` of it)
    and the ``setup`` seconds the fit took before (reading, splitting, scaling, PCA)."""
    config = replace(train_config(est, n_train), workers=workers)
    if config.max_time is not None and (spent or setup):
        # The run plans over what is left; its messages and recipe state the user's budget.
        # A share of the budget, not 1 ms: a budget under 1 ms left pretraining a negative share.
        left = max(config.max_time - spent - setup, config.max_time * 1e-3)
        spent = min(spent, config.max_time - left)  # set-up and pretraining's shares, in order
        setup = config.max_time - left - spent
        config = replace(config, max_time=left, pretrain_seconds=spent, setup_seconds=setup)
    return config


def loader_workers(source: TrainingSource) -> int:
    """DataLoader workers: where reading is the bottleneck (photos to decode), all but one core."""
    return max(0, min(4, (os.cpu_count() or 1) - 1)) if source.slow_reads else 0


# -- the run's identity and its data ---------------------------------------------------------
def start_run(est: Any, source: TrainingSource, resume: bool) -> dict[str, Any]:
    """Set ``seed_`` and ``training_data_fingerprint_``, return the run's fingerprint (checkpoint.py).

    When resuming, the checkpoint must be of this very run (data, parameters, seed): that is
    checked here, before any scaling, building or training. A run with ``random_state=None``
    resumes with the seed its checkpoint recorded.
    """
    directory = getattr(est, "checkpoint_dir", None)
    if resume and directory is None:
        raise InvalidInputError("resume=True needs checkpoint_dir, the folder of the checkpoint")
    seed = checkpoint.saved_seed(directory) if resume and est.random_state is None else None
    est.seed_ = as_seed(est.random_state) if seed is None else seed
    if distributed.launched():
        distributed.setup(resolve_device(est.device))
        # random_state=None draws a seed in each process: all take rank 0's, so that they split,
        # initialize, shuffle and add noise alike (each drew its own batches before).
        est.seed_ = distributed.gather(est.seed_)[0]
    params = json_params(est)  # a RandomState as the seed drawn from it, which the seed check compares
    # Every kind of source hashes its items by one rule: the same data, the same fingerprint.
    run = checkpoint.run_fingerprint(checkpoint.source_fingerprint(source), params, est.seed_)
    # Kept, at no cost: calibrating a detector on these very rows is warned of (seen_rows.py).
    est.training_data_fingerprint_ = run["data"]
    checkpoint.check_same_run(run)  # under torchrun: every process given the same data and settings
    if resume:
        checkpoint.check_run(directory, run)
    return run


def split_source(est: Any, source: TrainingSource) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """:func:`split` of ``source``'s items, identical ones kept on one side, and the recipe's
    entries on it: the validation items' number, and a word on repeated items where there are any."""
    groups = source.duplicate_groups()
    train, val = split(est, len(source), groups)
    # Kept (not saved) so that a report on the data just fitted scores the training rows alone.
    est._split_items = (len(source), train)
    note: dict[str, Any] = {}
    if len(val):
        note["validation_rows"] = int(len(val))
        repeats = repeats_note(groups, "items", "the validation split")
        if repeats:
            note["repeated_rows"] = repeats
    return train, val, note


def split(est: Any, n: int, groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices of ``n`` items (``validation_fraction``, drawn from ``seed_``).

    ``groups`` (:func:`~hourglass.data.duplicates.duplicate_groups`) keeps identical items on
    one side, so that the validation error is not that of rows the model trained on.
    """
    fraction = est.validation_fraction
    if not 0.0 <= fraction < 1.0:
        raise InvalidInputError(f"validation_fraction={fraction} must lie in [0, 1)")
    n_val = int(round(n * fraction))
    if n_val == 0 or n - n_val < 1:
        if fraction > 0:  # asked for, but too few items to give one
            warnings.warn(
                f"{n} sample(s) leave no validation split at validation_fraction={fraction}: the fit "
                "reports no held-out error and early stopping watches the training loss; give at "
                f"least {_fewest_for_split(fraction)} samples for one held-out",
                UserWarning,
                stacklevel=4,
            )
        return np.arange(n), np.arange(0)
    return split_rows(n, n_val, np.random.default_rng(est.seed_), groups)


def _fewest_for_split(fraction: float) -> int:
    """The fewest items :func:`split` holds one of out at ``fraction`` (which rounds half to even)."""
    n = max(2, math.ceil(0.5 / fraction))
    while int(round(n * fraction)) < 1 or n - int(round(n * fraction)) < 1:
        n += 1
    return n


#: A restoration task's headline is scored on up to this many validation items
#: (:data:`~hourglass.train.restoration.SCORED_IMAGES`), within :data:`HELD_OUT_VALUES` values.
HELD_OUT_ITEMS = 64
HELD_OUT_VALUES = 1 << 21


def keep_report_samples(est: Any, train: Any, val: Any) -> None:
    """A few training items, and validation items, in the data's units, for reports.

    A restoration task's headline must be judged on held-out data, hence the second: 16 items,
    or for a restoration task up to :data:`HELD_OUT_ITEMS` (within :data:`HELD_OUT_VALUES`).
    """
    scale, offset = est.scaler_.scale, est.scaler_.offset
    est._report_sample = first_items(train, 16).numpy() * scale + offset
    held = 16
    if task_of(est).restoration:
        values = max(1, math.prod(first_items(train, 1).shape[1:]))
        held = max(held, min(HELD_OUT_ITEMS, HELD_OUT_VALUES // values))
    est._report_held_out = None if val is None else first_items(val, held).numpy() * scale + offset


def training_sample(est: Any) -> np.ndarray | None:
    """A few training items in the data's units, for reports (None before a fit)."""
    return getattr(est, "_report_sample", None)


def training_rows(est: Any, X: Any) -> np.ndarray | None:
    """The indices of ``X``'s training items, when ``X`` is the data the model's last ``fit`` split.

    That is, ``X`` has as many items as that fit's data and its first training items are those
    the model kept for reports (:func:`training_sample`). None otherwise: other data, a sample of
    it, a model loaded from a folder (which keeps no split) or fitted by ``partial_fit`` alone.

    Examples
    --------
    >>> ae = AutoEncoder(epochs=1).fit(X)  # doctest: +SKIP
    >>> X[training_rows(ae, X)]            # doctest: +SKIP
    """
    split, kept = getattr(est, "_split_items", None), training_sample(est)
    if split is None or kept is None or not isinstance(X, np.ndarray) or len(X) != split[0]:
        return None
    train = split[1]
    rows = np.asarray(X[train[: len(kept)]], dtype=np.float64).reshape(len(kept), -1)
    kept = np.asarray(kept, dtype=np.float64).reshape(len(kept), -1)
    if rows.shape != kept.shape:
        return None
    # The kept items went through the scaler in float32 and back.
    tolerance = 1e-4 * max(1.0, float(np.nanmax(np.abs(rows), initial=0.0)))
    return train if np.allclose(rows, kept, rtol=1e-4, atol=tolerance, equal_nan=True) else None


def held_out_sample(est: Any) -> np.ndarray | None:
    """A few items of the validation split in the data's units (None without one), for reports."""
    return getattr(est, "_report_held_out", None)


# -- the module ------------------------------------------------------------------------------
def build_module(est: Any) -> None:
    """``module_`` from ``architecture_``, its weights drawn from ``seed_`` alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(est.seed_)
        est.module_ = build_model(est.architecture_)


def warm_state(est: Any) -> dict[str, Any] | None:
    """With ``warm_start`` and a fitted model: what the next fit continues from."""
    if not getattr(est, "warm_start", False) or not hasattr(est, "module_"):
        return None
    names = ("module_", "architecture_", "scaler_", "loss_", "loss_reason_")
    return {name: getattr(est, name) for name in names}


def continue_from(est: Any, previous: dict[str, Any]) -> None:
    """Keep the previous fit's module and scaler (its weights expect that scaling)."""
    if previous["architecture_"] != est.architecture_:
        raise InvalidInputError(
            f"warm_start=True, but this data or these parameters give another network than the "
            f"previous fit ({_changes(previous['architecture_'], est.architecture_)}); fit with "
            "warm_start=False to start afresh"
        )
    for name, value in previous.items():
        setattr(est, name, value)
    est.data_range_ = getattr(est, "data_range_", (0.0, 1.0))


def _changes(before: Any, after: Any) -> str:
    """What differs between two architectures, in words: ``input_dim 64 -> 60``."""
    if not (dataclasses.is_dataclass(before) and type(before) is type(after)):
        return f"{type(before).__name__} -> {type(after).__name__}"
    changed = [
        f"{field.name} {getattr(before, field.name)!r} -> {getattr(after, field.name)!r}"
        for field in dataclasses.fields(before)
        if getattr(before, field.name) != getattr(after, field.name)
    ]
    return ", ".join(changed).replace("input_dim", "features (input_dim)", 1)


def prepare_module(est: Any, train: Any, resume: bool = False) -> tuple[float, float]:
    """Before training: pretrained parts, layer-wise pretraining, metric probes; returns the
    seconds layer-wise pretraining took, which a time budget counts, and those it took now
    (:func:`hourglass.estimators.layerwise.pretrain`; 0 and 0 without it)."""
    probe = first_items(train, 2048)
    est.module_.to(resolve_device(est.device))
    est._metrics_probe = probe  # its own copy, so the estimator does not pin the data
    encoder, decoder = getattr(est, "encoder", None), getattr(est, "decoder", None)
    if encoder is not None or decoder is not None:
        pretrained.attach(
            est.module_,
            probe[:2].to(resolve_device(est.device)),
            None if encoder is None else parts.load_part(encoder, "encoder"),  # a folder is read here
            None if decoder is None else parts.load_part(decoder, "decoder"),
            freeze_encoder=getattr(est, "freeze_encoder", False),
            freeze_decoder=getattr(est, "freeze_decoder", False),
        )
        if not any(p.requires_grad for p in est.module_.parameters()):
            raise InvalidInputError(  # torch's words: "optimizer got an empty parameter list"
                "freeze_encoder=True and freeze_decoder=True leave no weights to train; freeze one part, "
                "or use the saved model as it is"
            )
    elif getattr(est, "freeze_encoder", False) or getattr(est, "freeze_decoder", False):
        raise InvalidInputError(
            "freeze_encoder / freeze_decoder need a pretrained encoder / decoder to freeze"
        )
    pca_path.fit(est, train)
    return layerwise.pretrain(
        est, train, train_config(est, len(train)), functools.partial(make_trainer, est), resume
    )


# -- training --------------------------------------------------------------------------------
def make_trainer(est: Any, module: torch.nn.Module, config: TrainConfig, **overrides: Any) -> Trainer:
    """The one place a Trainer is built (fit, partial_fit and layer-wise pretraining use it).

    ``overrides`` replace the estimator's own loss, regularizers, corruption, ... for a part of
    the model (a layer pair being pretrained).
    """
    settings: dict[str, Any] = {
        "loss": est.loss_,
        "regularizers": est._bottleneck().regularizers(est),
        "corruption": est._corruption(),
        "epoch_metrics": est._bottleneck().epoch_metrics(est),
        "checkpoint_dir": getattr(est, "checkpoint_dir", None),
        "description": type(est).__name__,
        "fingerprint": None,
        "on_epoch_end": callback_hook(est),
        **overrides,
    }
    loss = settings.pop("loss")
    return Trainer(module, config, loss, **settings)


def callback_hook(est: Any):
    """``on_epoch_end`` for the Trainer from ``est.callbacks``, or None without any."""
    callbacks = getattr(est, "callbacks", None)
    if not callbacks:
        return None
    if not isinstance(callbacks, (list, tuple)):
        callbacks = [callbacks]
    for callback in callbacks:
        if not callable(getattr(callback, "on_epoch_end", None)) and not callable(callback):
            raise InvalidInputError(
                f"callbacks holds {callback!r}; expected objects with "
                "on_epoch_end(estimator, epoch, logs) or callables with that signature"
            )

    def on_epoch_end(epoch: int, logs: dict[str, float]) -> bool:
        stop = False
        for callback in callbacks:
            hook = getattr(callback, "on_epoch_end", callback)
            name = getattr(callback, "__qualname__", type(callback).__qualname__)
            try:
                stop = bool(hook(est, epoch, dict(logs))) or stop
            except Exception as exc:  # a user's code: report it in one line, keep the checkpoint
                reason = " ".join(str(exc).split()) or type(exc).__name__
                what = f"{type(exc).__name__}: {reason}"
                raise CallbackError(f"callback {name}.on_epoch_end raised at epoch {epoch}: {what}") from exc
        return stop

    return on_epoch_end


def validation_mse(
    est: Any, source: TrainingSource, val_idx: np.ndarray
) -> tuple[float | None, float | None]:
    """Mean squared reconstruction error per value on the validation items: raw and scaled.

    The first in the data's units, the second in the model's (:mod:`hourglass.data.units`:
    z-scores for standardized data, where no single column decides it); PCA's, in the model's
    units, is :func:`~hourglass.estimators.pca_baseline.validation_error`, computed before
    training. The loss training monitors is BCE for binary data; these are the numbers a user
    compares with PCA. None without a validation split, and for restoration tasks, judged
    against their own baselines.
    """
    if not len(val_idx) or task_of(est).restoration:
        return None, None
    total, scaled_total, count = 0.0, 0.0, 0
    # Blocks of a bounded number of values, so that their float64 copies stay small beside the
    # data: 16,384 rows of 784 values made five 100 MB temporaries, and a fit streaming a 1 GB
    # file peaked at 0.9 GB here, after training had held it at 0.4 GB.
    width = max(1, math.prod(source.head(1).shape[1:]))
    block = max(1, min(4 * PREDICT_BATCH, VALIDATION_BLOCK_VALUES // width))
    scale = est.scaler_.scale.astype(np.float64)
    for start in range(0, len(val_idx), block):
        rows = source.read(val_idx[start : start + block])
        recon = run_batches(est, reconstruction(est.module_), rows, scale=True, unscale=True)
        diff = recon.astype(np.float64)
        del recon
        diff -= rows
        total += float(np.sum(diff**2))
        diff /= scale
        scaled_total += float(np.sum(diff**2))
        del diff
        count += rows.size
    return total / count, scaled_total / count


# -- partial_fit -----------------------------------------------------------------------------
def start_partial(est: Any, X: Any) -> Trainer:
    """The first ``partial_fit``: scaler, loss and module from this chunk, and the optimizer.

    The chunk, scaled, is left in ``est._partial_data`` for the caller's first pass.
    """
    est._check_params()
    check_choices(est)
    X = remember_table(est, X, y=None)
    part = est._input(X)
    source = part.training_source(est, X)
    head = source.head()
    part.check_code_size(est, head)
    est.seed_ = as_seed(est.random_state)
    est._split_items = None  # a model built from a chunk has no split for reports to cut by
    everything = np.arange(len(source))
    est._settle_scaling_and_architecture(source, head, everything, partial=True)
    build_module(est)
    est._partial_data = source.training_data(everything, est.scaler_)
    prepare_module(est, est._partial_data)
    trainer = incremental_trainer(est, len(everything))
    est.history_ = trainer.history
    est.history_.recipe.update(learning_rate=est.learning_rate_, learning_rate_rule=est.learning_rate_reason_)
    est.device_ = str(trainer.device)
    est._n_features_out = est._code_width()
    return trainer


def incremental_trainer(est: Any, n_items: int) -> Trainer:
    """A Trainer for ``partial_fit`` on the current module (new, fitted or loaded), kept between calls."""
    config = replace(train_config(est, n_items), noise_schedule="constant", epochs=1)
    trainer = make_trainer(est, est.module_, config, checkpoint_dir=None, on_epoch_end=None)
    if hasattr(est, "history_"):
        trainer.history = est.history_  # passes continue the fitted model's record
    est._partial_trainer = trainer
    return trainer


#: Words of the trainer's stop reason when the time budget ran out within the first epoch.
_SHORTER_THAN_AN_EPOCH = "shorter than one epoch"


def budget_shorter_than_an_epoch(est: Any) -> bool:
    """Whether ``est``'s last fit's time budget ran out in its first epoch (trained whole all the same)."""
    history = getattr(est, "history_", None)
    return est.max_time is not None and _SHORTER_THAN_AN_EPOCH in getattr(history, "stop_reason", "")


def warn_if_budget_short(est: Any) -> None:
    """Warn (:class:`~hourglass.exceptions.TimeBudgetWarning`) of a fit that took longer than its
    ``max_time`` because one epoch did: a 30,000-image compare at ``--time 2`` took 106 s, unsaid."""
    if budget_shorter_than_an_epoch(est):
        warnings.warn(  # the trainer's words: 'the time budget of 2 s is shorter than one epoch (50 s)'
            f"{est.history_.stop_reason}, {duration_words(est.fit_seconds_)} in all; give a budget of at "
            "least one epoch, fewer samples or a smaller model",
            TimeBudgetWarning,
            stacklevel=4,  # past fit and its all-or-nothing wrapper: the caller's line
        )


__all__ = [
    "AUTO_EPOCHS",
    "AUTO_STEPS",
    "budget_shorter_than_an_epoch",
    "build_module",
    "callback_hook",
    "continue_from",
    "held_out_sample",
    "incremental_trainer",
    "keep_report_samples",
    "loader_workers",
    "make_trainer",
    "prepare_module",
    "resolved_epochs",
    "resolved_learning_rate",
    "split",
    "start_partial",
    "start_run",
    "train_config",
    "training_rows",
    "training_sample",
    "validation_mse",
    "warn_if_budget_short",
]
