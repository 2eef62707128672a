"""The record of a training run, epoch by epoch, and the line that says what its recipe decided.

Saved as JSON with the model (``history.json``) and in every checkpoint, so a resumed run goes on
with the record of the epochs before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


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
    #: Whether early stopping ended the run: patience ran out, or an adaptive plan decayed because
    #: learning stopped gaining. A run that ends at its time budget or epoch cap did not stop
    #: early; ``stop_reason`` says how any run ended.
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
    #: The training losses of the earlier fits a warm start continued, epoch by epoch: with them
    #: ``n_iter_`` and ``loss_curve_`` add up over warm starts, as scikit-learn's MLP's do.
    earlier_train_loss: list[float] = field(default_factory=list)

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
        if recipe.get("repeated_rows"):
            line += f"; {recipe['repeated_rows']}"
        path = recipe.get("pca_path")
        if isinstance(path, str) and _path_on(recipe, path):
            line += f"; PCA path ({path})"  # said only where it is on: it decides where training starts
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


def _path_on(recipe: dict[str, Any], reason: str) -> bool:
    """Whether the run trained with the PCA path: its recorded decision, else its reason's wording.

    Histories saved before the decision was recorded next to its reason hold only the reason,
    whose off-forms begin 'off' or 'auto: off'.
    """
    if isinstance(recipe.get("pca_path_on"), bool):
        return recipe["pca_path_on"]
    return not reason.startswith(("off", "auto: off"))


def _number(value: Any) -> str:
    """``value`` to 3 significant digits, or as it is when a saved history holds no number there."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.3g}"
    return repr(value)
