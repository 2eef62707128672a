"""The training loop: the recipe of a run, from setting up the optimizer to handing back the best weights.

The Trainer is put together from parts with one job each, which it reads like a recipe:

* :mod:`hourglass.train.epoch`: one epoch of optimizer steps (noise, precision, clipping);
* :mod:`hourglass.train.evaluation`: the held-out loss, and the loss of predicting the mean;
* :mod:`hourglass.train.stopping`: early stopping, the adaptive plan's end, the time budget;
* :mod:`hourglass.train.collapse`: a collapse recognised, and restarts from the best weights;
* :mod:`hourglass.train.resume`: what a checkpoint holds of the run, and resuming from it;
* :mod:`hourglass.train.history`: the per-epoch record and the recipe's line.

The loop works on in-memory tensors (moved to the device once and indexed there with a shuffled
index, no per-sample Python work) or on a ``torch.utils.data.Dataset`` for data larger than
memory (:mod:`hourglass.train.batching`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from hourglass.data.sources import ScaledRows
from hourglass.exceptions import TrainingDivergedError
from hourglass.nn.dropout import draws_by_rows
from hourglass.runtime import distributed
from hourglass.runtime.devices import preferred_memory_format, resolve_device
from hourglass.runtime.threads import resolve_threads, thread_limit
from hourglass.train import optimizer
from hourglass.train.batching import Corruption, Data, n_samples
from hourglass.train.collapse import (
    COLLAPSE_SHARE,
    DIVERGED_FACTOR,
    MIN_ROWS_TO_JUDGE,
    REFERENCE_FLOOR,
    RESTART_FACTOR,
    CollapseRecovery,
)
from hourglass.train.config import TrainConfig
from hourglass.train.epoch import EpochSteps
from hourglass.train.evaluation import Evaluation
from hourglass.train.history import History
from hourglass.train.losses import Regularizer
from hourglass.train.precision import forward_flops, resolve_precision
from hourglass.train.progress import Progress
from hourglass.train.resume import Checkpointing
from hourglass.train.schedule import (
    MIN_PLAN_EPOCHS,
    MIN_PLAN_STEPS,
    ProgressiveCosine,
    WarmupCosine,
    warmup_steps,
)
from hourglass.train.stopping import PATIENT_STRENGTH, StoppingRules, ran_all

# Names this module held before its parts had modules of their own: imported from here by users.
__all__ = [
    "COLLAPSE_SHARE",
    "DIVERGED_FACTOR",
    "MIN_ROWS_TO_JUDGE",
    "PATIENT_STRENGTH",
    "REFERENCE_FLOOR",
    "RESTART_FACTOR",
    "SMALL_MODEL_PARAMETERS",
    "Corruption",
    "Data",
    "History",
    "Trainer",
    "WarmupCosine",
    "resolve_device",
]


def _constant(step: int) -> float:
    return 1.0


#: Parameters up to which a model counts as small: its steps are bound by kernel launches on a
#: GPU, so CUDA graphs pay (the 784-1000-500-250-30 net has 2.2 M).
SMALL_MODEL_PARAMETERS = 50_000_000


def _small(model: nn.Module) -> bool:
    return sum(p.numel() for p in model.parameters()) <= SMALL_MODEL_PARAMETERS


class Trainer(EpochSteps, Evaluation, StoppingRules, CollapseRecovery, Checkpointing):
    """Fits an :class:`~hourglass.nn.model.AutoEncoder` in place.

    Parameters
    ----------
    model : AutoEncoder
        The module to train (moved to ``config.device``).
    config : TrainConfig
        Loop settings.
    loss : {'mse', 'bce'}
        Reconstruction loss (already resolved; see :func:`hourglass.train.losses.choose_loss`).
    regularizers : list of Regularizer
        Penalties added to the loss.
    corruption : callable, optional
        ``corruption(clean_batch, generator) -> input_batch``: the denoising / task input,
        drawn afresh for every batch; the clean batch is the target.
    epoch_metrics : callable, optional
        ``epoch_metrics(model, val_data) -> dict`` evaluated after each epoch (e.g. sparsity).
    checkpoint_dir : path, optional
        Folder to write a checkpoint to, atomically, as it trains: after the first and the last
        epoch, and after every epoch that ends ten times the last write's time after it (see
        :mod:`hourglass.train.resume`).
    fingerprint : dict, optional
        The run's fingerprint (:func:`hourglass.train.checkpoint.run_fingerprint`), recorded in every
        checkpoint; resuming refuses a checkpoint that records another.
    on_epoch_end : callable, optional
        ``on_epoch_end(epoch, logs) -> bool`` after every epoch (and any checkpoint); True stops
        training. Under torchrun training stops when any process asks.
    linear_floor : float, optional
        The monitored loss of the linear solution at the same code size (PCA's on the
        validation rows): while the best loss is above it, an adaptive run judges its gains
        against the loss itself (:meth:`~hourglass.train.stopping.StoppingRules._replan`).
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        loss: str,
        regularizers: list[Regularizer] | None = None,
        corruption: Corruption | None = None,
        epoch_metrics: Callable[[nn.Module, Data | None], dict[str, float]] | None = None,
        checkpoint_dir: str | Path | None = None,
        description: str = "training",
        fingerprint: dict | None = None,
        on_epoch_end: Callable[[int, dict[str, float]], bool] | None = None,
        linear_floor: float | None = None,
    ) -> None:
        self.config = config
        self.device = distributed.setup(resolve_device(config.device))
        self.model = model.to(self.device)
        # Under torchrun each process computes its share of every batch; DDP averages the
        # gradients. Buffers are not broadcast from rank 0: the TopK bottleneck keeps its
        # dead-unit statistics itself, over the whole batch of every process.
        self.memory_format = preferred_memory_format(self.model, self.device)
        if distributed.active() and self.memory_format is not None:
            # DDP lays out its gradient buckets by the parameters' strides when it wraps them:
            # wrapped before the channels-last conversion of fit(), every step would copy each
            # gradient into a bucket of the other layout (PyTorch warns "Grad strides do not
            # match bucket view strides").
            self.model.to(memory_format=self.memory_format)
        self.forward = distributed.data_parallel(self.model) if distributed.active() else self.model
        if config.compile:
            # Only the training forward is compiled: evaluation (eval mode, other batch sizes)
            # would need graphs of its own for a small share of the time. On CUDA, small models
            # are bound by kernel launches (the H200 ran the 784-1000-500-250-30 net at
            # ~400 steps/s whatever the batch): 'reduce-overhead' replays the step's kernels as
            # CUDA graphs, PyTorch's own way to remove that cost.
            mode = "reduce-overhead" if self.device.type == "cuda" and _small(model) else "default"
            self.forward = torch.compile(self.forward, mode=mode)
        # Resolved from the hardware alone until fit() knows the work of a step.
        self.precision, self.precision_reason = resolve_precision(config.precision, self.device)
        self._sample_flops: float | None = None  # read from the layers when fit sees its data
        self.loss = loss
        self.regularizers = list(regularizers or [])
        self.corruption = corruption
        self.epoch_metrics = epoch_metrics
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.description = description
        self.fingerprint = fingerprint
        self.on_epoch_end = on_epoch_end
        self.linear_floor = linear_floor
        self.history = History()
        self.progress: Progress | None = None

    def fit(
        self, train: Data, val: Data | None = None, resume: bool = False, *, incremental: bool = False
    ) -> History:
        """Train on ``train``, early-stopping on ``val`` (or on the training loss without it).

        A run of fixed length follows a cosine decay over ``config.epochs``; an adaptive one
        (``config.adaptive`` or ``config.max_time``) keeps its peak rate while learning goes
        on, then decays over a fifth of the run (:mod:`hourglass.train.schedule`) and ends with
        its best weights. A collapse (a NaN or infinite loss, or a validation loss that climbs
        back more than half-way from its best toward that of predicting the mean) sends
        training back to the best weights at a quarter of the learning rate, up to
        ``config.max_restarts`` times; then :class:`~hourglass.exceptions.TrainingDivergedError`
        names the epoch and what was tried, with the best weights kept in the checkpoint. With
        ``resume=True`` and a checkpoint in ``checkpoint_dir``, training continues from the
        epoch after the checkpoint and ends with the weights an uninterrupted run reaches (an
        adaptive run's plan is in the checkpoint; a time budget counts the seconds before); on
        another thread count than the checkpoint's, to rounding only, with a warning.

        With ``incremental=True`` (an estimator's ``partial_fit``, as scikit-learn's MLP sends
        ``partial_fit`` through ``_fit(incremental=True)``) it makes one pass over ``train``
        instead, keeping the optimizer, its step count and the history across calls, on the
        threads a fit would use (the caller's setting restored after); ``val`` and ``resume``
        do not apply.
        """
        config = self.config
        # In-memory data go where the model is, once (a Dataset's batches are moved one by one).
        if incremental or isinstance(train, (torch.Tensor, ScaledRows)):
            train = train.to(self.device)
        val = val.to(self.device) if isinstance(val, (torch.Tensor, ScaledRows)) else val
        if incremental:
            # A pass runs on the threads a fit would, and gives the caller's setting back after.
            step_flops = self._step_flops(train) if config.threads == "auto" else None
        else:
            step_flops = self._resolve_precision(train)
        threads, threads_rule = resolve_threads(config.threads, step_flops)
        if self.device.type != "cpu":
            threads_rule += f" (for the CPU side of training on {self.device.type})"
        with thread_limit(threads):
            if incremental:
                self.history.recipe.update(threads=threads, threads_rule=threads_rule)
                return self._fit_incremental(train)
            return self._fit(train, val, resume, threads, threads_rule)

    def _fit(self, train: Data, val: Data | None, resume: bool, threads: int, threads_rule: str) -> History:
        config = self.config
        if self.memory_format is not None:
            self.model.to(memory_format=self.memory_format)
        self._setup_optimizer(n_samples(train))
        self._steps_per_epoch_seen = self._steps_per_epoch(train)
        self._cap_steps = self._steps_per_epoch_seen * config.epochs
        monitored_data = val if val is not None and n_samples(val) else train
        baselines = self.baseline_losses(monitored_data, train)
        reference = baselines.own_mean
        self._judges_rises = n_samples(monitored_data) >= MIN_ROWS_TO_JUDGE and reference >= REFERENCE_FLOOR
        reference = self._reference = max(reference, REFERENCE_FLOOR)
        self._diverged_reference = max(baselines)
        self.history.recipe.update(
            learning_rate=config.learning_rate,
            grad_clip=config.grad_clip,
            noise_schedule=config.noise_schedule if self.corruption is not None else None,
            reference_loss=reference,
            linear_floor=self.linear_floor,
            precision=self.precision,
            precision_rule=self.precision_reason,
            threads=threads,
            threads_rule=threads_rule,
            schedule="progressive cosine" if self._adaptive else "warmup-cosine",
            max_time=config.time_budget,  # the user's, pretraining's share included
            pretrain_seconds=config.pretrain_seconds,
            setup_seconds=round(config.setup_seconds, 4),
            free_work=self.free_work(),
        )
        # Epoch 0's weights are the fallback of a collapse in the very first epoch.
        best_loss, bad_epochs, start = math.inf, 0, 1
        best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        spent = ""
        if resume:
            start, best_loss, best_state, bad_epochs = self._load_checkpoint()
            self.history.recipe.update(
                threads=threads,
                threads_rule=threads_rule,
                max_time=config.time_budget,
                pretrain_seconds=config.pretrain_seconds,
                setup_seconds=round(config.setup_seconds, 4),
            )
            spent = self._resumed_budget()
        self._clock = time.perf_counter()
        self._pace_marks = []
        self._save_seconds, self._unsaved_seconds = None, 0.0
        self.progress = Progress(
            self.description,
            config.epochs,
            self._steps_per_epoch(train),
            start,
            self.loss,
            config.verbose,
            max_time=config.max_time,
            clock=self._elapsed,
        )
        if resume:
            self.progress.say(self._resume_words(start))
        with self._own_random_state():
            # A budget spent before the interruption trains no more: the checkpoint's best weights.
            for epoch in range(start, start if spent else config.epochs + 1):
                self._seed_epoch(epoch)
                tic = time.perf_counter()
                terms = self.train_one_epoch(train, epoch)
                if not terms:  # an adaptive plan that ended exactly at the last epoch's end
                    break
                finite = math.isfinite(terms["loss"])
                val_loss = self.evaluate(val) if finite and val is not None and n_samples(val) else math.nan
                extra = self.epoch_metrics(self.model, val) if finite and self.epoch_metrics else {}
                monitored = val_loss if val is not None and n_samples(val) else terms["loss"]
                self._record(epoch, terms, val_loss, extra, time.perf_counter() - tic)
                warming = self._warming_up(epoch)
                collapse = self._collapse(terms, monitored, best_loss, reference, warming)
                if collapse is not None:
                    # Not an improvement either: patience keeps counting through restarts.
                    bad_epochs += 1
                    self._give_up_or_restart(epoch, collapse, best_loss, best_state, bad_epochs)
                elif not math.isfinite(best_loss) or monitored < best_loss - 1e-7 * abs(best_loss):
                    best_loss, bad_epochs = monitored, 0
                    best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                    self.history.best_epoch = epoch
                elif self._patience_counts(epoch):
                    bad_epochs += 1
                    if self._fading:
                        # Once the noise is low, the epochs since the best count, the fade's
                        # included: a best set while the noise faded is not waited for again.
                        bad_epochs = max(bad_epochs, epoch - self.history.best_epoch)
                h = self.history
                stop = self._stop_reason(epoch, bad_epochs)
                if self._adaptive:
                    self.progress.replan(self._schedule.plan)
                self.progress.epoch_end(epoch, h.train_loss[-1], val_loss, h.lr[-1], h.seconds[-1])
                # Early stopping only (patience, or learning that stopped gaining): a run that ends
                # at its time budget or epoch cap ran as planned, and says why in stop_reason.
                self.history.stopped_early = self._stops_early and epoch < config.epochs
                self.history.trained_seconds = self._elapsed()
                self._clock = time.perf_counter()
                if self.checkpoint_dir is not None:
                    last = bool(stop) or epoch == config.epochs
                    self._checkpoint_if_due(epoch, h.seconds[-1], last, best_loss, best_state, bad_epochs)
                # The hook sees every epoch, the last one too; it can only add a reason to stop.
                if self._hook_says_stop(epoch) and not stop:
                    self.history.stopped_by_callback = True
                    stop = "a callback asked to stop"
                if stop:
                    self.history.stop_reason = stop
                    break
            else:
                self.history.stop_reason = spent or ran_all(config.epochs)
        if not self.history.stop_reason:
            self.history.stop_reason = self._planned_end()
        self.history.trained_seconds = self._elapsed()
        self.progress.close()
        if self.history.best_epoch:
            self.model.load_state_dict(best_state)
        if self.memory_format is not None:
            # Hand back a model in the default layout, as it came in.
            self.model.to(memory_format=torch.contiguous_format)
        self.model.eval()
        return self.history

    def _own_random_state(self):
        """A context in which the global RNGs may be reseeded without touching the caller's."""
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        return torch.random.fork_rng(devices=devices)

    def _seed_epoch(self, epoch: int) -> None:
        """Seed dropout and the other global-RNG draws of ``epoch``: the same seed, the same run
        (``partial_fit``'s passes too: unseeded, two runs of a seed with dropout differed by 1 %
        in their loss)."""
        seed = self.config.seed * 7_919 + epoch
        if distributed.active() and (self.config.compile or not draws_by_rows(self.model)):
            # Every process seeds alike where a VAE's code noise and dropout's masks are drawn for
            # the whole batch and cut to its rows (distributed.batch_rows): one process's draws.
            # Dropout of torch's own, or compiled draws, use the tensor a process is given: one
            # seed everywhere would give rank 1's rows rank 0's draws again, so a seed a process.
            seed += 1_000_003 * distributed.rank()
        if self.device.type == "cpu":
            # The CPU generator alone: torch.manual_seed also queues CUDA's reseeding, formatting
            # a stack trace each time when CUDA is not in use (0.8 ms an epoch, 3 % of digits').
            torch.random.default_generator.manual_seed(seed)
        else:
            torch.manual_seed(seed)

    def start_incremental(self, n_items: int) -> None:
        """Set up the optimizer for ``partial_fit``: a constant rate, no end to schedule toward."""
        self._setup_optimizer(n_items)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _constant)
        if self.memory_format is not None:
            self.model.to(memory_format=self.memory_format)

    def _fit_incremental(self, train: Data) -> History:
        """One pass over ``train`` at a constant rate; a diverged pass is undone and refused.

        The first call sets up the optimizer (:meth:`start_incremental`); later calls train on
        with Adam's moments carried over. No validation, early stopping or restarts: there is
        no run to judge, only the chunk at hand, so the weights before it are all to go back to.
        """
        if not hasattr(self, "optimizer"):
            self.start_incremental(n_samples(train))
        epoch = len(self.history.epoch) + 1
        before = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        tic = time.perf_counter()
        with self._own_random_state():
            self._seed_epoch(epoch)
            terms = self.train_one_epoch(train, epoch)
        if not math.isfinite(terms["loss"]):
            self.model.load_state_dict(before)
            raise distributed.every_process(  # the loss is every process's mean
                TrainingDivergedError(
                    f"partial_fit: the training loss became {terms['loss']} on this chunk; the weights are "
                    "those before it (lower learning_rate)"
                )
            )
        self._record(epoch, terms, math.nan, {}, time.perf_counter() - tic)
        self.model.eval()
        return self.history

    def _setup_optimizer(self, n_train: int) -> None:
        steps_per_epoch = math.ceil(n_train / self.config.batch_size)
        total = steps_per_epoch * self.config.epochs
        params = [p for p in self.model.parameters() if p.requires_grad]
        # The fused kernel updates all parameters in one pass: on small models the per-tensor
        # Python and dispatch overhead of the loop implementation dominates a step.
        self.optimizer = optimizer.adamw(params, self.config.learning_rate, self.config.weight_decay)
        fixed_warmup = max(1, min(total // 20, 5 * steps_per_epoch))
        if self.config.adaptive:
            first = max(MIN_PLAN_EPOCHS * steps_per_epoch, MIN_PLAN_STEPS)
            schedule: WarmupCosine | ProgressiveCosine = ProgressiveCosine(
                first, total, warmup_steps(total, steps_per_epoch)
            )
        elif self.config.max_time is not None:
            # Without epochs='auto', a budget's plan is the epochs asked for, with the fixed run's
            # warm-up: a budget that never binds leaves the run as it was without one.
            schedule = ProgressiveCosine(total, total, fixed_warmup)
            schedule.frozen = True
        else:
            schedule = WarmupCosine(total, warmup=fixed_warmup)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)

    def _steps_per_epoch(self, train: Data) -> int:
        return max(1, math.ceil(n_samples(train) / self.config.batch_size))

    def _resolve_precision(self, train: Data) -> float | None:
        """Settle ``'auto'`` with the forward work of one step on this process; return that work."""
        step = self._step_flops(train)
        if self.config.precision == "auto":
            self.precision, self.precision_reason = resolve_precision("auto", self.device, step)
            if distributed.active():
                # Rank 0's choice for all: 'auto' times bf16 against fp32 on each process, and a
                # busier core chose otherwise (rank 0 in bf16, rank 1 in fp32, silently).
                self.precision, self.precision_reason = distributed.gather(
                    (self.precision, self.precision_reason)
                )[0]
        return step

    def _step_flops(self, train: Data) -> float | None:
        """Forward FLOPs of one training step on this process (None when unknown)."""
        if not n_samples(train):
            return None
        if self._sample_flops is None:  # once: partial_fit asks at every pass (12 % of 30-row ones)
            if isinstance(train, torch.Tensor):
                sample = train[0:1]
            else:
                item = train[0]
                item = item[0] if isinstance(item, (list, tuple)) else item
                sample = torch.as_tensor(item, device=self.device)[None]  # (1, ...)
            self._sample_flops = forward_flops(self.model, sample)
        flops = self._sample_flops
        # Under DDP each process computes its share of every batch; a table smaller than a batch
        # makes every step the whole table.
        rows = min(self.config.batch_size, n_samples(train))
        return None if flops is None else flops * rows / distributed.world_size()

    def _record(self, epoch: int, terms: dict[str, float], val_loss: float, extra: dict, seconds: float):
        h = self.history
        h.epoch.append(epoch)
        h.train_loss.append(terms["loss"])
        h.val_loss.append(val_loss)
        h.lr.append(self.optimizer.param_groups[0]["lr"])
        h.seconds.append(seconds)
        for name, value in terms.items():
            if name != "loss":
                h.terms.setdefault(name, []).append(value)
        for name, value in extra.items():
            h.metrics.setdefault(name, []).append(float(value))
