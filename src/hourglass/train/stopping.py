"""When a run ends: early stopping, the end of an adaptive plan, the time budget, a user's callback.

A run of fixed length ends after its epochs or when the monitored loss stops improving for
``patience`` epochs. A run decided as it goes (``epochs='auto'``, ``max_time``) stretches its
plan while the held-out loss gains (:mod:`hourglass.train.schedule`), fits it into the seconds
left, and ends with the plan. Every decision comes with its reason in words, which the end-of-fit
line shows. Under torchrun the processes decide together, at epoch ends.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable

import torch
from torch import nn

from hourglass.runtime import distributed
from hourglass.train.budget import duration_words
from hourglass.train.config import TrainConfig
from hourglass.train.history import History
from hourglass.train.schedule import (
    EXTEND_GAIN,
    FINAL_FACTOR,
    GAIN_WINDOW,
    free_work,
    gain_needed,
    plateau_gain,
)

#: With a fading noise, early stopping counts epochs without improvement only once the noise is
#: below this share of its level: before, the clean validation loss moves with the noise as much
#: as with overfitting (on iris at code 2, stopping earlier left the autoencoder at 1.18x PCA's
#: error; letting the noise fade, 0.87x). From then on the epochs since the best count, those of
#: the fade included: a best set while the noise was at 10-20 % was waited for again, 30 more
#: epochs, in most runs (``benchmarks suite``: the same errors in 8 % less fit time, 199 epochs
#: instead of 228 on breast cancer, 246 instead of 268 on digits at code 8).
PATIENT_STRENGTH = 0.1
#: A time budget's steps left are estimated at the pace of the last this many epochs.
PACE_EPOCHS = 5


def ran_all(epochs: int) -> str:
    """Why a run of a fixed number of epochs ended ('ran all 1 epochs' read as a typo).

    Examples
    --------
    >>> ran_all(3), ran_all(1)
    ('ran all 3 epochs', 'ran its 1 epoch')
    """
    return "ran its 1 epoch" if epochs == 1 else f"ran all {epochs} epochs"


class StoppingRules:
    """The :class:`~hourglass.train.trainer.Trainer`'s decisions on when its run ends, and why.

    A part of the Trainer: it reads the Trainer's settings, history and learning-rate schedule,
    and the clock the Trainer starts (``_clock``: when this part of the run started).
    """

    model: nn.Module
    config: TrainConfig
    device: torch.device
    history: History
    on_epoch_end: Callable[[int, dict[str, float]], bool] | None
    _clock: float
    #: (seconds trained, steps taken) at the last epochs' ends, for the pace of a time budget.
    _pace_marks: list[tuple[float, int]]
    _cap_steps: int
    _steps_per_epoch_seen: int
    _reference: float
    #: Forward FLOPs of one sample (None: the layers do not tell), read once per fit.
    _sample_flops: float | None
    #: The monitored loss of PCA at the same code size, or None (see :meth:`_gain_scale`).
    linear_floor: float | None = None
    #: Whether the reason :meth:`_stop_reason` last gave is early stopping: patience ran out, or
    #: an adaptive plan decayed because learning stopped gaining. A time budget's end, the
    #: epoch cap and a plan laid over the budget are planned ends, not early stops.
    _stops_early: bool = False

    def _stop_reason(self, epoch: int, bad_epochs: int) -> str:
        """After an epoch: why training ends here, or '' to go on (an adaptive run may plan its decay)."""
        config = self.config
        self._stops_early = False
        if self._adaptive:
            # Read before the replan, which lays a spent budget's plan to end at this very step.
            # Within its last 1 % the cosine is at its final rate to 3e-4 of the peak: done.
            plan_at = self._schedule.plan
            plan_done = self._step >= plan_at - plan_at // 100
            self._replan(epoch)
            elapsed = self._elapsed_everywhere() if config.max_time is not None else 0.0
            # The run's epochs, those before a resume included (the history is restored with the
            # checkpoint): a resumed run's first epoch is not its first.
            if config.max_time is not None and elapsed >= config.max_time and len(self.history.epoch) == 1:
                # Said also where the epoch cap ends the run there: the budget was not kept.
                return (
                    f"the time budget of {config.budget_words()} is shorter than one epoch "
                    f"({duration_words(self.history.seconds[-1])}): trained one epoch"
                )
            if self._schedule.finished(self._step):
                self._stops_early = self._learning_ended_plan()
                return self._planned_end()
            if config.max_time is not None:
                if elapsed >= config.max_time and getattr(self._schedule, "budget_bound", False):
                    # The plan was laid over the budget: it ends with it, or was cut where steps
                    # grew slower than it was laid at (load arriving near the end).
                    return self._planned_end() if plan_done else self._budget_cut(plan_at)
                if elapsed >= config.max_time:
                    return f"the time budget of {config.budget_words()} ran out"
            if config.patience > 0 and bad_epochs >= config.patience:
                self._stops_early = True
                return self._patience_reason(bad_epochs)
            return ""
        if config.patience > 0 and bad_epochs >= config.patience:
            self._stops_early = True
            return self._patience_reason(bad_epochs)
        return ""

    def _learning_ended_plan(self) -> bool:
        """Whether an adaptive plan ends where it does because learning stopped gaining, not
        because it was laid over the time budget or reached the epoch cap."""
        schedule = self._schedule
        return not getattr(schedule, "budget_bound", False) and schedule.plan < self._cap_steps

    def _patience_reason(self, bad_epochs: int) -> str:
        """Why early stopping ended the run; says why the count can exceed the patience."""
        patience = self.config.patience
        if bad_epochs <= patience:
            counted = f"{bad_epochs} epoch{'' if bad_epochs == 1 else 's'}"
            return f"no improvement for {counted} (patience {patience})"
        # Under a fading noise the count starts once the noise is low, with the epochs since the
        # best included, so it can start above the patience ('199 epochs (patience 30)' read as
        # a bug in the end-of-fit line).
        return (
            f"no improvement for {bad_epochs} epochs (patience {patience}, counted from when the "
            f"input noise faded below {PATIENT_STRENGTH:.0%} of its level)"
        )

    def _planned_end(self) -> str:
        """Why an adaptive run's plan ended where it did."""
        schedule = self._schedule
        if not self._adaptive:
            return ran_all(self.config.epochs)
        if getattr(schedule, "budget_bound", False):
            return f"the schedule was laid over the time budget of {self.config.budget_words()}"
        if schedule.plan >= self._cap_steps and not self.config.adaptive:
            # Epochs the user asked for, under a budget that did not bind: as a run without one.
            return ran_all(self.config.epochs)
        if schedule.plan >= self._cap_steps:
            return f"reached the cap of {self.config.epochs} epochs"
        needed = getattr(self, "_gain_needed", EXTEND_GAIN)
        if needed <= EXTEND_GAIN:
            asked = f"{EXTEND_GAIN:.0%} per {GAIN_WINDOW:.0%} more steps"
        else:
            asked = (
                f"{needed:.1%} per {GAIN_WINDOW:.0%} more steps (the gain asked grows with the work "
                f"done: {needed / EXTEND_GAIN:.1f}x the {self.free_work():.0e} FLOPs a run does freely)"
            )
        return (
            f"learning stopped gaining {asked}, so the rate and noise decayed over a plan of "
            f"{schedule.plan} steps"
        )

    def _budget_cut(self, plan: int) -> str:
        """Why a run ended at its time budget before the end of the ``plan`` laid over it."""
        short = plan - self._step
        rate = self.history.lr[-1] / self.config.learning_rate
        return (
            f"the time budget of {self.config.budget_words()} ran out {short} step"
            f"{'' if short == 1 else 's'} before the end of the schedule laid over it (the learning "
            f"rate at {rate:.2g} of its peak, not {FINAL_FACTOR:g})"
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

    def _elapsed(self) -> float:
        """Seconds of training in this run, those of the parts before a resume included."""
        return self.history.trained_seconds + time.perf_counter() - self._clock

    def _elapsed_everywhere(self) -> float:
        """:meth:`_elapsed` of the slowest process, so that every process takes the same decision."""
        if not distributed.active():
            return self._elapsed()
        return float(distributed.all_reduce_max(torch.tensor([self._elapsed()], device=self.device))[0])

    def _seconds_per_step(self, elapsed: float) -> float:
        """What a step costs now, its share of validation included: over the last epochs.

        Reads the marks :meth:`_mark_pace` left at the last epochs' ends. The run's whole
        average would count the first steps' start-up (allocations, caches): on digits it put
        the cost of a step 1.5x too high after the first epoch, and a 2 s budget ended at 1.3 s.
        """
        (then, then_step), (now, step) = self._pace_marks[0], self._pace_marks[-1]
        if step > then_step:
            return (now - then) / (step - then_step)
        return elapsed / max(1, self._step)

    def _mark_pace(self, elapsed: float) -> None:
        """Record (seconds trained, steps taken) at an epoch's end; keep the last few."""
        self._pace_marks.append((elapsed, self._step))
        del self._pace_marks[: -(PACE_EPOCHS + 1)]

    def _run_ends_now(self) -> bool:
        """Before each step of an adaptive run: whether the plan is done or the time budget spent.

        Read at every step, so that a run whose epochs are long against its budget ends within
        a step of it, not at an epoch's end. Under torchrun the processes' clocks differ: their
        decisions are taken at epoch ends, together.
        """
        if self._schedule.finished(self._step):
            return True
        budget = self.config.max_time
        # The first epoch of a run always completes, however short the budget; after a resume
        # the epochs before it count (its first epoch was trained before the interruption).
        if budget is None or distributed.active():
            return False
        if not self.history.epoch:
            self._say_first_epoch_overruns(budget)
            return False
        return self._elapsed() >= budget

    #: Whether the budget's running out inside the first epoch was said.
    _overrun_said: bool = False

    def _say_first_epoch_overruns(self, budget: float) -> None:
        """Say, once and as it happens, that the budget ran out inside the first epoch, which goes
        on to its end: a 10 s budget on 1.2 million rows trained 60 s, and the line that said so
        came only then."""
        # From the first step on: before it, the pace (and the line's estimate) is not known.
        if self._overrun_said or self._step < 1 or getattr(self, "progress", None) is None:
            return
        if self._elapsed() < budget:
            return
        self._overrun_said = True
        done, per_epoch = self._step, self.progress.steps_per_epoch
        more = max(0, per_epoch - done) * self._elapsed() / max(1, done)
        self.progress.say(
            f"the time budget of {self.config.budget_words()} ran out within the first epoch, which "
            f"always completes: step {done} of {per_epoch}, about {duration_words(more)} more"
        )

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
            elapsed = self._elapsed_everywhere()
            self._mark_pace(elapsed)
            # Within the cap: a budget of 1e308 s is a float's worth of steps, no int's.
            left = max(0.0, budget - elapsed) / self._seconds_per_step(elapsed)
            schedule.bound(step, int(min(left, self._cap_steps)))
        if self._warming_up(epoch):
            return
        monitored = self.history.monitored()
        best = list(itertools.accumulate(monitored, min))
        steps = [e * self._steps_per_epoch_seen for e in self.history.epoch]
        steps[-1] = step
        gain = plateau_gain(best, steps, self._gain_scale(best[-1]))
        self._gain_needed = self._stretch_price(step)
        gain = gain if math.isfinite(gain) else math.inf
        schedule.stretch(step, gain, self._gain_needed, unfinished=self._above_linear_floor(best[-1]))

    def _gain_scale(self, best: float) -> float:
        """What a gain of the best held-out loss ``best`` is a share of, for :meth:`_replan`.

        The geometric mean of the best loss and the mean's: a share of the mean's loss alone
        stopped near-perfect fits early (a swiss roll at 0.04x PCA's error ended 20-40 % worse
        than a full run), a share of the best loss alone never stops a loss that heads for zero.
        But where the best loss is still above PCA's at the same code size (:attr:`linear_floor`),
        it heads for no zero, and the loss itself is the scale: against the mean's, a network
        whose error fell by a tenth every 25 % more steps, at 4x PCA's, read as having stopped
        learning (2,000 16 x 16 photo patches at code 32 ended at 4.3x PCA's error in 63 epochs;
        data PCA explains to 98 % make the mean's loss 60x PCA's).
        """
        if self._above_linear_floor(best):
            return best
        return math.sqrt(max(best, 0.0) * self._reference)

    def _above_linear_floor(self, best: float) -> bool:
        """Whether the best held-out loss is still above PCA's at the same code size."""
        floor = self.linear_floor
        return floor is not None and math.isfinite(best) and best > floor

    def _stretch_price(self, step: int) -> float:
        """The gain a stretch must show now (:func:`~hourglass.train.schedule.gain_needed`).

        The work is the run's so far, forward and backward (3x the forward products), over the
        global batch, so every process and every number of processes takes the same decision.
        A time budget prices the run itself (:meth:`free_work`): under one, a stretch only has
        to gain.
        """
        free = self.free_work()
        if free is None or not self._sample_flops:
            return EXTEND_GAIN
        work = 3.0 * self._sample_flops * self.config.batch_size * step
        return gain_needed(work, free)

    def free_work(self) -> float | None:
        """The work past which a stretch must gain more (:func:`~hourglass.train.schedule.free_work`
        for this device); None where no price applies: a run of fixed length, or a time budget."""
        if not self._adaptive or self.config.max_time is not None:
            return None
        return free_work(accelerator=self.device.type != "cpu")
