"""The training loop's configuration: everything the Trainer needs, saved as JSON beside a checkpoint.

Architecture configs (what rebuilds a module) live in :mod:`hourglass.nn.config`; this one holds
the loop's settings and nothing about the model.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hourglass.choices import NOISE_SCHEDULES, PRECISIONS
from hourglass.nn.config import _JSONConfig, _require


@dataclass
class TrainConfig(_JSONConfig):
    """Everything the training loop needs; nothing about the model's shape.

    Parameters
    ----------
    epochs : int
        Maximum number of passes over the training data.
    batch_size : int
        Samples per optimizer step.
    learning_rate : float
        Peak learning rate of AdamW (reached after a short warm-up, then cosine decay).
    weight_decay : float
        AdamW's decoupled weight decay.
    patience : int
        Epochs without validation improvement before stopping; 0 disables early stopping.
    seed : int
        Seeds weight initialisation, shuffling, noise and dropout.
    device : str
        ``'auto'`` (CUDA when available), ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
    precision : {'auto', 'fp32', 'tf32', 'bf16'}
        ``'bf16'`` runs the forward pass under bf16 autocast; ``'tf32'`` keeps fp32 but lets
        CUDA matmuls use TF32 tensor cores; ``'auto'`` picks one for the hardware and the
        model when training starts (:func:`hourglass.train.precision.resolve_precision`).
    verbose : int
        0 silences the progress bar.
    grad_clip : float
        Bound on the global gradient norm of every step (0: no clipping).
    max_restarts : int
        Collapses the loop recovers from (back to the best weights at a lower rate) before it
        gives up with an error.
    noise_schedule : {'constant', 'cosine'}
        How the corruption's strength evolves: constant (a task: denoise, inpaint, ...), or a
        cosine decay from full strength to none (noise as a regularizer), judged on clean inputs.
    workers : int
        DataLoader worker processes for training data read lazily (0: read in the training
        process); in-memory data ignore it.
    compile : bool
        Train through ``torch.compile`` of the module (fewer, fused kernels: pays on GPUs for
        long runs; the first epoch pays the compilation).
    adaptive : bool
        ``epochs`` is only a cap: the learning rate stays at its peak while the held-out loss
        improves, then decays over a fifth of the run (:mod:`hourglass.train.schedule`). False:
        a cosine decay planned over all ``epochs``.
    max_time : float or None
        Seconds of training at most (resumed runs count those up to the checkpoint); the decay is laid
        over the last fifth of them, so the run ends at the budget with its schedule complete.
    threads : int or 'auto'
        CPU threads for training (:func:`hourglass.runtime.threads.resolve_threads`).
    pretrain_seconds : float
        Seconds of the user's time budget that layer-wise pretraining took before this run:
        ``max_time`` is what it left. Messages and the recipe state the whole budget
        (:attr:`time_budget`), with this share named.
    setup_seconds : float
        Seconds of the user's time budget that getting ready took before training (splitting and
        scaling the data, building the model, PCA at the same code size): a fit ends within its
        budget, not a budget after its set-up. Counted like ``pretrain_seconds``, not named.
    """

    kind: ClassVar[str] = "train"

    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 15
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    verbose: int = 1
    grad_clip: float = 1.0
    max_restarts: int = 3
    noise_schedule: str = "constant"
    workers: int = 0
    compile: bool = False
    adaptive: bool = False
    max_time: float | None = None
    threads: int | str = "auto"
    pretrain_seconds: float = 0.0
    setup_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Counts are whole numbers: int() would quietly train batches of 2 for batch_size=2.5.
        for name in ("epochs", "batch_size", "patience", "workers", "max_restarts"):
            value = getattr(self, name)
            _require(
                isinstance(value, numbers.Integral) and not isinstance(value, bool),
                f"{name}={value!r}; expected a whole number",
            )
        _require(self.epochs >= 1, f"epochs={self.epochs} must be at least 1")
        _require(self.batch_size >= 1, f"batch_size={self.batch_size} must be at least 1")
        _require(self.learning_rate > 0, f"learning_rate={self.learning_rate} must be positive")
        _require(self.weight_decay >= 0, f"weight_decay={self.weight_decay} must be non-negative")
        _require(self.patience >= 0, f"patience={self.patience} must be non-negative")
        _require(self.precision in PRECISIONS, f"precision={self.precision!r}; expected one of {PRECISIONS}")
        _require(self.grad_clip >= 0, f"grad_clip={self.grad_clip} must be non-negative (0: no clipping)")
        _require(self.workers >= 0, f"workers={self.workers} must be non-negative")
        _require(self.max_restarts >= 0, f"max_restarts={self.max_restarts} must be non-negative")
        _require(
            self.max_time is None or (isinstance(self.max_time, (int, float)) and self.max_time > 0),
            f"max_time={self.max_time!r} must be a positive number of seconds or None",
        )
        _require(self.pretrain_seconds >= 0, f"pretrain_seconds={self.pretrain_seconds} must be non-negative")
        _require(self.setup_seconds >= 0, f"setup_seconds={self.setup_seconds} must be non-negative")
        _require(
            self.noise_schedule in NOISE_SCHEDULES,
            f"noise_schedule={self.noise_schedule!r}; expected one of {NOISE_SCHEDULES}",
        )

    @property
    def time_budget(self) -> float | None:
        """The user's time budget: ``max_time`` with the shares of set-up and pretraining added back."""
        if self.max_time is None:
            return None
        # To 12 digits: (4 - 1.05) + 1.05 is 4 less an ulp, and the recipe showed the ulp.
        return float(f"{self.max_time + self.pretrain_seconds + self.setup_seconds:.12g}")

    def budget_words(self) -> str:
        """The user's time budget in words, pretraining's share named: ``4 s (1.05 s of it pretraining)``."""
        words = f"{self.time_budget:g} s"
        return words + (
            f" ({self.pretrain_seconds:.3g} s of it pretraining)" if self.pretrain_seconds else ""
        )
