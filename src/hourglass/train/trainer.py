"""The training loop: batches, validation, early stopping, checkpoints.

The loop works on in-memory tensors (moved to the device once and indexed there with a shuffled
index, no per-sample Python work) or on a ``torch.utils.data.Dataset`` for data larger than
memory. A step never waits for the device: loss sums stay on it and are read once an epoch.
Randomness is drawn from generators seeded by ``(seed, epoch)``, so a run resumed from the
checkpoint of epoch ``e`` draws exactly what the uninterrupted run drew from epoch ``e + 1`` on.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hourglass.data.sources import ScaledRows, iterate_batches
from hourglass.exceptions import InvalidInputError, ModelFileError, TrainingDivergedError
from hourglass.runtime import distributed
from hourglass.runtime.threads import resolve_threads, thread_limit
from hourglass.train import checkpoint, optimizer
from hourglass.train.config import TrainConfig
from hourglass.train.losses import Regularizer, total_loss
from hourglass.train.precision import autocast, forward_flops, matmul_scope, resolve_precision
from hourglass.train.progress import Progress
from hourglass.train.schedule import (
    EXTEND_GAIN,
    GAIN_WINDOW,
    MIN_PLAN_EPOCHS,
    MIN_PLAN_STEPS,
    ProgressiveCosine,
    WarmupCosine,
    plateau_gain,
    warmup_steps,
)

Corruption = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
Data = torch.Tensor | torch.utils.data.Dataset

#: A loss that climbs back more than this share of the way from its best toward the loss of
#: predicting the mean (or, before the model beats the mean, above 1.5 times its best) counts
#: as a collapse.
COLLAPSE_SHARE = 0.5
#: A loss this many times that of predicting the mean has diverged, even in the first epoch.
DIVERGED_FACTOR = 100.0
#: With a fading noise, early stopping counts epochs without improvement only once the noise is
#: below this share of its level: before, the clean validation loss moves with the noise as much
#: as with overfitting (on iris at code 2, stopping earlier left the autoencoder at 1.18x PCA's
#: error; letting the noise fade, 0.87x).
PATIENT_STRENGTH = 0.1
#: The collapse and divergence checks compare losses with predicting the mean, but never with
#: less than this (in the scaled units training sees, where data have about unit spread): one
#: training row, or constant columns, make the mean's loss zero, and every model would then
#: look diverged (scikit-learn's single-sample check raised TrainingDivergedError).
REFERENCE_FLOOR = 1e-2
#: Rows of monitored data below which only a diverged loss is judged a collapse, not a rise from
#: the best: on a few rows a rising held-out loss is the overfitting of a tiny table, and the
#: loss moves with every draw of noise (a 20-row table restarted three times, then gave up).
MIN_ROWS_TO_JUDGE = 10
#: After a collapse, training goes on from the best weights at this share of the learning rate.
RESTART_FACTOR = 0.25


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Return the torch device for ``device``: ``'auto'`` picks CUDA when it is available.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidInputError(f"device={device!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"device={device!r} was asked for, but CUDA is not available here; use 'cpu'")
    return resolved


@dataclass
class History:
    """Per-epoch record of a training run (saved as JSON with the model)."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    terms: dict[str, list[float]] = field(default_factory=dict)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = 0
    stopped_early: bool = False
    #: What the training recipe decided: the learning rate and why, clipping, noise schedule.
    recipe: dict[str, Any] = field(default_factory=dict)
    #: One entry per collapse the loop recovered from: epoch, reason, the new learning rate.
    restarts: list[dict[str, Any]] = field(default_factory=list)
    #: Whether an ``on_epoch_end`` hook (a user's callback) asked to stop.
    stopped_by_callback: bool = False
    #: Why training ended, in words (the end-of-fit line shows it).
    stop_reason: str = ""
    #: Seconds of training so far, over every resumed part of the run.
    trained_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def recipe_summary(self) -> str:
        """One line on what the training recipe decided: the rate, the noise, any restarts.

        Examples
        --------
        >>> History(recipe={"learning_rate": 0.01, "learning_rate_rule": "set by the user"}).recipe_summary()
        'learning rate 0.01 (set by the user); no collapse'
        """
        recipe = self.recipe
        if not recipe:
            return "no training recipe recorded (a model saved before it was)"
        rule = recipe.get("learning_rate_rule", "set by the user")
        line = f"learning rate {_number(recipe.get('learning_rate'))} ({rule})"
        if recipe.get("precision"):
            line += f"; precision {recipe['precision']} ({recipe.get('precision_rule', 'set by the user')})"
        if recipe.get("noise_schedule"):
            line += f"; input noise {recipe['noise_schedule']}"
        if recipe.get("threads"):
            line += f"; {recipe['threads']} thread(s) ({recipe.get('threads_rule', 'set by the user')})"
        if not self.restarts:
            return line + "; no collapse"
        where = ", ".join(
            f"epoch {r.get('epoch')} -> {_number(r.get('learning_rate'))}" if isinstance(r, dict) else repr(r)
            for r in self.restarts
        )
        return line + f"; {len(self.restarts)} restart(s) from the best weights after a collapse ({where})"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(**data)

    def monitored(self) -> list[float]:
        """The loss early stopping watched each epoch: validation, or training without a split."""
        return [v if math.isfinite(v) else t for v, t in zip(self.val_loss, self.train_loss, strict=True)]


