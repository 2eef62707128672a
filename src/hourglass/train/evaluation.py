"""Judging the model: the held-out loss of an epoch, and the loss of predicting the mean.

Both run under ``torch.no_grad()`` and never under autocast: the best epoch is picked, and a
collapse recognised, in the fp32 the model is used in.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from hourglass.runtime import distributed
from hourglass.train.batching import Data, device_batches, epoch_generator, sharded
from hourglass.train.config import TrainConfig
from hourglass.train.losses import Regularizer, total_loss
from hourglass.train.precision import matmul_scope


class Baselines(NamedTuple):
    """The loss of predicting the same output for every sample, for three such outputs.

    ``own_mean``: the judged rows' own mean sample, the least loss of any constant (a model whose
    loss climbs back toward it has collapsed to predicting the mean). ``training_mean``: the
    training rows' mean sample, what a held-out row is predicted from. ``uninformed``: zeros
    (MSE) or 0.5 (BCE), knowing nothing of the data; a loss far above every one of the three has
    diverged, whatever the data's spread: the means' losses are zero on one row or on constant
    columns.
    """

    own_mean: float
    training_mean: float
    uninformed: float


class Evaluation:
    """The :class:`~hourglass.train.trainer.Trainer`'s passes that judge the model without training it.

    A part of the Trainer: it reads the Trainer's model and settings, and draws a task's
    corruption through the training pass's ``_step_inputs``.
    """

    model: nn.Module
    config: TrainConfig
    device: torch.device
    precision: str
    loss: str
    regularizers: list[Regularizer]

    @torch.no_grad()
    def evaluate(self, data: Data) -> float:
        """Mean loss over ``data`` in eval mode, with corruption drawn from a fixed generator.

        Never under autocast: the model is judged (and its best epoch picked) in the fp32 it is
        used in by ``transform`` and ``reconstruct``.
        """
        self.model.eval()
        # A fading regularizing noise is judged on clean inputs, as the model will be used; a
        # task's corruption (denoise, ...) is part of what is judged, drawn from a fixed generator.
        generator = None if self._fading else epoch_generator(self.config.seed, 0, salt=1, device=self.device)
        losses: list[tuple[torch.Tensor, int]] = []
        shard = sharded(data)
        size = max(self.config.batch_size, 1024)
        with matmul_scope(self.device, self.precision):
            for batch in device_batches(data, size, None, self.device, shard=shard):
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

    def reference_loss(self, data: Data, max_samples: int = 20_000) -> float:
        """The loss of the trivial model that outputs the mean sample, on (up to) ``max_samples``.

        A trained model should be well below it; a model whose loss climbs back toward it has
        collapsed to predicting the mean.
        """
        return self.baseline_losses(data, max_samples=max_samples).own_mean

    @torch.no_grad()
    def baseline_losses(
        self, monitored: Data, train: Data | None = None, max_samples: int = 20_000
    ) -> Baselines:
        """On (up to) ``max_samples`` of ``monitored``: the losses of three constant predictions.

        :class:`Baselines`: ``monitored``'s own mean sample, ``train``'s mean sample (``monitored``'s
        when None), and a prediction that knows nothing of the data, zeros (MSE) or 0.5 (BCE).
        """
        n, total, squares = self._feature_sums(monitored, max_samples)
        means = [total / n]
        if train is None or train is monitored:
            means.append(means[0])
        else:
            n_train, train_total, _ = self._feature_sums(train, max_samples)
            means.append(train_total / n_train)
        if self.loss == "bce":
            losses = []
            for mean in means:
                m = mean.clamp(1e-6, 1 - 1e-6)
                # BCE is linear in the target: sum over samples of t log m + (1 - t) log(1 - m) is
                # S log m + (n - S) log(1 - m), with S the feature's sum.
                losses.append(float(-(total * m.log() + (n - total) * (1 - m).log()).sum() / (n * m.numel())))
            return Baselines(*losses, math.log(2.0))
        # Over samples, the sum of (x - m)^2 is Q - 2 m S + n m^2, Q the feature's sum of squares.
        losses = [float(((squares - 2 * mean * total) / n + mean**2).clamp_min(0).mean()) for mean in means]
        return Baselines(*losses, float(squares.mean() / n))

    def _feature_sums(self, data: Data, max_samples: int) -> tuple[int, torch.Tensor, torch.Tensor]:
        """Row count, per-feature sums and sums of squares of (up to) ``max_samples``, in float64."""
        # A batch at a time: gathering the samples first held 20,000 of them and three
        # temporaries as large (250 MB of 784 features) at the peak of every fit.
        n, total, squares = 0, None, None
        for batch in device_batches(data, 4096, None, self.device):
            batch = batch[: max_samples - n].double()
            batch = batch.reshape(batch.shape[0], -1)
            total = batch.sum(0) if total is None else total + batch.sum(0)
            squares = (batch**2).sum(0) if squares is None else squares + (batch**2).sum(0)
            n += batch.shape[0]
            if n >= max_samples:
                break
        return n, total, squares
