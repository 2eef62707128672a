"""A run that collapsed: recognising it, and going back to the best weights at a lower rate.

A collapse is a NaN or infinite loss, a reconstruction loss far above that of every constant
prediction, or a monitored loss that climbs back most of the way from its best toward the loss
of predicting its rows' mean while the training loss rises too (a held-out loss that rises
alone is overfitting, left to early stopping). The run goes on from its best weights at a
quarter of the learning rate, up to ``max_restarts`` times; then
:class:`~hourglass.exceptions.TrainingDivergedError` names the epoch and what was tried.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from hourglass.exceptions import TrainingDivergedError
from hourglass.runtime import distributed
from hourglass.train.config import TrainConfig
from hourglass.train.history import History

#: A loss that climbs back more than this share of the way from its best toward the loss of
#: predicting the mean (or, before the model beats the mean, above 1.5 times its best) counts
#: as a collapse.
COLLAPSE_SHARE = 0.5
#: A loss this many times that of a constant prediction (the judged rows' own mean, the training
#: rows' mean or zeros, whichever scores worst: :class:`~hourglass.train.evaluation.Baselines`)
#: has diverged, even in the first epoch. The means' losses are zero on one row or constant
#: columns, and a one- or two-row held-out split scores about zero against its own mean: 8- and
#: 13-row tables, and a one-row table of values in [0, 1] at a loss of 1.3, were judged diverged.
DIVERGED_FACTOR = 100.0
#: The collapse and divergence checks compare losses with predicting the mean, but never with
#: less than this (in the scaled units training sees, where data have about unit spread): one
#: training row, or constant columns, make the mean's loss zero, and every model would then
#: look diverged (scikit-learn's single-sample check raised TrainingDivergedError).
REFERENCE_FLOOR = 1e-2
#: Rows of monitored data below which only a diverged loss is judged a collapse, not a rise from
#: the best: on a few rows a rising held-out loss is the overfitting of a tiny table, and the
#: loss moves with every draw of noise (a 20-row table restarted three times, then gave up).
MIN_ROWS_TO_JUDGE = 10
#: A held-out loss that rises while the training loss stays within this share of the way from
#: its best toward the mean's is overfitting, not a collapse: early stopping deals with it. A
#: collapsed model is worse on the rows it trains on too. Tables of 200 rows of pure noise (six
#: normal columns, code 2) restarted in 10 of 10 seeds, their held-out loss rising as the model
#: learned the noise of the training rows.
TRAINING_RISE_SHARE = 0.1
#: After a collapse, training goes on from the best weights at this share of the learning rate.
RESTART_FACTOR = 0.25


def _progress(best: float, reference: float) -> float:
    """The progress a loss at its ``best`` made below ``reference`` (the mean's loss), against
    which a rise is measured; a model not yet better than the mean has made none, and then its
    best loss itself is the scale."""
    return reference - best if reference > best else abs(best)


class CollapseRecovery:
    """The :class:`~hourglass.train.trainer.Trainer`'s watch for a collapse, and its restarts.

    A part of the Trainer: it reads the Trainer's model, optimizer, scheduler and history, and
    writes the best weights to the checkpoint (``_save_checkpoint``) before it gives up.
    """

    model: nn.Module
    config: TrainConfig
    history: History
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    checkpoint_dir: Path | None

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
        # Divergence is judged against the worst constant prediction (the Trainer's
        # _diverged_reference): on a row or two, or constant columns, the mean's loss is ~0.
        diverged = DIVERGED_FACTOR * max(reference, getattr(self, "_diverged_reference", reference))
        if reconstruction > diverged:
            return (
                f"the reconstruction loss reached {reconstruction:.4g}, over {DIVERGED_FACTOR:g} times "
                "that of a constant prediction"
            )
        if not getattr(self, "_judges_rises", True):
            # Penalties count in the monitored loss: it is judged against its own best too.
            if math.isfinite(best_loss) and monitored > max(diverged, DIVERGED_FACTOR * best_loss):
                times = f"over {DIVERGED_FACTOR:g} times its best"
                return f"the loss reached {monitored:.4g}, {times} and the mean's"
            return None
        if not math.isfinite(best_loss) or warming:
            return None
        # A diverged held-out loss, or half the progress below the mean's loss given back while
        # the training loss rises too (alone, the held-out loss rising is overfitting).
        if monitored > diverged or (
            monitored > best_loss + COLLAPSE_SHARE * _progress(best_loss, reference)
            and self._training_loss_rose(reference)
        ):
            return (
                f"the loss rose to {monitored:.4g} from its best {best_loss:.4g} (predicting the mean "
                f"scores {reference:.4g})"
            )
        return None

    def _training_loss_rose(self, reference: float) -> bool:
        """Whether this epoch's training loss rose above its best by :data:`TRAINING_RISE_SHARE` of
        the way toward ``reference``; True where there is no earlier epoch to compare with."""
        history = getattr(self, "history", None)
        losses = [v for v in history.train_loss if math.isfinite(v)] if history is not None else []
        if len(losses) < 2:
            return True
        now, best = losses[-1], min(losses[:-1])
        return now > best + TRAINING_RISE_SHARE * _progress(best, reference)

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
        raise distributed.every_process(  # decided on every process's mean loss, alike
            TrainingDivergedError(
                f"training collapsed at epoch {epoch}: {reason}; tried {attempts}; lower learning_rate "
                f"(now {self.config.learning_rate:.3g}) or scale the data (scaling='standard'){kept}"
            )
        )
