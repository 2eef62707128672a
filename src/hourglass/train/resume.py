"""What a checkpoint holds of a run, and putting it back: the Trainer's side of resuming.

A checkpoint holds the model, the best weights so far, the optimizer's moments, the scheduler
(an adaptive run's plan with it), the history and the settings; :mod:`hourglass.train.checkpoint`
writes and reads the file. A run resumed from epoch ``e`` on the same number of threads ends with
the weights an uninterrupted run reaches; on another number (allowed, so that a run moves to
another machine) it ends on them to rounding, and says so.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from hourglass.exceptions import ModelFileError
from hourglass.runtime import distributed
from hourglass.train import checkpoint
from hourglass.train.budget import duration_words
from hourglass.train.config import TrainConfig
from hourglass.train.history import History

#: A checkpoint is written once the epochs since the last one took this many times as long as
#: writing one did, so that checkpoints take at most about a tenth of a run. Writing one costs
#: about 10 ms on a small model, more than an epoch of a small table: written after every epoch,
#: they made wine's fit 2.7x and a 40 x 2,500 table's 3.3x slower. An interrupted run loses at
#: most the epochs since the last, and a resumed run still ends with the uninterrupted run's
#: weights (every epoch is seeded on its own). 0: after every epoch.
SAVE_COST_MULTIPLE = 10.0


class Checkpointing:
    """The :class:`~hourglass.train.trainer.Trainer`'s checkpoints, written as it trains, and resuming.

    A checkpoint follows the first epoch, the last one, and every epoch after which the epochs
    since the last checkpoint took :data:`SAVE_COST_MULTIPLE` times as long as writing it did:
    after every epoch where epochs are long.

    A part of the Trainer: it reads and restores the Trainer's model, optimizer, scheduler and
    history.
    """

    model: nn.Module
    config: TrainConfig
    device: torch.device
    history: History
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    checkpoint_dir: Path | None
    fingerprint: dict | None
    #: Seconds the last checkpoint took to write (None before the first), and those trained since.
    _save_seconds: float | None = None
    _unsaved_seconds: float = 0.0

    def _checkpoint_if_due(
        self, epoch: int, seconds: float, last: bool, best_loss: float, best_state, bad_epochs: int
    ) -> None:
        """After ``epoch`` (which trained ``seconds``): a checkpoint where one is due (``last``:
        the run ends after it)."""
        self._unsaved_seconds += seconds
        cost = self._save_seconds
        if last or cost is None or self._unsaved_seconds >= SAVE_COST_MULTIPLE * cost:
            tic = time.perf_counter()
            self._save_checkpoint(epoch, best_loss, best_state, bad_epochs)
            self._save_seconds, self._unsaved_seconds = time.perf_counter() - tic, 0.0

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

    def _resumed_budget(self) -> str:
        """After loading a checkpoint: lay its plan over this run's budget; why the run ends at
        once, or '' to go on.

        A plan laid over the interrupted run's budget is planned anew as learning asks (within
        the cap) when this run has no budget (it kept the old budget's end, and its end-of-fit
        line failed on the missing budget); another budget bounds it after the first epoch. A
        budget that the run before the interruption already spent ends the run at once, with the
        checkpoint's best weights (it trained one more epoch, said to be longer than the budget).
        """
        schedule = self.scheduler.lr_lambdas[0]
        budget = self.config.max_time
        if budget is None and hasattr(schedule, "drop_budget"):
            schedule.drop_budget()
        trained = self.history.trained_seconds
        if budget is not None and trained >= budget:
            words, spent = self.config.budget_words(), duration_words(trained)
            return f"the time budget of {words} was spent before the resume ({spent} trained)"
        return ""

    def _resume_words(self, start: int) -> str:
        """The line a resumed run starts with: the epoch it goes on from, the seconds the run
        trained before, and what is left of its time budget (said before only after an epoch)."""
        trained = self.history.trained_seconds
        budget = self.config.max_time
        if budget is None:
            return f"resuming at epoch {start} from the checkpoint: {duration_words(trained)} trained before"
        before = trained + self.config.pretrain_seconds  # the user's budget counts pretraining
        words = (
            f"resuming at epoch {start} from the checkpoint: {duration_words(before)} of the time budget "
            f"of {self.config.budget_words()} trained before"
        )
        if trained >= budget:
            return f"{words}; it is spent: the checkpoint's best weights are kept"
        return f"{words}, {duration_words(budget - trained)} left"

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
        self._warn_if_other_threads()
        return meta["epoch"] + 1, float(meta["best_loss"]), best, int(meta["bad_epochs"])

    def _warn_if_other_threads(self) -> None:
        """Say so where this run has another thread count than the checkpoint's run had.

        Accepted (``threads`` is not part of a run's fingerprint: a run started on more CPUs
        than are free now must resume), but its sums are added in another order: on 1 and 2
        threads a bf16 run ended on other weights. The Trainer restores the checkpoint inside
        its thread limit, so torch's count is this run's.
        """
        saved = self.history.recipe.get("threads")
        threads = torch.get_num_threads()
        if self.device.type != "cpu" or not isinstance(saved, int) or saved == threads:
            return
        warnings.warn(
            f"resuming on {threads} thread(s) a run that trained on {saved}: the weights will match "
            f"the uninterrupted run's only to rounding; resume with threads={saved} "
            f"(--threads {saved}) for the same weights",
            UserWarning,
            stacklevel=2,
        )
