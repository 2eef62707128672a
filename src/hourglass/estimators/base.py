"""The shared base of the autoencoder estimators, holding the only ``fit``.

``__init__`` only stores parameters; ``fit`` builds ``module_`` (the PyTorch module), fits the
scaler, resolves the loss and trains; fitted state ends in ``_``. What differs between
estimators lives in the parts they hold: the input part (rows or grids,
:mod:`hourglass.estimators.inputs`) turns their data into a
:class:`~hourglass.data.sources.TrainingSource` and sizes the network, the bottleneck part
(:mod:`hourglass.estimators.bottlenecks`) makes it its kind of code; seeding, the split, the
scaler (fitted on training items only), the loss, the Trainer and the bookkeeping are the same
for every estimator: ``fit`` and ``partial_fit`` here run them in order, each a step of
:mod:`hourglass.estimators.fitting`. The fitted network runs over data in batches through
:mod:`hourglass.estimators.predicting`; export and saved state are
:mod:`hourglass.estimators.export` and :mod:`hourglass.estimators.fitted_state`.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from hourglass.data.loading import check_finite, check_ignored_y
from hourglass.data.scaling import scaler_from_summary
from hourglass.data.sources import ArraySource, TrainingSource
from hourglass.data.validation import checked_statistics
from hourglass.estimators import fitting, layerwise, parts, pca_baseline, pca_budget, pca_path
from hourglass.estimators.atomic import all_or_nothing
from hourglass.estimators.bottlenecks import BottleneckPart, bottleneck_part, sparsity_on
from hourglass.estimators.columns import remember_table
from hourglass.estimators.constraints import check_choices
from hourglass.estimators.fitting import AUTO_EPOCHS, AUTO_STEPS  # noqa: F401  (offered here too)
from hourglass.estimators.handing_over import HandingOver
from hourglass.estimators.input_space import in_input_space, layers_in_output
from hourglass.estimators.inputs import (  # the two functions lived here before the input parts
    InputPart,
    auto_learning_rate,  # noqa: F401
    input_part,
    reject_non_numeric_columns,  # noqa: F401
)
from hourglass.estimators.pca_baseline import baseline_pca
from hourglass.estimators.predicting import (
    PREDICT_BATCH,  # noqa: F401  (offered here too, where callers have always found it)
    batch_threads,
    check_out,
    code_array,
    device_of,
    output_dtype,
    pad_rows,
    reconstruction,
    run_batches,
)
from hourglass.exceptions import InvalidInputError
from hourglass.runtime.seeds import as_seed  # noqa: F401  (offered here too)
from hourglass.runtime.threads import resolve_threads, thread_limit
from hourglass.train.budget import parse_duration
from hourglass.train.losses import output_activation


class BaseAutoEncoder(HandingOver, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
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

    # -- fitting -----------------------------------------------------------------------------
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
        began = time.perf_counter()  # a time budget counts the set-up below too
        self._check_run_params()
        self._check_params()
        check_choices(self)
        check_ignored_y(X, y)
        previous = fitting.warm_state(self)
        earlier = (
            [*self.history_.earlier_train_loss, *self.history_.train_loss] if previous is not None else []
        )
        self._partial_trainer = None  # partial_fit after this fit starts from its weights
        X = remember_table(self, X, y)
        part = self._input(X)
        source = part.training_source(self, X)
        head = source.head()
        part.check_code_size(self, head)
        run = fitting.start_run(self, source, resume)
        train_idx, val_idx, split_note = fitting.split_source(self, source)
        # Statistics from the training items only: validation items stay unseen.
        summary = self._settle_scaling_and_architecture(
            source, head, train_idx, continues=previous is not None, resume=resume
        )
        if previous is not None:
            fitting.continue_from(self, previous)
        else:
            fitting.build_module(self)
        train = source.training_data(train_idx, self.scaler_)
        val = source.training_data(val_idx, self.scaler_) if len(val_idx) else None
        fitting.keep_report_samples(self, train, val)
        spent, taken = fitting.prepare_module(self, train, resume) if previous is None else (0.0, 0.0)
        # PCA at the same code size, before training: a network still above its error has not
        # stopped learning where its gains look small beside the mean's loss (Trainer's floor).
        pca_error = pca_baseline.validation_error(
            self, baseline_pca(self, source, train_idx, val_idx), source, val_idx
        )
        setup = max(0.0, time.perf_counter() - began - taken)
        config = fitting.main_config(self, len(train_idx), fitting.loader_workers(source), spent, setup)
        floor = pca_error if self.loss_ == "mse" else None  # the monitored loss's units
        trainer = fitting.make_trainer(self, self.module_, config, fingerprint=run, linear_floor=floor)
        layerwise.record(self, trainer.history, spent)  # a resume does not pretrain again
        self.history_ = trainer.history  # callbacks can read it during training
        tic = time.perf_counter()
        self.history_ = trainer.fit(train, val, resume=resume)
        self.history_.earlier_train_loss = earlier
        self.history_.recipe["learning_rate_rule"] = self.learning_rate_reason_
        self.history_.recipe.update(statistics=summary.basis, **split_note)
        if hasattr(self, "pca_path_reason_"):
            self.history_.recipe["pca_path"] = self.pca_path_reason_
            self.history_.recipe["pca_path_on"] = bool(self.pca_path_)
        # Layer-wise pretraining's seconds count: they are part of the time budget too.
        self.fit_seconds_ = time.perf_counter() - tic + taken
        self.validation_mse_, self.validation_mse_scaled_ = fitting.validation_mse(self, source, val_idx)
        self.validation_pca_mse_ = pca_error
        self.n_epochs_ = len(self.history_.epoch)
        self.device_ = str(trainer.device)
        self._n_features_out = self._code_width()
        self._bottleneck().after_fit(self)
        fitting.warn_if_budget_short(self)
        return self

    def _settle_scaling_and_architecture(
        self,
        source: TrainingSource,
        head: np.ndarray,
        items: np.ndarray,
        partial: bool = False,
        continues: bool = False,
        resume: bool = False,
    ):
        """Scaler, loss and architecture from the statistics of ``items`` (the first chunk of
        ``partial_fit`` when ``partial``; ``continues``: a warm start; ``resume``: from a
        checkpoint); returns the summary."""
        part = self._input()
        summary = checked_statistics(source, items, part.scaler_channel_axis)
        # A feature constant in a sample of the items, or in partial_fit's first chunk, may vary.
        every_item = not partial and summary.n_items == len(items)
        self.scaler_ = scaler_from_summary(summary, self.scaling, constants_exact=every_item)
        # An encoder frozen from a model folder reads inputs in the units it was trained in.
        self.scaler_ = parts.encoder_scaler(self, self.scaler_)
        self.statistics_basis_ = summary.basis
        scaled = summary.scaled(self.scaler_)
        self.data_range_ = (scaled.lo, scaled.hi)  # salt-and-pepper noise writes these
        code = self._bottleneck()
        self.loss_, self.loss_reason_ = code.choose_loss(self, scaled)
        # The input part sizes the network; the bottleneck part makes it its kind of code.
        config = part.architecture(self, head, output_activation(self.loss_, scaled))
        self.architecture_ = code.architecture(self, config)
        budget = functools.partial(pca_budget.budget_rule, self, source, items, resume)
        pca_path.resolve(self, len(items), partial=partial, continues=continues, budget_rule=budget)
        return summary

    @all_or_nothing
    def partial_fit(self, X: Any, y: Any = None) -> BaseAutoEncoder:
        """One pass over ``X`` (a batch or a chunk of a stream), keeping the optimizer between calls.

        The first call fits the scaler on its ``X``, builds the module and the optimizer; later
        calls train on, with Adam's moments carried over, at the constant rate ``learning_rate_``
        (there is no known end to schedule toward) and with any input noise at its full level.
        No validation split, early stopping, collapse restarts or time budget (a pass is never
        cut short by ``max_time``): that is ``fit``'s job. The
        pass is the Trainer's (``Trainer.fit(incremental=True)``), kept in ``_partial_trainer``.
        A saved model holds weights, not the optimizer: after ``save`` and :func:`hourglass.load`,
        ``partial_fit`` starts Adam's moments afresh (a pickled estimator keeps them).

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
        self._check_run_params()  # fit's refusal of a bad thread count or budget
        check_ignored_y(X, y)
        if not hasattr(self, "module_"):
            trainer = fitting.start_partial(self, X)
            data, self._partial_data = self._partial_data, None  # do not pin the caller's array
        else:
            # Checked before anything moves: a chunk of another width changes nothing.
            checked = self._validate_input(X, reset=False)
            data = ArraySource(checked).training_data(np.arange(len(checked)), self.scaler_)
            trainer = getattr(self, "_partial_trainer", None)
            trainer = trainer or fitting.incremental_trainer(self, len(checked))
        self.history_ = trainer.fit(data, incremental=True)
        self.n_epochs_ = len(trainer.history.epoch)
        self.fit_seconds_ = getattr(self, "fit_seconds_", 0.0) + trainer.history.seconds[-1]
        return self

    @property
    def n_iter_(self) -> int:
        """Epochs run (passes for ``partial_fit``), over every fit a warm start continued, as
        scikit-learn's MLP counts them (``n_epochs_``: the last fit's)."""
        return len(self.history_.earlier_train_loss) + len(self.history_.epoch)

    @property
    def loss_curve_(self) -> list[float]:
        """The training loss after every epoch, over every fit a warm start continued, as
        scikit-learn's MLP records it."""
        return [*self.history_.earlier_train_loss, *self.history_.train_loss]

    def _code_width(self) -> int:
        return math.prod(self._code_shape())

    def _code_shape(self) -> tuple[int, ...]:
        """Shape of one sample's code in the module (flat, or a feature map for spatial codes)."""
        return self._input().code_shape(self)

    # -- using a fitted model ----------------------------------------------------------------
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
        dtype = output_dtype(X)
        check_out(out, (data.shape[0], self._n_features_out), dtype)
        codes = run_batches(self, self.module_.encode, data, scale=True, out=out)
        if out is not None:
            return out  # itself, as documented, not a view of it
        return codes.reshape(codes.shape[0], -1).astype(dtype, copy=False)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode codes back to data, in the units of the training data.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_codes)
            Codes as :meth:`transform` gives them (flattened feature maps for a spatial code).

        Returns
        -------
        ndarray of shape (n_samples, ...)
            Shaped like the training data; float32 for float32 codes, else float64. After
            ``set_output(transform="pandas")``, rows come as a DataFrame named by the input's
            columns, with the index of codes given as a DataFrame.

        Raises
        ------
        InvalidInputError
            For codes of another width, or values that are not finite numbers.
        """
        check_is_fitted(self, "module_")
        codes = code_array(X)
        if codes.ndim != 2 or codes.shape[1] != self._n_features_out:
            raise InvalidInputError(
                f"codes have shape {codes.shape}; expected (n_samples, {self._n_features_out})"
            )
        codes = check_finite(codes, "codes").reshape(len(codes), *self._code_shape())
        out = run_batches(self, self.module_.decode, codes, unscale=True)
        return in_input_space(self, out.astype(output_dtype(X), copy=False), X)

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
            After ``set_output(transform="pandas")`` (and without ``out``), rows come as a
            DataFrame with ``X``'s columns and index, as ``transform``'s codes do.

        Examples
        --------
        >>> out = np.lib.format.open_memmap("recon.npy", "w+", np.float32, X.shape)  # doctest: +SKIP
        >>> model.reconstruct(X, out=out)  # doctest: +SKIP
        """
        check_is_fitted(self, "module_")
        data = self._validate_input(X, reset=False)
        check_out(out, data.shape, output_dtype(X))
        result = run_batches(self, reconstruction(self.module_), data, scale=True, unscale=True, out=out)
        if out is not None:
            return out  # itself, as documented, whatever the output container
        return in_input_space(self, result.astype(output_dtype(X), copy=False), X)

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

        recon = reconstruction(self.module_)
        return run_batches(self, recon, data, scale=True, unscale=True, post=row_errors).astype(np.float64)

    def score_samples(self, X: Any) -> np.ndarray:
        """Negative per-sample reconstruction MSE in the data's raw units (higher is better).

        Parameters
        ----------
        X : array-like
            Data shaped like the training data.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return -self.reconstruction_error(X)

    def score(self, X: Any, y: Any = None) -> float:
        """Negative mean reconstruction MSE over ``X`` in the data's raw units (higher is better).

        What ``GridSearchCV`` selects on by default. Raw units compare models of any
        ``scaling``, but in a table whose columns differ in scale the largest column decides
        (wine's proline); put a ``StandardScaler`` before the autoencoder in a pipeline, or
        score with ``-reconstruction_error(X, scaled=True).mean()`` (the units of
        ``validation_mse_scaled_``), to weigh every column alike.

        Parameters
        ----------
        X : array-like
            Data shaped like the training data.
        y : None
            Ignored (scikit-learn's signature).

        Returns
        -------
        float
        """
        return float(np.mean(self.score_samples(X)))

    def layer_outputs(self, X: Any) -> dict[str, Any]:
        """The representation of ``X`` after every layer, by name, from input to reconstruction.

        The names are those of the module's
        :meth:`hourglass.nn.model.AutoEncoder.layer_outputs`: ``encoder.<layer>``, ``code``,
        ``decoder.<layer>`` and ``reconstruction``. The hidden layers and the code are in the
        network's own units (it reads ``X`` scaled by ``scaler_``; ``code`` is what
        ``transform`` gives); ``reconstruction`` is in the data's units, unscaled as
        ``reconstruct(X)`` gives it (and equal to it).

        Parameters
        ----------
        X : array-like
            Data shaped like the training data.

        Returns
        -------
        dict of str to ndarray
            Each layer's output, one row per sample, in the order the data passes them;
            float32, but ``reconstruction`` in ``reconstruct``'s dtype. After
            ``set_output(transform="pandas")``, each a DataFrame with ``X``'s index:
            ``reconstruction`` named by the input's columns, ``code`` by
            ``get_feature_names_out()``, any other layer by its name and unit
            (``encoder.layer1_0, encoder.layer1_1, ...``). A convolutional model's layers
            (feature maps, images) stay arrays.

        Examples
        --------
        >>> layers = ae.layer_outputs(X[:5])  # doctest: +SKIP
        >>> np.array_equal(layers["reconstruction"], ae.reconstruct(X[:5]))  # doctest: +SKIP
        True
        """
        check_is_fitted(self, "module_")
        # float32 before scaling and padded rows, as run_batches does: the same numbers as
        # transform and reconstruct give, to the last bit.
        data = np.ascontiguousarray(self._validate_input(X, reset=False), dtype=np.float32)
        rows = len(data)
        self.module_.eval()
        tensor = torch.from_numpy(pad_rows(self.scaler_.transform(data))).to(device_of(self))
        with thread_limit(batch_threads(self, self.module_.layer_outputs, data, True)):
            outputs = {
                k: v[:rows].float().cpu().numpy() for k, v in self.module_.layer_outputs(tensor).items()
            }
        # The module's reconstruction is in scaled units (z-scores, say): back to the data's.
        recon = self.scaler_.inverse_transform(outputs["reconstruction"])
        outputs["reconstruction"] = recon.astype(output_dtype(X), copy=False)
        return layers_in_output(self, outputs, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        # Rows take SciPy sparse matrices, made dense once (a VAE asked to be convolutional
        # reads grids, which do not).
        tags.input_tags.sparse = self.input_kind == "rows" and getattr(self, "arch", "dense") != "conv"
        return tags
