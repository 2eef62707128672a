"""One epoch of training: the optimizer steps over shuffled batches, with their noise and precision.

A step never waits for the device: loss sums stay on it and are read once an epoch. Under
torchrun each process computes its share of every batch and DDP averages the gradients, weighted
so that the step is the whole batch's, as in one process.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn

from hourglass.runtime import distributed
from hourglass.train import optimizer
from hourglass.train.batching import (
    Corruption,
    Data,
    device_batches,
    epoch_generator,
    global_batch_sizes,
    n_samples,
    sharded,
)
from hourglass.train.config import TrainConfig
from hourglass.train.losses import Regularizer, total_loss
from hourglass.train.precision import autocast, matmul_scope
from hourglass.train.progress import Progress
from hourglass.train.schedule import ProgressiveCosine, WarmupCosine


class EpochSteps:
    """The :class:`~hourglass.train.trainer.Trainer`'s training pass (``train_one_epoch``).

    A part of the Trainer, not a class of its own use: it reads the Trainer's model, settings,
    optimizer and scheduler, and asks its stopping rules (``_run_ends_now``, ``_warming_up``)
    whether a run decided as it goes ends inside an epoch.
    """

    model: nn.Module
    forward: nn.Module
    config: TrainConfig
    device: torch.device
    memory_format: torch.memory_format | None
    precision: str
    loss: str
    regularizers: list[Regularizer]
    corruption: Corruption | None
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    progress: Progress | None

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
            schedule = self._schedule
            if not self.config.adaptive and not schedule.budget_bound:
                # epochs=N under a time budget that has not bound: the fixed run's fade, so that a
                # budget the run never reaches changes nothing (it faded step by step, and 12
                # epochs on digits ended 5e-3 away in their codes).
                return schedule.hold_noise(self._fixed_fade(epoch))
            return schedule.noise(self._step)
        return self._fixed_fade(epoch)

    def _fixed_fade(self, epoch: int) -> float:
        """A run of ``config.epochs``: the noise's cosine from 1 at the first epoch to 0 at the last."""
        progress = (epoch - 1) / max(1, self.config.epochs - 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    def train_one_epoch(self, data: Data, epoch: int) -> dict[str, float]:
        """One pass over ``data``; returns the mean of each loss term (inf where it diverged)."""
        self.model.train()
        generator = epoch_generator(self.config.seed, epoch)
        strength = self.corruption_strength(epoch)
        # A model with a schedule of its own (a VAE's KL warm-up) learns the epoch here, as the noise does.
        start_epoch = getattr(self.model, "start_epoch", None)
        if callable(start_epoch):
            start_epoch(epoch)
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        sums: dict[str, torch.Tensor] = {}
        count = 0
        shard = sharded(data)
        # A process reading its own share draws its own noise for it. On CUDA noise is drawn
        # there, from a generator of its own (the shuffle stays on the CPU generator).
        if shard is None:
            noise = (
                generator
                if self.device.type != "cuda"
                else epoch_generator(self.config.seed, epoch, salt=2, device=self.device)
            )
        else:
            noise = epoch_generator(self.config.seed, epoch, salt=2 + shard[0], device=self.device)
        adaptive = hasattr(self, "scheduler") and self._adaptive
        # The size of every global batch, which a process reading its share of a Dataset does not
        # see: the shuffled batches of iterate_batches, whose sizes no shuffle changes.
        sizes = iter(global_batch_sizes(n_samples(data), self.config.batch_size))
        with matmul_scope(self.device, self.precision):
            batches = device_batches(
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
        rank, world = distributed.rank(), distributed.world_size()
        # This process's rows of the global batch: a slice of it (tensor_split's), or every
        # world-th row for a share read on its own (iterate_batches').
        rows = slice(rank, None, world)
        if distributed.active() and sliced:
            # Every process draws the same batch and the same noise; each computes its
            # slice, so the averaged gradient is the whole batch's, as in one process.
            inputs = torch.tensor_split(inputs, world)[rank]
            batch = torch.tensor_split(batch, world)[rank]
            start = rank * (whole // world) + min(rank, whole % world)
            rows = slice(start, start + batch.shape[0])
        # A VAE's code noise and dropout's masks drawn for the whole batch, these rows kept.
        draws = distributed.batch_rows(whole, rows) if distributed.active() else contextlib.nullcontext()
        with draws:
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
            optimizer.clip_gradients(params, self.config.grad_clip, self.device)
        optimizer.step(self.optimizer)
        self.scheduler.step()
        n = batch.shape[0]
        for name, value in parts.items():
            # An empty share (a global batch smaller than the processes) has a NaN mean.
            sums[name] = sums.get(name, 0.0) + (value.detach() * n if n else 0.0)
        return n
