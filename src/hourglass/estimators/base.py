"""The shared base of the autoencoder estimators, holding the only ``fit``.

``__init__`` only stores parameters; ``fit`` builds ``module_`` (the PyTorch module), fits the
scaler, resolves the loss and trains; fitted state ends in ``_``. What differs between
estimators lives in the parts they hold: the input part (rows or grids,
:mod:`hourglass.estimators.inputs`) turns their data into a
:class:`~hourglass.data.sources.TrainingSource` and sizes the network, the bottleneck part
(:mod:`hourglass.estimators.bottlenecks`) makes it its kind of code; seeding, the split, the
scaler (fitted on training items only), the loss, the Trainer and the bookkeeping are the same
for every estimator and live here, once.
"""

from __future__ import annotations

import inspect
import math
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from hourglass.data.loading import check_finite, check_ignored_y
from hourglass.data.scaling import scaler_from_summary
from hourglass.data.sources import (
    ArraySource,
    ScaledRows,
    TrainingSource,
    first_items,
    release_pages,
    row_blocks,
)
from hourglass.estimators import parts
from hourglass.estimators.atomic import all_or_nothing
from hourglass.estimators.bottlenecks import BottleneckPart, bottleneck_part, sparsity_on
from hourglass.estimators.constraints import check_choices
from hourglass.estimators.inputs import (  # the two functions lived here before the input parts
    InputPart,
    auto_learning_rate,  # noqa: F401
    input_part,
    reject_non_numeric_columns,  # noqa: F401
)
from hourglass.estimators.persistence import json_safe, save_estimator
from hourglass.exceptions import CallbackError, InvalidInputError
from hourglass.nn.model import build_model
from hourglass.runtime import distributed
from hourglass.runtime.seeds import as_seed
from hourglass.runtime.threads import resolve_threads
from hourglass.train import checkpoint
from hourglass.train.budget import parse_duration
from hourglass.train.config import TrainConfig
from hourglass.train.losses import output_activation
from hourglass.train.tasks import task_of
from hourglass.train.trainer import Trainer, resolve_device

PREDICT_BATCH = 4096

#: ``epochs='auto'``: at most about this many optimizer steps, within these bounds on the epochs
#: (digits: 300, Fashion-MNIST: 95). A cap, not a plan: the run ends once learning stalls and
#: its rate has decayed (:mod:`hourglass.train.schedule`), mostly well before.
AUTO_STEPS = 20_000
AUTO_EPOCHS = (30, 300)


class BaseAutoEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Shared machinery of the autoencoder estimators (fit, transform, decode, score, save).

    An estimator is this machinery and two parts it holds: an input part
    (:mod:`hourglass.estimators.inputs`), named by ``input_kind``, for its data (sources,
    validation, scaling axis, code sizes, the network's config, the fitted shape), and a
    bottleneck part (:mod:`hourglass.estimators.bottlenecks`), named by ``bottleneck_kind``, for
    its kind of code (loss terms, saved state, report section). Subclasses choose the parts.
    """

    #: The kind of data (a key of :data:`~hourglass.estimators.inputs.INPUTS`).
    input_kind: ClassVar[str] = "rows"
    #: The kind of code (a key of :data:`~hourglass.estimators.bottlenecks.BOTTLENECKS`).
    bottleneck_kind: ClassVar[str] = "plain"

    def _input(self, X: Any = None) -> InputPart:
        """The input part this estimator delegates its data's concerns to.

        ``fit`` and the first ``partial_fit`` pass their data ``X`` once, before reading it: an
        estimator whose kind of input depends on the data (the VAE's ``arch='auto'``) chooses
        there.
        """
        return input_part(self.input_kind)

    def _bottleneck(self) -> BottleneckPart:
        """The bottleneck part this estimator delegates its code's concerns to."""
        return bottleneck_part(self.bottleneck_kind)

    # -- hooks for subclasses and for regularizers -------------------------------------------
    def _check_params(self) -> None:
        """Refuse invalid parameters before any data is read: the input part's, then the code's."""
        self._input().check_params(self)
        self._bottleneck().check_params(self)

    def _check_run_params(self) -> None:
        """Refuse a bad time budget or thread count before any data is read."""
        parse_duration(getattr(self, "max_time", None))
        threads = getattr(self, "threads", "auto")
        if threads != "auto":
            resolve_threads(threads)

    def _validate_input(self, X: Any, reset: bool) -> np.ndarray:
        """``X`` checked by the input part: fit's (``reset``) or, for prediction, as fitted."""
        return self._input().validate(self, X, reset)

    # The guards against the identity (noise, dropout, sparsity, contraction, pretrained parts)
    # live here and in the bottleneck part, so every estimator that stores the same parameter
    # names gets them; getattr keeps estimators without them working.
    def _sparsity_on(self) -> bool:
        return sparsity_on(self)

    def _corruption(self):
        from hourglass.train.corruptions import make_noise

        # Salt-and-pepper writes the extremes of the (scaled) training data.
        low, high = getattr(self, "data_range_", (0.0, 1.0))
        return make_noise(getattr(self, "noise", None), getattr(self, "noise_level", 0.1), low, high)

    def _prepare_module(self, train: Any) -> None:
        """Before training: pretrained parts, layer-wise pretraining, metric probes."""
        from hourglass.train import pretrained

        probe = first_items(train, 2048)
        self.module_.to(resolve_device(self.device))
        self._metrics_probe = probe  # its own copy, so the estimator does not pin the data
        encoder, decoder = getattr(self, "encoder", None), getattr(self, "decoder", None)
        if encoder is not None or decoder is not None:
            pretrained.attach(
                self.module_,
                probe[:2].to(resolve_device(self.device)),
                None if encoder is None else parts.load_part(encoder, "encoder"),  # a folder is read here
                None if decoder is None else parts.load_part(decoder, "decoder"),
                freeze_encoder=getattr(self, "freeze_encoder", False),
                freeze_decoder=getattr(self, "freeze_decoder", False),
            )
        elif getattr(self, "freeze_encoder", False) or getattr(self, "freeze_decoder", False):
            raise InvalidInputError(
                "freeze_encoder / freeze_decoder need a pretrained encoder / decoder to freeze"
            )
        pretrain = getattr(self, "pretrain", None)
        if pretrain is not None:
            if pretrain != "layerwise":
                raise InvalidInputError(f"pretrain={pretrain!r}; expected None or 'layerwise'")
            if not isinstance(train, ScaledRows):
                raise InvalidInputError(
                    "pretrain='layerwise' passes the whole training set through each layer, so it needs "
                    "data in memory; this data is streamed from a file (load it with np.load to use it)"
                )
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed_)
                self.pretrain_history_ = pretrained.layerwise_pretrain(
                    self.module_,
                    self.architecture_,
                    train.to(resolve_device(self.device)).materialize(),
                    self._train_config(len(train)),
                    self.loss_,
                    regularizers=self._bottleneck().regularizers(self),
                    corruption=self._corruption(),
                    make_trainer=self._trainer,
                )

    # -- fitting -----------------------------------------------------------------------------
    def _resolved_learning_rate(self) -> tuple[float, str]:
        if isinstance(self.learning_rate, str):
            if self.learning_rate != "auto":
                raise InvalidInputError(
                    f"learning_rate={self.learning_rate!r}; expected 'auto' or a positive number"
                )
            return self._input().auto_learning_rate(self)
        default = inspect.signature(type(self).__init__).parameters["learning_rate"].default
        # A number can be the estimator's own default (the conv recipe's): say which.
        rule = "the default" if self.learning_rate == default else "set by the user"
        return float(self.learning_rate), rule

    def _resolved_epochs(self, n_train: int) -> int:
        """``epochs``, or for ``'auto'`` enough epochs for about ``AUTO_STEPS`` optimizer steps."""
        if isinstance(self.epochs, str):
            if self.epochs != "auto":
                raise InvalidInputError(f"epochs={self.epochs!r}; expected 'auto' or a positive integer")
            steps_per_epoch = math.ceil(max(1, n_train) / max(1, int(self.batch_size)))
            return int(min(AUTO_EPOCHS[1], max(AUTO_EPOCHS[0], math.ceil(AUTO_STEPS / steps_per_epoch))))
        return self.epochs

    def _train_config(self, n_train: int) -> TrainConfig:
        self.learning_rate_, self.learning_rate_reason_ = self._resolved_learning_rate()
        self.epochs_ = self._resolved_epochs(n_train)
        return TrainConfig(
            epochs=self.epochs_,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate_,
            weight_decay=self.weight_decay,
            patience=self.patience,
            seed=self.seed_,
            device=self.device,
            precision=self.precision,
            verbose=self.verbose,
            noise_schedule=getattr(self, "noise_schedule", "constant"),
            compile=bool(getattr(self, "compile", False)),
            adaptive=self.epochs == "auto",
            max_time=parse_duration(getattr(self, "max_time", None)),
            threads=getattr(self, "threads", "auto"),
        )

    def _start_run(self, source: TrainingSource, resume: bool) -> dict[str, Any]:
        """Set ``seed_`` and return the run's fingerprint (:mod:`hourglass.train.checkpoint`).

        When resuming, the checkpoint must be of this very run (data, parameters, seed): that is
        checked here, before any scaling, building or training. A run with ``random_state=None``
        resumes with the seed its checkpoint recorded.
        """
        directory = getattr(self, "checkpoint_dir", None)
        if resume and directory is None:
            raise InvalidInputError("resume=True needs checkpoint_dir, the folder of the checkpoint")
        seed = checkpoint.saved_seed(directory) if resume and self.random_state is None else None
        self.seed_ = as_seed(self.random_state) if seed is None else seed
        params = {k: json_safe(v) for k, v in self.get_params(deep=False).items()}
        sample, n_samples = source.fingerprint_sample()
        run = checkpoint.run_fingerprint(checkpoint.data_fingerprint(sample, n_samples), params, self.seed_)
        if resume:
            checkpoint.check_run(directory, run)
        return run

    def _split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        fraction = self.validation_fraction
        if not 0.0 <= fraction < 1.0:
            raise InvalidInputError(f"validation_fraction={fraction} must lie in [0, 1)")
        n_val = int(round(n * fraction))
        if n_val == 0 or n - n_val < 1:
            return np.arange(n), np.arange(0)
        order = np.random.default_rng(self.seed_).permutation(n)
        return np.sort(order[n_val:]), np.sort(order[:n_val])

    def _trainer(self, module: torch.nn.Module, config: TrainConfig, **overrides: Any) -> Trainer:
        """The one place a Trainer is built (fit and layer-wise pretraining both use it).

        ``overrides`` replace the estimator's own loss, regularizers, corruption, ... for a
        part of the model (a layer pair being pretrained).
        """
        settings: dict[str, Any] = {
            "loss": self.loss_,
            "regularizers": self._bottleneck().regularizers(self),
            "corruption": self._corruption(),
            "epoch_metrics": self._bottleneck().epoch_metrics(self),
            "checkpoint_dir": getattr(self, "checkpoint_dir", None),
            "description": type(self).__name__,
            "fingerprint": None,
            "on_epoch_end": self._callback_hook(),
            **overrides,
        }
        loss = settings.pop("loss")
        return Trainer(module, config, loss, **settings)

    def _callback_hook(self):
        """``on_epoch_end`` for the Trainer from ``callbacks``, or None without any."""
        callbacks = getattr(self, "callbacks", None)
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
                    stop = bool(hook(self, epoch, dict(logs))) or stop
                except Exception as exc:  # a user's code: report it in one line, keep the checkpoint
                    reason = " ".join(str(exc).split()) or type(exc).__name__
                    what = f"{type(exc).__name__}: {reason}"
                    raise CallbackError(
                        f"callback {name}.on_epoch_end raised at epoch {epoch}: {what}"
                    ) from exc
            return stop

        return on_epoch_end

    @all_or_nothing
    def fit(self, X: Any, y: Any = None, *, resume: bool = False) -> BaseAutoEncoder:
        """Train the autoencoder on ``X`` (``y`` is ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), or what the estimator reads
            Training data. An array in memory trains without a copy of it; a memory map of a
            ``.npy`` file over 512 MiB (``np.load(path, mmap_mode='r')``) is streamed from
            the file, so data larger than memory train too.
        y : None or str
            Ignored, unless ``X`` is a DataFrame and ``y`` names one of its columns: that column
            is then the label, never a feature, and is remembered in ``table_`` (the CLI's
            ``--label``).
        resume : bool, default=False
            Continue from the checkpoint in ``checkpoint_dir`` instead of starting afresh.

        Returns
        -------
        self
        """
        self._check_run_params()
        self._check_params()
        check_choices(self)
        check_ignored_y(X, y)
        previous = self._warm_state()
        self._partial_trainer = None  # partial_fit after this fit starts from its weights
        X = self._remember_table(X, y)
        part = self._input(X)
        source = part.training_source(self, X)
        head = source.head()
        part.check_code_size(self, head)
        run = self._start_run(source, resume)
        train_idx, val_idx = self._split(len(source))
        # Statistics from the training items only: validation items stay unseen.
        summary = self._settle_scaling_and_architecture(source, head, train_idx)
        if previous is not None:
            self._continue_from(previous)
        else:
            self._build_module()
        train = source.training_data(train_idx, self.scaler_)
        val = source.training_data(val_idx, self.scaler_) if len(val_idx) else None
        self._report_sample = first_items(train, 16).numpy() * self.scaler_.scale + self.scaler_.offset
        # Validation items for reports: a restoration task's headline must be judged on held-out data.
        self._report_held_out = (
            None if val is None else first_items(val, 16).numpy() * self.scaler_.scale + self.scaler_.offset
        )
        if previous is None:
            self._prepare_module(train)
        config = replace(self._train_config(len(train_idx)), workers=self._loader_workers(source))
        trainer = self._trainer(self.module_, config, fingerprint=run)
        self.history_ = trainer.history  # callbacks can read it during training
        tic = time.perf_counter()
        self.history_ = trainer.fit(train, val, resume=resume)
        self.history_.recipe["learning_rate_rule"] = self.learning_rate_reason_
        self.history_.recipe["statistics"] = summary.basis
        self.fit_seconds_ = time.perf_counter() - tic
        self.validation_mse_, self.validation_mse_scaled_ = self._validation_mse(source, val_idx)
        self.n_epochs_ = len(self.history_.epoch)
        self.device_ = str(trainer.device)
        self._n_features_out = self._code_width()
        self._bottleneck().after_fit(self)
        return self

    def _remember_table(self, X: Any, y: Any) -> Any:
        """Keep a DataFrame's columns in ``table_`` (:mod:`hourglass.data.table`); return the features.

        Later reads select these columns by name, so the training table can be given again as
        it is. Fitting on anything else forgets the table of an earlier fit.
        """
        from hourglass.data.table import split_frame

        X, schema = split_frame(X, y)
        if schema is not None:
            self.table_ = schema
        else:
            vars(self).pop("table_", None)
        return X

    def _selected_columns(self, X: Any) -> Any:
        """A DataFrame's feature columns, by name, in the order the model was fitted on.

        A model fitted without column names (on an array, or through the CLI, which reads
        the table itself) gets the selected values as an array, as it was fitted.
        """
        from hourglass.data.table import is_frame, select_features

        schema = getattr(self, "table_", None)
        if schema is None or schema.features is None or not is_frame(X):
            return X
        X = select_features(X, schema, "X")
        return X if hasattr(self, "feature_names_in_") else X.to_numpy()

    def _validation_mse(
        self, source: TrainingSource, val_idx: np.ndarray
    ) -> tuple[float | None, float | None]:
        """Mean squared reconstruction error per value on the validation items: raw, and scaled.

        The first in the data's units, the second in the model's (:mod:`hourglass.data.units`:
        z-scores for standardized data, where no single column decides it). The loss training
        monitors is BCE for binary data; these are the numbers a user compares with PCA. None
        without a validation split, and for restoration tasks, judged against their own baselines.
        """
        if not len(val_idx) or task_of(self).restoration:
            return None, None
        total, scaled_total, count = 0.0, 0.0, 0
        block = 4 * PREDICT_BATCH
        for start in range(0, len(val_idx), block):
            rows = source.read(val_idx[start : start + block])
            recon = self._run(self._reconstruction, rows, scale=True, unscale=True).astype(np.float64)
            total += float(np.sum((recon - rows) ** 2))
            scaled_total += float(np.sum(((recon - rows) / self.scaler_.scale.astype(np.float64)) ** 2))
            count += rows.size
        return total / count, scaled_total / count

    def _reconstruction(self, batch: torch.Tensor) -> torch.Tensor:
        return self.module_(batch)["reconstruction"]

    def _settle_scaling_and_architecture(self, source: TrainingSource, head: np.ndarray, items: np.ndarray):
        """Scaler, loss and architecture from the statistics of ``items``; returns the summary."""
        part = self._input()
        summary = source.statistics(items, part.scaler_channel_axis)
        self.scaler_ = scaler_from_summary(summary, self.scaling)
        self.statistics_basis_ = summary.basis
        scaled = summary.scaled(self.scaler_)
        self.data_range_ = (scaled.lo, scaled.hi)  # salt-and-pepper noise writes these
        code = self._bottleneck()
        self.loss_, self.loss_reason_ = code.choose_loss(self, scaled)
        # The input part sizes the network; the bottleneck part makes it its kind of code.
        config = part.architecture(self, head, output_activation(self.loss_, scaled))
        self.architecture_ = code.architecture(self, config)
        return summary

    def _build_module(self) -> None:
        """``module_`` from ``architecture_``, its weights drawn from ``seed_`` alone."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed_)
            self.module_ = build_model(self.architecture_)

    def _warm_state(self) -> dict[str, Any] | None:
        """With ``warm_start`` and a fitted model: what the next fit continues from."""
        if not getattr(self, "warm_start", False) or not hasattr(self, "module_"):
            return None
        return {
            name: getattr(self, name)
            for name in ("module_", "architecture_", "scaler_", "loss_", "loss_reason_")
        }

    def _continue_from(self, previous: dict[str, Any]) -> None:
        """Keep the previous fit's module and scaler (its weights expect that scaling)."""
        if previous["architecture_"] != self.architecture_:
            raise InvalidInputError(
                "warm_start=True, but this data or these parameters give another architecture than the "
                "previous fit; fit with warm_start=False to start afresh"
            )
        for name, value in previous.items():
            setattr(self, name, value)
        self.data_range_ = getattr(self, "data_range_", (0.0, 1.0))

    @all_or_nothing
    def partial_fit(self, X: Any, y: Any = None) -> BaseAutoEncoder:
        """One pass over ``X`` (a batch or a chunk of a stream), keeping the optimizer between calls.

        The first call fits the scaler on its ``X``, builds the module and the optimizer; later
        calls train on, with Adam's moments carried over, at the constant rate ``learning_rate_``
        (there is no known end to schedule toward) and with any input noise at its full level.
        No validation split, early stopping or collapse restarts: that is ``fit``'s job. The
        pass is the Trainer's (``Trainer.fit(incremental=True)``), kept in ``_partial_trainer``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            The next chunk of training data.
        y : None
            Ignored.

        Returns
        -------
        self
        """
        if not hasattr(self, "module_"):
            trainer = self._start_partial(X)
            data, self._partial_data = self._partial_data, None  # do not pin the caller's array
        else:
            # Checked before anything moves: a chunk of another width changes nothing.
            checked = self._validate_input(X, reset=False)
            data = ArraySource(checked).training_data(np.arange(len(checked)), self.scaler_)
            trainer = getattr(self, "_partial_trainer", None) or self._incremental_trainer(len(checked))
        self.history_ = trainer.fit(data, incremental=True)
        self.n_epochs_ = len(trainer.history.epoch)
        self.fit_seconds_ = getattr(self, "fit_seconds_", 0.0) + trainer.history.seconds[-1]
        return self

    def _start_partial(self, X: Any) -> Trainer:
        """The first ``partial_fit``: scaler, loss and module from this chunk, and the optimizer."""
        self._check_params()
        check_choices(self)
        X = self._remember_table(X, y=None)
        part = self._input(X)
        source = part.training_source(self, X)
        head = source.head()
        part.check_code_size(self, head)
        self.seed_ = as_seed(self.random_state)
        everything = np.arange(len(source))
        self._settle_scaling_and_architecture(source, head, everything)
        self._build_module()
        self._partial_data = source.training_data(everything, self.scaler_)
        self._prepare_module(self._partial_data)
        trainer = self._incremental_trainer(len(everything))
        self.history_ = trainer.history
        self.history_.recipe.update(
            learning_rate=self.learning_rate_, learning_rate_rule=self.learning_rate_reason_
        )
        self.device_ = str(trainer.device)
        self._n_features_out = self._code_width()
        return trainer

    def _incremental_trainer(self, n_items: int) -> Trainer:
        """A Trainer for ``partial_fit`` on the current module (new, fitted or loaded), kept between calls."""
        config = replace(self._train_config(n_items), noise_schedule="constant", epochs=1)
        trainer = self._trainer(self.module_, config, checkpoint_dir=None, on_epoch_end=None)
        if hasattr(self, "history_"):
            trainer.history = self.history_  # passes continue the fitted model's record
        self._partial_trainer = trainer
        return trainer

    @property
    def n_iter_(self) -> int:
        """Epochs run (passes for ``partial_fit``), as scikit-learn's MLP names it."""
        return len(self.history_.epoch)

    @property
    def loss_curve_(self) -> list[float]:
        """The training loss after every epoch, as scikit-learn's MLP names it."""
        return list(self.history_.train_loss)

    @staticmethod
    def _loader_workers(source: TrainingSource) -> int:
        """DataLoader workers: where reading is the bottleneck (photos to decode), all but one core."""
        if not source.slow_reads:
            return 0
        return max(0, min(4, (os.cpu_count() or 1) - 1))

    def _report_data(self) -> np.ndarray | None:
        """A few training items in the data's units, for reports."""
        return getattr(self, "_report_sample", None)

    def _held_out_report_data(self) -> np.ndarray | None:
        """A few items of the validation split in the data's units (None without one), for reports."""
        return getattr(self, "_report_held_out", None)

    def _code_width(self) -> int:
        return math.prod(self._code_shape())

    def _code_shape(self) -> tuple[int, ...]:
        """Shape of one sample's code in the module (flat, or a feature map for spatial codes)."""
        return self._input().code_shape(self)

    # -- using a fitted model ----------------------------------------------------------------
    def _device(self) -> torch.device:
        return next(self.module_.parameters()).device

    @torch.no_grad()
    def _run(
        self,
        fn,
        data: np.ndarray,
        scale: bool = False,
        unscale: bool = False,
        post=None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Apply ``fn`` (tensor -> tensor) to ``data`` in batches; return float32 numpy.

        ``scale`` maps each input batch through the fitted scaler and ``unscale`` each output
        batch back, and ``post(output, input)`` reduces each batch (a per-row error, say), so
        that only one batch at a time exists in scaled units. A memory-mapped ``data`` is read
        a batch at a time and its pages released as it goes (:func:`row_blocks`), and with
        ``out`` (an array of the result's shape: a memory map of an ``.npy`` being written, say)
        each batch's result is written there instead of being gathered: neither the input nor
        the output of a file larger than RAM is ever held whole. Returns ``out`` when given.
        """
        self.module_.eval()
        device = self._device()
        parts = []
        for i, batch in row_blocks(data, PREDICT_BATCH):
            # float32 per batch: a streamed memory map keeps its own dtype (uint8 pixels, say).
            batch = np.ascontiguousarray(batch, dtype=np.float32)
            inputs = self.scaler_.transform(batch) if scale else batch
            if not inputs.flags.writeable:  # a read-only memory map: torch wants its own copy
                inputs = inputs.copy()
            result = fn(torch.from_numpy(inputs).to(device)).float().cpu().numpy()
            result = self.scaler_.inverse_transform(result) if unscale else result
            result = post(result, batch) if post is not None else result
            if out is None:
                parts.append(result)
                continue
            out[i : i + len(result)] = result.reshape(len(result), *out.shape[1:])
            release_pages(out)  # written pages go to the page cache, not this process's memory
        if out is not None:
            return out
        if not parts:
            return np.zeros((0,), np.float32)
        return np.concatenate(parts)

    @staticmethod
    def _check_out(out: np.ndarray | None, shape: tuple[int, ...], dtype) -> None:
        """Refuse an ``out`` array that cannot receive the result."""
        if out is None:
            return
        if not isinstance(out, np.ndarray) or tuple(out.shape) != tuple(shape):
            raise InvalidInputError(
                f"out has shape {getattr(out, 'shape', None)}; expected an array of shape {tuple(shape)}"
            )
        if out.dtype != np.dtype(dtype):
            raise InvalidInputError(f"out has dtype {out.dtype}; expected {np.dtype(dtype)}")

    @staticmethod
    def _output_dtype(X: Any):
        # Follow scikit-learn: float32 in, float32 out; anything else comes back as float64.
        return np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64

    def transform(self, X: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """Encode ``X`` to codes of shape (n_samples, code_size).

        Parameters
        ----------
        X : array-like
            Data shaped like the training data. A memory map is read a batch at a time.
        out : ndarray, optional
            Where to write the codes (shape (n_samples, code_size), dtype float32 for float32
            ``X``, else float64), batch by batch; returned.

        Returns
        -------
        ndarray of shape (n_samples, code_size)
        """
        check_is_fitted(self, "module_")
        data = self._validate_input(X, reset=False)
        dtype = self._output_dtype(X)
        self._check_out(out, (data.shape[0], self._n_features_out), dtype)
        codes = self._run(self.module_.encode, data, scale=True, out=out)
        return codes.reshape(codes.shape[0], -1).astype(dtype, copy=False)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode codes ``(n, n_codes)`` (flattened feature maps for a spatial code) back to data, in
        the units of the training data."""
        check_is_fitted(self, "module_")
        codes = np.asarray(X, dtype=np.float32) if not hasattr(X, "dtype") else np.asarray(X)
        if codes.ndim != 2 or codes.shape[1] != self._n_features_out:
            raise InvalidInputError(
                f"codes have shape {codes.shape}; expected (n_samples, {self._n_features_out})"
            )
        codes = check_finite(codes, "codes").reshape(len(codes), *self._code_shape())
        out = self._run(self.module_.decode, codes, unscale=True)
        return out.astype(self._output_dtype(X), copy=False)

    def reconstruct(self, X: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """Encode and decode ``X``: its reconstruction in the units of the input.

        Parameters
        ----------
        X : array-like
            Data shaped like the training data. A memory map is read a batch at a time.
        out : ndarray, optional
            Where to write the reconstruction (``X``'s shape; float32 for float32 ``X``, else
            float64), batch by batch: with ``np.lib.format.open_memmap`` the reconstruction of
            a file larger than RAM goes to disk. Returned.

        Returns
        -------
        ndarray shaped like ``X``

        Examples
        --------
        >>> out = np.lib.format.open_memmap("recon.npy", "w+", np.float32, X.shape)  # doctest: +SKIP
        >>> model.reconstruct(X, out=out)  # doctest: +SKIP
        """
        check_is_fitted(self, "module_")
        data = self._validate_input(X, reset=False)
        self._check_out(out, data.shape, self._output_dtype(X))
        recon = lambda t: self.module_(t)["reconstruction"]  # noqa: E731
        result = self._run(recon, data, scale=True, unscale=True, out=out)
        return result.astype(self._output_dtype(X), copy=False)

    def reconstruction_error(self, X: Any, *, scaled: bool = False) -> np.ndarray:
        """Per-sample mean squared reconstruction error.

        Parameters
        ----------
        X : array-like
            Data shaped like the training data.
        scaled : bool, default=False
            False: in the units of the input. True: in the model's units (see
            :func:`hourglass.data.units.units_of`): per-feature z-scores from the training rows
            for standardized data, so that no single column with large numbers decides the
            score; the input's units for data in [0, 1].

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "module_")
        data = self._validate_input(X, reset=False)
        scale = self.scaler_.scale.astype(np.float64) if scaled else 1.0

        def row_errors(out: np.ndarray, batch: np.ndarray) -> np.ndarray:
            diff = (out.astype(np.float64) - batch) / scale
            return np.mean(diff.reshape(diff.shape[0], -1) ** 2, axis=1)

        recon = lambda t: self.module_(t)["reconstruction"]  # noqa: E731
        return self._run(recon, data, scale=True, unscale=True, post=row_errors).astype(np.float64)

    def score_samples(self, X: Any) -> np.ndarray:
        """Negative per-sample reconstruction MSE (higher is better)."""
        return -self.reconstruction_error(X)

    def score(self, X: Any, y: Any = None) -> float:
        """Negative mean reconstruction MSE over ``X`` (higher is better), for model selection."""
        return float(np.mean(self.score_samples(X)))

    def layer_outputs(self, X: Any) -> dict[str, np.ndarray]:
        """The representation of ``X`` after every layer, by name (see ``AutoEncoder.layer_outputs``)."""
        check_is_fitted(self, "module_")
        data = self.scaler_.transform(self._validate_input(X, reset=False))
        self.module_.eval()
        tensor = torch.from_numpy(data).to(self._device())
        return {k: v.float().cpu().numpy() for k, v in self.module_.layer_outputs(tensor).items()}

    # -- taking the model elsewhere -----------------------------------------------------------
    def to_torch(self, part: str = "autoencoder") -> torch.nn.Module:
        """A plain PyTorch module of the fitted model, with the input scaling inside.

        It takes raw input in the units of the training data, as ``transform`` does, and returns
        plain tensors; ``torch.export.export`` and ``torch.jit.trace`` accept it, and it needs
        nothing of hourglass to run once exported. It is a CPU, float32, eval-mode copy: the
        estimator stays as it is.

        Parameters
        ----------
        part : {'autoencoder', 'encoder', 'decoder'}, default='autoencoder'
            'encoder': input ``(batch, *input_shape)`` -> code ``(batch, code_size)``, as
            :meth:`transform`; 'decoder': code -> reconstruction in the data's units, as
            :meth:`inverse_transform`; 'autoencoder': input -> ``(code, reconstruction)``, the
            reconstruction as :meth:`reconstruct` gives it (for a restoration task, as
            ``apply`` gives it on inputs of the training size).

        Returns
        -------
        torch.nn.Module

        Notes
        -----
        Subclasses say what "deterministic" means for their network through three hooks, each
        returning a module in the network's scaled units: ``_export_encoder()`` (input -> code),
        ``_export_decoder()`` (code shaped ``_code_shape()`` -> activated reconstruction) and
        ``_export_autoencoder()`` (input -> ``(code, reconstruction)``). A model whose code is
        sampled (a variational autoencoder) overrides the first two to give its mean code; the
        third then chains them unless the network's output is more than ``decode(encode(x))``
        (a restoration model adds its input back). The scaling, the names, the checks and the
        ONNX writing are shared by every estimator.

        Examples
        --------
        >>> module = ae.to_torch("encoder")                        # doctest: +SKIP
        >>> module(torch.from_numpy(X[:5].astype("float32"))).shape  # doctest: +SKIP
        torch.Size([5, 2])
        >>> torch.export.export(module, (torch.zeros(2, X.shape[1]),))  # doctest: +SKIP
        """
        from hourglass.estimators.export import to_torch

        return to_torch(self, part)

    def export_onnx(self, path: str | Path, part: str = "autoencoder", force: bool = False):
        """Write the fitted model to an ONNX file that takes raw input in the data's units.

        The graph folds in the input scaling and the unscaling of the output, so onnxruntime
        gives what :meth:`transform`, :meth:`inverse_transform` and :meth:`reconstruct` give
        (to float32 rounding). Its input is named ``input`` (``code`` for the decoder), its
        outputs ``code`` and ``reconstruction``; the batch axis is dynamic, the others (features,
        or channels and spatial axes) are those of the training data. The file's
        ``metadata_props`` record the hourglass version, the estimator, the part, the code size
        and the input shape. The file is checked with onnxruntime against PyTorch before it is
        written, atomically. Needs the ``onnx`` extra: ``pip install "hourglass-ae[onnx]"``.

        Parameters
        ----------
        path : str or Path
            The ``.onnx`` file to write.
        part : {'autoencoder', 'encoder', 'decoder'}, default='autoencoder'
            As in :meth:`to_torch`.
        force : bool, default=False
            Overwrite ``path`` if it exists.

        Returns
        -------
        hourglass.estimators.export.ExportResult
            The path, part, input and output shapes, size and onnxruntime check.

        Raises
        ------
        ExportError
            A part the model does not have (the decoder of a model with skip connections), or a
            layer PyTorch's exporter cannot trace (a user's own module, say).
        MissingDependencyError
            onnx, onnxscript or onnxruntime is not installed.
        OutputExistsError
            ``path`` exists and ``force`` is False.

        Examples
        --------
        >>> ae.export_onnx("model.onnx")                            # doctest: +SKIP
        >>> import onnxruntime                                      # doctest: +SKIP
        >>> session = onnxruntime.InferenceSession("model.onnx")    # doctest: +SKIP
        >>> code, recon = session.run(None, {"input": X.astype("float32")})  # doctest: +SKIP
        """
        from hourglass.estimators.export import export_onnx

        return export_onnx(self, path, part=part, force=force)

    def _export_encoder(self) -> torch.nn.Module:
        """Scaled input -> code, deterministic (a hook of :meth:`to_torch`)."""
        from hourglass.nn.portable import Encode

        return Encode(self.module_)

    def _export_decoder(self) -> torch.nn.Module:
        """Code ``(batch, *_code_shape())`` -> reconstruction in scaled units (a hook of :meth:`to_torch`)."""
        from hourglass.nn.portable import Decode

        if not getattr(self.module_, "decodes_codes_alone", True):
            from hourglass.exceptions import ExportError

            raise ExportError(
                f"this {type(self).__name__} has no decoder to export on its own: its decoder also reads "
                "the encoder's feature maps of the input (skip connections); export part='autoencoder'"
            )
        return Decode(self.module_)

    def _export_autoencoder(self) -> torch.nn.Module:
        """Scaled input -> ``(code, reconstruction)`` (a hook of :meth:`to_torch`).

        The encoder and decoder hooks chained, unless the network adds more to its output than
        its decoder gives (a restoration model's input, a U-Net's skips): then its ``forward``.
        """
        from hourglass.nn.conv_model import ResidualAutoEncoder
        from hourglass.nn.portable import EncodeDecode, Forward

        if isinstance(self.module_, ResidualAutoEncoder) or not getattr(
            self.module_, "decodes_codes_alone", True
        ):
            return Forward(self.module_)
        return EncodeDecode(self._export_encoder(), self._export_decoder())

    def _export_task_input(self) -> torch.nn.Module | None:
        """Raw input of the exported autoencoder -> the network's input, in raw units (None: as is)."""
        return None

    def _export_input_shape(self) -> tuple[int, ...]:
        """One sample's shape at the exported autoencoder's input."""
        shape = getattr(self, "input_shape_", None)
        return tuple(shape) if shape is not None else (int(self.n_features_in_),)

    # -- persistence -------------------------------------------------------------------------
    def _saved_attributes(self) -> dict[str, Any]:
        """Fitted state saved in ``config.json`` (JSON types only); subclasses extend it."""
        return {
            "loss_": self.loss_,
            "loss_reason_": self.loss_reason_,
            "n_features_in_": int(self.n_features_in_),
            "feature_names_in_": list(map(str, getattr(self, "feature_names_in_", []))) or None,
            "table_": self.table_.to_json() if getattr(self, "table_", None) is not None else None,
            "n_features_out": int(self._n_features_out),
            "seed_": int(self.seed_),
            "learning_rate_": getattr(self, "learning_rate_", None),
            "n_epochs_": int(self.n_epochs_),
            "fit_seconds_": float(self.fit_seconds_),
            "device_": self.device_,
            "validation_mse_": getattr(self, "validation_mse_", None),
            "validation_mse_scaled_": getattr(self, "validation_mse_scaled_", None),
            **self._bottleneck().saved_attributes(self),
            **self._input().saved_attributes(self),
        }

    def _saved_tensors(self) -> dict[str, np.ndarray]:
        """Extra fitted arrays saved in ``weights.safetensors`` (the bottleneck part's)."""
        return self._bottleneck().saved_tensors(self)

    def _restore_attributes(self, fitted: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        """Inverse of :meth:`_saved_attributes` and :meth:`_saved_tensors`."""
        from hourglass.data.table import TableSchema

        for name, value in fitted.items():
            if name == "feature_names_in_":
                if value:
                    self.feature_names_in_ = np.asarray(value, dtype=object)
            elif name == "table_":
                if value is not None:
                    self.table_ = TableSchema.from_json(value)
            elif name == "n_features_out":
                self._n_features_out = value
            else:
                setattr(self, name, value)
        names = getattr(self, "feature_names_in_", None)
        if getattr(self, "table_", None) is None and names is not None:
            # Saved before models kept their table: the names scikit-learn kept say as much.
            self.table_ = TableSchema(tuple(map(str, names)), (), n_features=len(names))
        self._bottleneck().restore(self, fitted, tensors)
        self._input().restore(self, fitted)

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Save to a folder of JSON config + safetensors weights (see :func:`hourglass.load`)."""
        for role in ("encoder", "decoder"):
            if isinstance(getattr(self, role, None), torch.nn.Module):
                raise InvalidInputError(
                    f"this model's {role} is a user's torch module, which a JSON config cannot rebuild; "
                    f"save it with torch.save(model.module_.state_dict(), ...) or pass {role}= a saved "
                    "hourglass model folder"
                )
        if not distributed.is_main():
            return Path(path)  # under torchrun, rank 0 writes the one copy
        return save_estimator(self, path, force=force)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags
