"""The training loop: batches, validation, early stopping, checkpoints.

The loop works on in-memory tensors (indexing a device tensor with a shuffled index, no
per-sample Python work) or on a ``torch.utils.data.Dataset`` for data larger than memory.
Randomness is drawn from generators seeded by ``(seed, epoch)``, so a run resumed from the
checkpoint of epoch ``e`` draws exactly what the uninterrupted run drew from epoch ``e + 1`` on.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from hourglass import checkpoint
from hourglass.config import TrainConfig
from hourglass.exceptions import InvalidInputError, ModelFileError, TrainingDivergedError
from hourglass.losses import Regularizer, total_loss

Corruption = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
Data = torch.Tensor | torch.utils.data.Dataset


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

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(**data)


class WarmupCosine:
    """Learning-rate factor: linear warm-up over ``warmup`` steps, then cosine decay to 5 %.

    A callable object rather than a lambda so the scheduler's state saves as plain JSON.
    """

    def __init__(self, total_steps: int, warmup: int) -> None:
        self.total_steps = max(1, total_steps)
        self.warmup = max(1, warmup)

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.total_steps - self.warmup))
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))


def _n_samples(data: Data) -> int:
    return data.shape[0] if isinstance(data, torch.Tensor) else len(data)  # type: ignore[arg-type]


def _batches(data: Data, batch_size: int, generator: torch.Generator | None, device: torch.device):
    """Yield device batches of ``data``, shuffled with ``generator`` (or in order when None)."""
    n = _n_samples(data)
    if isinstance(data, torch.Tensor):
        if generator is None:
            for start in range(0, n, batch_size):
                yield data[start : start + batch_size]
            return
        # Split the shuffled order into equal batches rather than full ones and a runt: a last
        # batch of a handful of samples costs a whole step and gives a noisy gradient.
        order = torch.randperm(n, generator=generator).to(data.device)
        for index in torch.tensor_split(order, math.ceil(n / batch_size)):
            yield data[index]
        return
    loader = torch.utils.data.DataLoader(
        data, batch_size=batch_size, shuffle=generator is not None, generator=generator, num_workers=0
    )
    for batch in loader:
        batch = batch[0] if isinstance(batch, (list, tuple)) else batch
        yield batch.to(device, non_blocking=True)


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


def _autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _epoch_generator(seed: int, epoch: int, salt: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch * 7_919 + salt) % (2**63))


class Trainer:
    """Fits an :class:`~hourglass.model.AutoEncoder` in place.

    Parameters
    ----------
    model : AutoEncoder
        The module to train (moved to ``config.device``).
    config : TrainConfig
        Loop settings.
    loss : {'mse', 'bce'}
        Reconstruction loss (already resolved; see :func:`hourglass.losses.choose_loss`).
    regularizers : list of Regularizer
        Penalties added to the loss.
    corruption : callable, optional
        ``corruption(clean_batch, generator) -> input_batch``: the denoising / task input,
        drawn afresh for every batch; the clean batch is the target.
    epoch_metrics : callable, optional
        ``epoch_metrics(model, val_data) -> dict`` evaluated after each epoch (e.g. sparsity).
    checkpoint_dir : path, optional
        Folder to write a checkpoint to, atomically, after every epoch (see
        :mod:`hourglass.checkpoint`).
    fingerprint : dict, optional
        The run's fingerprint (:func:`hourglass.checkpoint.run_fingerprint`), recorded in every
        checkpoint; resuming refuses a checkpoint that records another.
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
    ) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.model = model.to(self.device)
        self.memory_format = _memory_format(self.model, self.device)
        self.loss = loss
        self.regularizers = list(regularizers or [])
        self.corruption = corruption
        self.epoch_metrics = epoch_metrics
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.description = description
        self.fingerprint = fingerprint
        self.history = History()

    # -- one epoch ---------------------------------------------------------------------------
    def _step_inputs(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        inputs = self.corruption(batch, generator) if self.corruption is not None else batch
        if self.memory_format is not None and inputs.ndim == (
            5 if self.memory_format == torch.channels_last_3d else 4
        ):
            inputs = inputs.contiguous(memory_format=self.memory_format)
        return inputs

    def train_one_epoch(self, data: Data, epoch: int) -> dict[str, float]:
        """One pass over ``data``; returns the mean of each loss term."""
        self.model.train()
        generator = _epoch_generator(self.config.seed, epoch)
        sums: dict[str, torch.Tensor] = {}
        count = 0
        for batch in _batches(data, self.config.batch_size, generator, self.device):
            inputs = self._step_inputs(batch, generator)
            with _autocast(self.device, self.config.precision):
                outputs = self.model(inputs)
            parts = total_loss(self.model, inputs, batch, outputs, self.loss, self.regularizers)
            self.optimizer.zero_grad(set_to_none=True)
            parts["loss"].backward()
            self.optimizer.step()
            self.scheduler.step()
            n = batch.shape[0]
            count += n
            for name, value in parts.items():
                sums[name] = sums.get(name, 0.0) + value.detach() * n
        means = {name: float(total) / count for name, total in sums.items()}
        if not math.isfinite(means["loss"]):
            raise TrainingDivergedError(
                f"the training loss became {means['loss']} at epoch {epoch}; lower learning_rate "
                f"(now {self.config.learning_rate}) or scale the data (scaling='standard')"
            )
        return means

    @torch.no_grad()
    def evaluate(self, data: Data) -> float:
        """Mean loss over ``data`` in eval mode, with corruption drawn from a fixed generator."""
        self.model.eval()
        generator = _epoch_generator(self.config.seed, 0, salt=1)
        total, count = 0.0, 0
        for batch in _batches(data, max(self.config.batch_size, 1024), None, self.device):
            inputs = self._step_inputs(batch, generator)
            with _autocast(self.device, self.config.precision):
                outputs = self.model(inputs)
            parts = total_loss(self.model, inputs, batch, outputs, self.loss, self.regularizers)
            total += float(parts["loss"]) * batch.shape[0]
            count += batch.shape[0]
        return total / max(count, 1)

    # -- the whole run -----------------------------------------------------------------------
    def _setup_optimizer(self, n_train: int) -> None:
        steps_per_epoch = math.ceil(n_train / self.config.batch_size)
        total = steps_per_epoch * self.config.epochs
        params = [p for p in self.model.parameters() if p.requires_grad]
        # The fused kernel updates all parameters in one pass: on small models the per-tensor
        # Python and dispatch overhead of the loop implementation dominates a step.
        self.optimizer = torch.optim.AdamW(
            params, lr=self.config.learning_rate, weight_decay=self.config.weight_decay, fused=True
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, WarmupCosine(total, warmup=max(1, min(total // 20, 5 * steps_per_epoch)))
        )

    def fit(self, train: Data, val: Data | None = None, resume: bool = False) -> History:
        """Train on ``train``, early-stopping on ``val`` (or on the training loss without it).

        With ``resume=True`` and a checkpoint in ``checkpoint_dir``, training continues from
        the epoch after the checkpoint and ends with the weights an uninterrupted run reaches.
        """
        config = self.config
        if self.memory_format is not None:
            self.model.to(memory_format=self.memory_format)
        self._setup_optimizer(_n_samples(train))
        best_loss, best_state, bad_epochs, start = math.inf, None, 0, 1
        if resume:
            start, best_loss, best_state, bad_epochs = self._load_checkpoint()
        bar = tqdm(
            range(start, config.epochs + 1),
            desc=self.description,
            unit="epoch",
            disable=config.verbose <= 0,
            initial=start - 1,
            total=config.epochs,
            dynamic_ncols=True,
        )
        # Dropout and other global-RNG draws are seeded per epoch, without disturbing the
        # caller's global random state.
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            for epoch in bar:
                torch.manual_seed(config.seed * 7_919 + epoch)
                tic = time.perf_counter()
                terms = self.train_one_epoch(train, epoch)
                val_loss = self.evaluate(val) if val is not None and _n_samples(val) else math.nan
                extra = self.epoch_metrics(self.model, val) if self.epoch_metrics else {}
                monitored = val_loss if math.isfinite(val_loss) else terms["loss"]
                self._record(epoch, terms, val_loss, extra, time.perf_counter() - tic)
                if not math.isfinite(best_loss) or monitored < best_loss - 1e-7 * abs(best_loss):
                    best_loss, bad_epochs = monitored, 0
                    best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                    self.history.best_epoch = epoch
                else:
                    bad_epochs += 1
                bar.set_postfix(train=f"{terms['loss']:.4g}", val=f"{val_loss:.4g}", refresh=False)
                stop = config.patience > 0 and bad_epochs >= config.patience
                self.history.stopped_early = stop and epoch < config.epochs
                if self.checkpoint_dir is not None:
                    self._save_checkpoint(epoch, best_loss, best_state, bad_epochs)
                if stop:
                    break
        bar.close()
        if best_state is not None:
            self.model.load_state_dict(best_state)
        if self.memory_format is not None:
            # Hand back a model in the default layout, as it came in.
            self.model.to(memory_format=torch.contiguous_format)
        self.model.eval()
        return self.history

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