def _constant(step: int) -> float:
    return 1.0


def _number(value: Any) -> str:
    """``value`` to 3 significant digits, or as it is when a saved history holds no number there."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.3g}"
    return repr(value)


def _n_samples(data: Data) -> int:
    return data.shape[0] if isinstance(data, torch.Tensor) else len(data)  # type: ignore[arg-type]


def _batches(
    data: Data,
    batch_size: int,
    generator: torch.Generator | None,
    device: torch.device,
    workers: int = 0,
    shard: tuple[int, int] | None = None,
):
    """Yield device batches of ``data``, shuffled with ``generator`` (or in order when None)."""
    return iterate_batches(data, batch_size, generator, device, workers, shard)


def _sharded(data: Data) -> tuple[int, int] | None:
    """(rank, world size) when each process should read only its share of every batch.

    Data read lazily (a file, photos) are read by shares under torchrun: each process reads its
    slice of every global batch. Data in memory are already in every process, where drawing the
    whole batch and its noise and slicing it gives exactly the single-process weights.
    """
    if not distributed.active() or isinstance(data, (torch.Tensor, ScaledRows)):
        return None
    return distributed.rank(), distributed.world_size()


def _memory_format(model: nn.Module, device: torch.device) -> torch.memory_format | None:
    """Channels-last for convolutional models on the CPU, None otherwise.

    oneDNN's convolutions run on channels-last tensors without reordering them at every layer:
    measured +39 % training throughput for a small 2-D U-Net on 2 Zen 3 cores
    (benchmarks/images_restoration.py's network). CUDA keeps the default layout, where fp32
    convolutions gain little from it.
    """
    if device.type != "cpu":
        return None
    ndims = {p.ndim for p in model.parameters()}
    if 5 in ndims:
        return torch.channels_last_3d
    return torch.channels_last if 4 in ndims else None


#: Parameters up to which a model counts as small: its steps are bound by kernel launches on a
#: GPU, so CUDA graphs pay (the 784-1000-500-250-30 net has 2.2 M).
SMALL_MODEL_PARAMETERS = 50_000_000


def _small(model: nn.Module) -> bool:
    return sum(p.numel() for p in model.parameters()) <= SMALL_MODEL_PARAMETERS


def _global_batch_sizes(n: int, batch_size: int) -> list[int]:
    """Sizes of the shuffled batches :func:`~hourglass.data.sources.iterate_batches` splits ``n`` into."""
    if n == 0:
        return []
    k = math.ceil(n / batch_size)
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _epoch_generator(
    seed: int, epoch: int, salt: int = 0, device: torch.device | None = None
) -> torch.Generator:
    """The generator of ``(seed, epoch, salt)``: on the CPU, or on a CUDA ``device`` for noise drawn there."""
    device = device if device is not None and device.type == "cuda" else torch.device("cpu")
    return torch.Generator(device=device).manual_seed((seed * 1_000_003 + epoch * 7_919 + salt) % (2**63))


class Trainer:
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
        Folder to write a checkpoint to, atomically, after every epoch (see
        :mod:`hourglass.train.checkpoint`).
    fingerprint : dict, optional
        The run's fingerprint (:func:`hourglass.train.checkpoint.run_fingerprint`), recorded in every
        checkpoint; resuming refuses a checkpoint that records another.
    on_epoch_end : callable, optional
        ``on_epoch_end(epoch, logs) -> bool`` after every epoch (and its checkpoint); True stops
        training. Under torchrun training stops when any process asks.
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
    ) -> None:
        self.config = config
        self.device = distributed.setup(resolve_device(config.device))
        self.model = model.to(self.device)
        # Under torchrun each process computes its share of every batch; DDP averages the
        # gradients. Buffers are not broadcast from rank 0: the TopK bottleneck keeps its
        # dead-unit statistics itself, over the whole batch of every process.
        self.memory_format = _memory_format(self.model, self.device)
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
        self.loss = loss
        self.regularizers = list(regularizers or [])
        self.corruption = corruption
        self.epoch_metrics = epoch_metrics
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.description = description
        self.fingerprint = fingerprint
        self.on_epoch_end = on_epoch_end
        self.history = History()
        self.progress: Progress | None = None

    # -- one epoch ---------------------------------------------------------------------------
    def _step_inputs(
        self, batch: torch.Tensor, generator: torch.Generator | None, strength: float = 1.0
    ) -> torch.Tensor:
        inputs = batch
        if self.corruption is not None and generator is not None and strength > 0:
            inputs = self.corruption(batch, generator)
            if strength < 1:
                # A weaker corruption: the clean batch moved part of the way toward the corrupted
                # one (exactly sigma * strength for Gaussian noise).
                inputs = batch + strength * (inputs - batch)
        if self.memory_format is not None and inputs.ndim == (
            5 if self.memory_format == torch.channels_last_3d else 4
        ):
            inputs = inputs.contiguous(memory_format=self.memory_format)
        return inputs

    @property
    def _fading(self) -> bool:
        """Whether the corruption is a regularizing noise that fades out (judged on clean inputs)."""
        return self.corruption is not None and self.config.noise_schedule != "constant"

    @property
    def _schedule(self) -> WarmupCosine | ProgressiveCosine:
        return self.scheduler.lr_lambdas[0]

    @property
    def _adaptive(self) -> bool:
        """Whether the run's end is decided while it trains (``epochs='auto'`` or a time budget)."""
        return isinstance(self._schedule, ProgressiveCosine)

    @property
    def _step(self) -> int:
        """Optimizer steps taken so far in this run (the scheduler counts them)."""
        return int(self.scheduler.last_epoch)

    def corruption_strength(self, epoch: int) -> float:
        """How strongly the corruption applies at ``epoch``: 1, or a cosine decay to 0.

        With ``noise_schedule='cosine'`` the input noise is a regularizer that fades out: strong
        early, when it keeps the network from fitting noise, gone by the last epoch, so the
        model ends trained on the clean inputs it is used on (scheduled denoising, Geras and
        Sutton 2015). A run whose end is decided as it goes fades it over its plan step by step,
        holding it while the plan is stretched (:class:`~hourglass.train.schedule.ProgressiveCosine`).
        """
        if not self._fading:
            return 1.0
        if hasattr(self, "scheduler") and self._adaptive:
            return self._schedule.noise(self._step)
        progress = (epoch - 1) / max(1, self.config.epochs - 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    def _patience_counts(self, epoch: int) -> bool:
        """Whether an epoch without improvement counts toward early stopping."""
        if self._warming_up(epoch):
            return False
        return not self._fading or self.corruption_strength(epoch) <= PATIENT_STRENGTH

    def _warming_up(self, epoch: int) -> bool:
        """Whether the model's own objective still changes with the epoch (a VAE's KL warm-up).

        Its validation loss is then not comparable from epoch to epoch: a rise is no collapse and
        no reason to stop early.
        """
        warming = getattr(self.model, "warming_up", None)
        return bool(warming(epoch)) if callable(warming) else False

    def train_one_epoch(self, data: Data, epoch: int) -> dict[str, float]:
        """One pass over ``data``; returns the mean of each loss term (inf where it diverged)."""
        self.model.train()
        generator = _epoch_generator(self.config.seed, epoch)
        strength = self.corruption_strength(epoch)
        # A model with a schedule of its own (a VAE's KL warm-up) learns the epoch here, as the noise does.
        start_epoch = getattr(self.model, "start_epoch", None)
        if callable(start_epoch):
            start_epoch(epoch)
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        sums: dict[str, torch.Tensor] = {}
        count = 0
        shard = _sharded(data)
        # A process reading its own share draws its own noise for it. On CUDA noise is drawn
        # there, from a generator of its own (the shuffle stays on the CPU generator).
        if shard is None:
            noise = (
                generator
                if self.device.type != "cuda"
                else _epoch_generator(self.config.seed, epoch, salt=2, device=self.device)
            )
        else:
            noise = _epoch_generator(self.config.seed, epoch, salt=2 + shard[0], device=self.device)
        adaptive = hasattr(self, "scheduler") and self._adaptive
        # The size of every global batch, which a process reading its share of a Dataset does not
        # see: the shuffled batches of iterate_batches, whose sizes no shuffle changes.
        sizes = iter(_global_batch_sizes(_n_samples(data), self.config.batch_size))
        with matmul_scope(self.device, self.precision):
            batches = _batches(
                data, self.config.batch_size, generator, self.device, self.config.workers, shard
            )
            for batch in batches:
                if adaptive:
                    if self._run_ends_now():
                        break  # the plan ends inside this epoch: stop at its last step
                    strength = self.corruption_strength(epoch)
                whole = batch.shape[0] if shard is None else next(sizes)
                count += self._train_step(batch, noise, strength, params, sums, shard is None, whole)
                if self.progress is not None:
                    self.progress.step()
        if not count:  # the plan ended on the epoch's first step
            return {}
        names = sorted(sums)
        # The same epoch means on every process, so that restarts and stopping agree: the sums
        # and counts of all processes added up, the means of one process over the whole data.
        # This is the epoch's one read from the device.
        values = [torch.as_tensor(sums[name], device=self.device).float() for name in names]
        totals = torch.stack([*values, torch.tensor(float(count), device=self.device)])
        totals = distributed.all_reduce_sum(totals)
        means = totals[:-1] / totals[-1]
        return {name: float(value) for name, value in zip(names, means.tolist(), strict=True)}

    def _train_step(
        self,
        batch,
        generator,
        strength: float,
        params,
        sums: dict[str, torch.Tensor],
        sliced: bool = True,
        whole: int | None = None,
    ) -> int:
        """One optimizer step on ``batch``; adds each loss term times the batch size to ``sums``.

        ``sliced``: under torchrun, ``batch`` is the whole global batch and this process takes
        its slice; otherwise it is already this process's share, of a global batch of ``whole``
        samples.
        """
        inputs = self._step_inputs(batch, generator, strength)
        whole = batch.shape[0] if whole is None or sliced else whole
        if distributed.active() and sliced:
            # Every process draws the same batch and the same noise; each computes its
            # slice, so the averaged gradient is the whole batch's, as in one process.
            part = distributed.rank()
            inputs = torch.tensor_split(inputs, distributed.world_size())[part]
            batch = torch.tensor_split(batch, distributed.world_size())[part]
        with autocast(self.device, self.precision):
            outputs = self.forward(inputs)
        parts = total_loss(self.model, inputs, batch, outputs, self.loss, self.regularizers)
        self.optimizer.zero_grad(set_to_none=True)
        loss = parts["loss"]
        if distributed.active():
            # Each process's loss is a mean over its share, and DDP averages the processes'
            # gradients: weighted by its share of the global batch, the average is the whole
            # batch's gradient, as in one process, also where the batch does not split evenly
            # (equal batches of 43 rows give shares of 22 and 21; unweighted, two processes
            # drifted 1e-3 from one process's weights in three epochs).
            loss = loss * (batch.shape[0] * distributed.world_size() / whole)
        loss.backward()
        if self.config.grad_clip > 0:
            # One outlying batch cannot throw the weights far; with a loss that is a mean the
            # norm sits well below the bound in ordinary steps, so this rarely acts.
            torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip, foreach=True)
        optimizer.step(self.optimizer)
        self.scheduler.step()
        n = batch.shape[0]
        for name, value in parts.items():
            # An empty share (a global batch smaller than the processes) has a NaN mean.
            sums[name] = sums.get(name, 0.0) + (value.detach() * n if n else 0.0)
        return n

    @torch.no_grad()
    def evaluate(self, data: Data) -> float:
        """Mean loss over ``data`` in eval mode, with corruption drawn from a fixed generator.

        Never under autocast: the model is judged (and its best epoch picked) in the fp32 it is
        used in by ``transform`` and ``reconstruct``.
        """
        self.model.eval()
        # A fading regularizing noise is judged on clean inputs, as the model will be used; a
        # task's corruption (denoise, ...) is part of what is judged, drawn from a fixed generator.
        generator = (
            None if self._fading else _epoch_generator(self.config.seed, 0, salt=1, device=self.device)
        )
        losses: list[tuple[torch.Tensor, int]] = []
        shard = _sharded(data)
        with matmul_scope(self.device, self.precision):
            for batch in _batches(data, max(self.config.batch_size, 1024), None, self.device, shard=shard):
                inputs = self._step_inputs(batch, generator)
                outputs = self.model(inputs)
                parts = total_loss(self.model, inputs, batch, outputs, self.loss, self.regularizers)
                losses.append((parts["loss"], batch.shape[0]))
        # One read from the device for the whole pass, then the same float64 sum as ever.
        values = torch.stack([loss for loss, _ in losses]).tolist() if losses else []
        total = sum(value * n for value, (_, n) in zip(values, losses, strict=True))
        count = sum(n for _, n in losses)
        if shard is not None:  # each process judged its share: add them up
            summed = distributed.all_reduce_sum(
                torch.tensor([total, count], dtype=torch.float64, device=self.device)
            )
            total, count = summed.tolist()
        return total / max(count, 1)

    # -- the whole run -----------------------------------------------------------------------
    def _setup_optimizer(self, n_train: int) -> None:
        steps_per_epoch = math.ceil(n_train / self.config.batch_size)
        total = steps_per_epoch * self.config.epochs
        params = [p for p in self.model.parameters() if p.requires_grad]
        # The fused kernel updates all parameters in one pass: on small models the per-tensor
        # Python and dispatch overhead of the loop implementation dominates a step.
        self.optimizer = optimizer.adamw(params, self.config.learning_rate, self.config.weight_decay)
        if self.config.adaptive or self.config.max_time is not None:
            # Without epochs='auto', a budget's plan starts at the epochs asked for.
            first = max(MIN_PLAN_EPOCHS * steps_per_epoch, MIN_PLAN_STEPS) if self.config.adaptive else total
            schedule: WarmupCosine | ProgressiveCosine = ProgressiveCosine(
                first, total, warmup_steps(total, steps_per_epoch)
            )
            schedule.frozen = not self.config.adaptive
        else:
            schedule = WarmupCosine(total, warmup=max(1, min(total // 20, 5 * steps_per_epoch)))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)

    # -- when the run ends -------------------------------------------------------------------
    def _elapsed(self) -> float:
        """Seconds of training in this run, those of the parts before a resume included."""
        return self.history.trained_seconds + time.perf_counter() - self._clock

    def _elapsed_everywhere(self) -> float:
        """:meth:`_elapsed` of the slowest process, so that every process takes the same decision."""
        if not distributed.active():
            return self._elapsed()
        return float(distributed.all_reduce_max(torch.tensor([self._elapsed()], device=self.device))[0])

    def _seconds_per_step(self) -> float:
        """What a step has cost so far, its share of validation included."""
        return self._elapsed() / max(1, self._step)

    def _run_ends_now(self) -> bool:
        """Before each step of an adaptive run: whether the plan is done or the time budget spent.

        Read at every step, so that a run whose epochs are long against its budget ends within
        a step of it, not at an epoch's end. Under torchrun the processes' clocks differ: their
        decisions are taken at epoch ends, together.
        """
        if self._schedule.finished(self._step):
            return True
        budget = self.config.max_time
        # The first epoch of a run always completes, however short the budget.
        if budget is None or distributed.active() or not self._epochs_run:
            return False
        return self._elapsed() >= budget

    def _replan(self, epoch: int) -> None:
        """After an epoch of an adaptive run: stretch or fix the plan, and fit it in the time budget.

        The plan grows while the best held-out loss gains at least
        :data:`~hourglass.train.schedule.EXTEND_GAIN` over the last quarter of the steps
        (gain per share of the run is gain per unit of time at a fixed cost per step, and gives
        the same decision on every run of a seed); a time budget bounds it by the steps that fit
        in the seconds left, at the cost per step measured so far.
        """
        schedule, step = self._schedule, self._step
        budget = self.config.max_time
        if budget is not None:
            left = max(0.0, budget - self._elapsed_everywhere())
            schedule.bound(step, int(left / self._seconds_per_step()))
        if self._warming_up(epoch):
            return
        monitored = self.history.monitored()
        best = list(itertools.accumulate(monitored, min))
        steps = [e * self._steps_per_epoch_seen for e in self.history.epoch]
        steps[-1] = step
        # In shares of the geometric mean of the best loss and the mean's: a share of the mean's
        # loss alone stopped near-perfect fits early (a swiss roll at 0.04x PCA's error ended
        # 20-40 % worse than a full run), a share of the best loss alone never stops a loss that
        # heads for zero.
        gain = plateau_gain(best, steps, math.sqrt(max(best[-1], 0.0) * self._reference))
        schedule.stretch(step, gain if math.isfinite(gain) else EXTEND_GAIN)

    @torch.no_grad()
    def reference_loss(self, data: Data, max_samples: int = 20_000) -> float:
        """The loss of the trivial model that outputs the mean sample, on (up to) ``max_samples``.

        A trained model should be well below it; a model whose loss climbs back toward it has
        collapsed to predicting the mean.
        """
        # Per-feature sums in float64, a batch at a time: gathering the samples first held
        # 20,000 of them and three temporaries as large (250 MB of 784 features) at the peak of
        # every fit. Both losses against a constant prediction follow from these sums.
        n, total, squares = 0, None, None
        for batch in _batches(data, 4096, None, self.device):
            batch = batch[: max_samples - n].double()
            batch = batch.reshape(batch.shape[0], -1)
            total = batch.sum(0) if total is None else total + batch.sum(0)
            squares = (batch**2).sum(0) if squares is None else squares + (batch**2).sum(0)
            n += batch.shape[0]
            if n >= max_samples:
                break
        mean = total / n
        if self.loss == "bce":
            m = mean.clamp(1e-6, 1 - 1e-6)
            # BCE is linear in the target: sum over samples of t log m + (1 - t) log(1 - m) is
            # S log m + (n - S) log(1 - m), with S the feature's sum.
            return float(-(total * m.log() + (n - total) * (1 - m).log()).sum() / (n * mean.numel()))
        return float((squares / n - mean**2).clamp_min(0).mean())

    def _collapse(
        self,
        terms: dict[str, float],
        monitored: float,
        best_loss: float,
        reference: float,
        warming: bool = False,
    ):
        """Why this epoch counts as a collapse (a diverged loss, or most progress lost), or None.

        ``warming``: the model's objective is still being ramped up, so a loss above its best is
        expected and only a diverged loss counts.
        """
        if not math.isfinite(terms["loss"]):
            return f"the training loss became {terms['loss']}"
        if not math.isfinite(monitored):
            return f"the validation loss became {monitored}"
        # Penalties are on their own scale: only the reconstruction term compares with the mean's.
        reconstruction = terms.get("reconstruction", terms["loss"])
        if reconstruction > DIVERGED_FACTOR * reference:
            return (
                f"the reconstruction loss reached {reconstruction:.4g}, over {DIVERGED_FACTOR:g} times "
                "that of predicting the mean"
            )
        if not getattr(self, "_judges_rises", True):
            # Penalties count in the monitored loss: it is judged against its own best too.
            if math.isfinite(best_loss) and monitored > DIVERGED_FACTOR * max(reference, best_loss):
                times = f"over {DIVERGED_FACTOR:g} times its best"
                return f"the loss reached {monitored:.4g}, {times} and the mean's"
            return None
        if not math.isfinite(best_loss) or warming:
            return None
        # Half the progress made below the mean's loss; a model not yet better than the mean
        # has made none, and then half its best loss is the margin.
        gap = reference - best_loss if reference > best_loss else abs(best_loss)
        if monitored > best_loss + COLLAPSE_SHARE * gap:
            return (
                f"the loss rose to {monitored:.4g} from its best {best_loss:.4g} (predicting the mean "
                f"scores {reference:.4g})"
            )
        return None

    def _restart(self, epoch: int, reason: str, best_state) -> None:
        """Go back to the best weights with fresh optimizer moments and a lower learning rate."""
        self.model.load_state_dict(best_state)
        self.optimizer.state.clear()
        self.scheduler.base_lrs = [lr * RESTART_FACTOR for lr in self.scheduler.base_lrs]
        factor = self.scheduler.lr_lambdas[0](self.scheduler.last_epoch)
        for group, base in zip(self.optimizer.param_groups, self.scheduler.base_lrs, strict=True):
            group["initial_lr"], group["lr"] = base, base * factor
        self.history.restarts.append(
            {"epoch": epoch, "reason": reason, "learning_rate": self.scheduler.base_lrs[0]}
        )

    def _steps_per_epoch(self, train: Data) -> int:
        return max(1, math.ceil(_n_samples(train) / self.config.batch_size))

    def _resolve_precision(self, train: Data) -> float | None:
        """Settle ``'auto'`` with the forward work of one step on this process; return that work."""
        if not _n_samples(train):
            return None
        if isinstance(train, torch.Tensor):
            sample = train[0:1]
        else:
            item = train[0]
            item = item[0] if isinstance(item, (list, tuple)) else item
            sample = torch.as_tensor(item, device=self.device)[None]  # (1, ...)
        flops = forward_flops(self.model, sample)
        # Under DDP each process computes its share of every batch.
        step = None if flops is None else flops * self.config.batch_size / distributed.world_size()
        if self.config.precision == "auto":
            self.precision, self.precision_reason = resolve_precision("auto", self.device, step)
        return step

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
        adaptive run's plan is in the checkpoint; a time budget counts the seconds before).

        With ``incremental=True`` (an estimator's ``partial_fit``, as scikit-learn's MLP sends
        ``partial_fit`` through ``_fit(incremental=True)``) it makes one pass over ``train``
        instead, keeping the optimizer, its step count and the history across calls; ``val``
        and ``resume`` do not apply.
        """
        if incremental:
            return self._fit_incremental(train)
        config = self.config
        # In-memory data go where the model is, once (a Dataset's batches are moved one by one).
        train = train.to(self.device) if isinstance(train, (torch.Tensor, ScaledRows)) else train
        val = val.to(self.device) if isinstance(val, (torch.Tensor, ScaledRows)) else val
        step_flops = self._resolve_precision(train)
        threads, threads_rule = resolve_threads(config.threads, step_flops)
        if self.device.type != "cpu":
            threads_rule += f" (for the CPU side of training on {self.device.type})"
        with thread_limit(threads):
            return self._fit(train, val, resume, threads, threads_rule)

    def _fit(self, train: Data, val: Data | None, resume: bool, threads: int, threads_rule: str) -> History:
        config = self.config
        if self.memory_format is not None:
            self.model.to(memory_format=self.memory_format)
        self._setup_optimizer(_n_samples(train))
        self._steps_per_epoch_seen = self._steps_per_epoch(train)
        self._cap_steps = self._steps_per_epoch_seen * config.epochs
        monitored_data = val if val is not None and _n_samples(val) else train
        reference = self.reference_loss(monitored_data)
        self._judges_rises = _n_samples(monitored_data) >= MIN_ROWS_TO_JUDGE and reference >= REFERENCE_FLOOR
        reference = self._reference = max(reference, REFERENCE_FLOOR)
        self.history.recipe.update(
            learning_rate=config.learning_rate,
            grad_clip=config.grad_clip,
            noise_schedule=config.noise_schedule if self.corruption is not None else None,
            reference_loss=reference,
            precision=self.precision,
            precision_rule=self.precision_reason,
            threads=threads,
            threads_rule=threads_rule,
            schedule="progressive cosine" if self._adaptive else "warmup-cosine",
            max_time=config.max_time,
        )
        # Epoch 0's weights are the fallback of a collapse in the very first epoch.
        best_loss, bad_epochs, start = math.inf, 0, 1
        best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if resume:
            start, best_loss, best_state, bad_epochs = self._load_checkpoint()
            self.history.recipe.update(threads=threads, threads_rule=threads_rule)
        self._clock, self._epochs_run = time.perf_counter(), 0
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
        # Dropout and other global-RNG draws are seeded per epoch, without disturbing the
        # caller's global random state.
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            for epoch in range(start, config.epochs + 1):
                torch.manual_seed(config.seed * 7_919 + epoch)
                tic = time.perf_counter()
                terms = self.train_one_epoch(train, epoch)
                if not terms:  # an adaptive plan that ended exactly at the last epoch's end
                    break
                finite = math.isfinite(terms["loss"])
                val_loss = self.evaluate(val) if finite and val is not None and _n_samples(val) else math.nan
                extra = self.epoch_metrics(self.model, val) if finite and self.epoch_metrics else {}
                monitored = val_loss if val is not None and _n_samples(val) else terms["loss"]
                self._record(epoch, terms, val_loss, extra, time.perf_counter() - tic)
                self._epochs_run += 1
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
                h = self.history
                stop = self._stop_reason(epoch, bad_epochs)
                if self._adaptive:
                    self.progress.replan(self._schedule.plan)
                self.progress.epoch_end(epoch, h.train_loss[-1], val_loss, h.lr[-1], h.seconds[-1])
                self.history.stopped_early = bool(stop) and epoch < config.epochs
                self.history.trained_seconds = self._elapsed()
                self._clock = time.perf_counter()
                if self.checkpoint_dir is not None:
                    self._save_checkpoint(epoch, best_loss, best_state, bad_epochs)
                # The hook sees every epoch, the last one too; it can only add a reason to stop.
                if self._hook_says_stop(epoch) and not stop:
                    self.history.stopped_by_callback = True
                    stop = "a callback asked to stop"
                if stop:
                    self.history.stop_reason = stop
                    break
            else:
                self.history.stop_reason = f"ran all {config.epochs} epochs"
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

    def _stop_reason(self, epoch: int, bad_epochs: int) -> str:
        """After an epoch: why training ends here, or '' to go on (an adaptive run may plan its decay)."""
        config = self.config
        if self._adaptive:
            self._replan(epoch)
            if self._schedule.finished(self._step):
                return self._planned_end()
            if config.max_time is not None:
                elapsed = self._elapsed_everywhere()
                if elapsed >= config.max_time and self._epochs_run == 1:
                    return (
                        f"the time budget of {config.max_time:g} s is shorter than one epoch "
                        f"({self.history.seconds[-1]:.2g} s): trained one epoch"
                    )
                if elapsed >= config.max_time and getattr(self._schedule, "budget_bound", False):
                    return self._planned_end()  # the plan was laid over the budget and ends with it
                if elapsed >= config.max_time:
                    return f"the time budget of {config.max_time:g} s ran out"
            if config.patience > 0 and bad_epochs >= config.patience:
                return f"no improvement for {bad_epochs} epochs (patience {config.patience})"
            return ""
        if config.patience > 0 and bad_epochs >= config.patience:
            return f"no improvement for {bad_epochs} epochs (patience {config.patience})"
        return ""

    def _planned_end(self) -> str:
        """Why an adaptive run's plan ended where it did."""
        schedule = self._schedule
        if not self._adaptive:
            return f"ran all {self.config.epochs} epochs"
        if getattr(schedule, "budget_bound", False):
            return f"the schedule was laid over the time budget of {self.config.max_time:g} s"
        if schedule.plan >= self._cap_steps:
            return f"reached the cap of {self.config.epochs} epochs"
        return (
            f"learning stopped gaining {EXTEND_GAIN:.0%} per {GAIN_WINDOW:.0%} more steps, so the rate "
            f"and noise decayed over a plan of {schedule.plan} steps"
        )

    def _hook_says_stop(self, epoch: int) -> bool:
        """Run ``on_epoch_end``; every process stops when any asks (their loops must agree)."""
        if self.on_epoch_end is None:
            return False
        h = self.history
        logs = {"train_loss": h.train_loss[-1], "val_loss": h.val_loss[-1], "learning_rate": h.lr[-1],
                "seconds": h.seconds[-1], **{k: v[-1] for k, v in h.metrics.items() if v}}  # fmt: skip
        wants = torch.tensor([1.0 if self.on_epoch_end(epoch, logs) else 0.0], device=self.device)
        return bool(distributed.all_reduce_max(wants)[0] > 0)

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
            self.start_incremental(_n_samples(train))
        epoch = len(self.history.epoch) + 1
        before = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        tic = time.perf_counter()
        terms = self.train_one_epoch(train.to(self.device), epoch)
        if not math.isfinite(terms["loss"]):
            self.model.load_state_dict(before)
            raise TrainingDivergedError(
                f"partial_fit: the training loss became {terms['loss']} on this chunk; the weights are those "
                "before it (lower learning_rate)"
            )
        self._record(epoch, terms, math.nan, {}, time.perf_counter() - tic)
        self.model.eval()
        return self.history

    def _give_up_or_restart(self, epoch: int, reason: str, best_loss: float, best_state, bad_epochs: int):
        """Recover from a collapse at ``epoch``, or raise once the restarts are spent."""
        tried = self.history.restarts
        if len(tried) < self.config.max_restarts:
            self._restart(epoch, reason, best_state)
            return
        self.model.load_state_dict(best_state)
        if self.checkpoint_dir is not None:
            # The best weights so far are what a user keeps of the run.
            self._save_checkpoint(epoch, best_loss, best_state, bad_epochs)
        rates = ", ".join(f"{r['learning_rate']:.3g} (from epoch {r['epoch']})" for r in tried)
        attempts = f"restarts from the best weights at learning rates {rates}" if tried else "no restarts"
        kept = (
            f"; the best weights (epoch {self.history.best_epoch}) are in {str(self.checkpoint_dir)!r}"
            if self.checkpoint_dir is not None and distributed.is_main()
            else ""
        )
        raise TrainingDivergedError(
            f"training collapsed at epoch {epoch}: {reason}; tried {attempts}; lower learning_rate "
            f"(now {self.config.learning_rate:.3g}) or scale the data (scaling='standard'){kept}"
        )

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

    # -- checkpoints -------------------------------------------------------------------------
    def _save_checkpoint(self, epoch: int, best_loss: float, best_state, bad_epochs: int) -> None:
        if not distributed.is_main():
            return  # one writer: every process holds the same state
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        if best_state is not None:
            tensors.update({f"best.{k}": v for k, v in best_state.items()})
        opt = self.optimizer.state_dict()
        for idx, state in opt["state"].items():
            for name, value in state.items():
                tensors[f"optimizer.{idx}.{name}"] = torch.as_tensor(value)
        state = {
            "best_loss": best_loss if math.isfinite(best_loss) else None,
            "bad_epochs": bad_epochs,
            "param_groups": opt["param_groups"],
            "scheduler": self.scheduler.state_dict(),
            "history": self.history.to_dict(),
            "config": self.config.to_dict(),
        }
        checkpoint.save(self.checkpoint_dir, epoch, tensors, state, self.fingerprint)

    def _load_checkpoint(self):
        directory = self.checkpoint_dir
        if directory is None:
            raise ModelFileError("no checkpoint to resume from: checkpoint_dir is not set")
        tensors, meta = checkpoint.load(directory, self.fingerprint)
        try:
            return self._restore(tensors, meta)
        except (KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
            message = " ".join(str(exc).split())[:200]
            raise ModelFileError(
                f"checkpoint in {str(directory)!r} does not fit this model: {message}"
            ) from None

    def _restore(self, tensors: dict[str, torch.Tensor], meta: dict):
        """Put a checkpoint's tensors and state into the model, optimizer, scheduler and history."""
        model_state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        best = {k[5:]: v.to(self.device) for k, v in tensors.items() if k.startswith("best.")} or None
        self.model.load_state_dict(model_state)
        opt_state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optimizer."):
                _, idx, name = key.split(".", 2)
                opt_state.setdefault(int(idx), {})[name] = value.to(self.device) if value.ndim else value
        self.optimizer.load_state_dict({"state": opt_state, "param_groups": meta["param_groups"]})
        # The checkpoint holds default-layout tensors; give each moment the layout of its
        # parameter (channels-last on the CPU), since the fused update pairs them element by
        # element in memory order.
        for group in self.optimizer.param_groups:
            for param in group["params"]:
                state = self.optimizer.state.get(param, {})
                for name, value in state.items():
                    if torch.is_tensor(value) and value.shape == param.shape:
                        state[name] = torch.empty_like(param).copy_(value)
        self.scheduler.load_state_dict(meta["scheduler"])
        self.history = History.from_dict(meta["history"])
        if self.history.epoch[-1:] != [meta["epoch"]]:
            raise ValueError(f"its history ends at epoch {self.history.epoch[-1:]}, not {meta['epoch']}")
        return meta["epoch"] + 1, float(meta["best_loss"]), best, int(meta["bad_epochs"])
