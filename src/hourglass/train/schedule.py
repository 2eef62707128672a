"""How fast to learn and how much noise to add, step by step: the rate and noise schedules.

Two schedules, one per way of saying how long to train:

* :class:`WarmupCosine` for a run of a fixed length (``epochs=N``): a linear warm-up, then a
  cosine decay to 5 % over the whole run.
* :class:`ProgressiveCosine` for a run whose length is found as it goes (``epochs='auto'``, a
  time budget ``max_time``): the same cosine, over a plan that is stretched while the held-out
  loss still gains (:func:`plateau_gain`) and fixed once it stops gaining, within the epoch cap
  and the time budget. The input noise of the dense recipe fades over the same plan, so the
  model ends trained on clean inputs. Without a budget, a stretch of a run that has already
  done much work must buy more (:func:`gain_needed`): the gain is weighed against what the
  next stretch costs, not only against the run's own length.

A warmup-stable-decay schedule (constant rate until learning stalls, then a short decay) was
tried first and lost on digits: with the noise at full strength through the stable phase, the
clean held-out loss stalls early and a short fade cannot recover (k=16: 0.60x PCA against 0.46x
for a cosine of the same length). Both schedules are callable objects rather than closures so
that ``LambdaLR`` saves their state as plain JSON with every checkpoint: a resumed run continues
the same plan.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: The plan is stretched while the best held-out loss gains at least this share of the
#: geometric mean of itself and the loss of predicting the mean over the last
#: :data:`GAIN_WINDOW` of the steps so far ...
EXTEND_GAIN = 0.01
GAIN_WINDOW = 0.25
#: ... so that the current step sits at this share of the plan ...
EXTEND_AT = 0.4
#: ... and is fixed once the run passes this share of it without such a gain.
FREEZE_AT = 0.5
#: Training work (FLOPs of the forward and backward matrix products) a run without a time budget
#: does before a stretch must buy more than :data:`EXTEND_GAIN`; past it, the gain asked grows
#: with the work done, so the gain bought per FLOP stays the same. 1e12 FLOPs are about 7 s of a
#: CPU core (154 GFLOP/s fp32): below it lie the tables, the manifolds and digits (0.3e12 at
#: most), which keep their runs. Fashion-MNIST's dense default (one core, bf16) bought 7.52 ->
#: 7.47 on 10,000 images for 43 -> 58 s (2e12) and 7.52 for 97 s (no price); on all 60,000,
#: 0.514x PCA-30 in 78 s against 0.487x in 134 s at the 12,000-step cap.
FREE_WORK = 1e12
#: The same on an accelerator, whose FLOPs are cheaper (small networks on a GPU run far below
#: its peak: 50x a CPU core, not the 1000x of the peaks).
FREE_WORK_ACCELERATOR = 50 * FREE_WORK
#: The first plan: this many epochs and steps at least (within the cap), enough for the gain to
#: be read (a 150-row table takes one step an epoch: 30 of them left wine at 1.02x PCA's error).
MIN_PLAN_EPOCHS = 30
MIN_PLAN_STEPS = 500
#: The rate at the end of either schedule, as a share of the peak.
FINAL_FACTOR = 0.05


def warmup_steps(total_steps: int, steps_per_epoch: int) -> int:
    """Steps of the linear warm-up: 5 % of the planned run, at most 5 epochs and 200 steps."""
    return max(1, min(total_steps // 20, 5 * steps_per_epoch, 200))


def _cosine(progress: float) -> float:
    """From 1 at ``progress`` 0 down to 0 at 1, along half a cosine."""
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, progress))))


class WarmupCosine:
    """Learning-rate factor: linear warm-up over ``warmup`` steps, then cosine decay to 5 %."""

    def __init__(self, total_steps: int, warmup: int) -> None:
        self.total_steps = max(1, total_steps)
        self.warmup = max(1, warmup)

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, self.total_steps - self.warmup)
        return FINAL_FACTOR + (1 - FINAL_FACTOR) * _cosine(progress)


class ProgressiveCosine:
    """Learning-rate factor and noise strength of a run whose length is found while it trains.

    The cosine of :class:`WarmupCosine`, planned over ``plan`` steps that grow while learning
    goes on: after each epoch, if the best held-out loss improved by at least
    :data:`EXTEND_GAIN` over the last :data:`GAIN_WINDOW` of the steps so far, the plan is
    stretched so that this step sits at :data:`EXTEND_AT` of it. Once a run passes
    :data:`FREEZE_AT` of its plan without such a gain, the plan is fixed and the rate and the
    input noise decay to its end. A stretch early in the cosine barely moves the rate (it sits
    near its peak), so the run behaves as one cosine planned for the length it needed.

    Parameters
    ----------
    plan : int
        The first plan, in steps (:data:`MIN_PLAN_EPOCHS` epochs, within ``cap``).
    cap : int
        The most steps the run may take (the epoch cap, or what fits in a time budget).
    warmup : int
        Steps of the linear warm-up.

    Examples
    --------
    >>> schedule = ProgressiveCosine(plan=100, cap=1000, warmup=10)
    >>> schedule.stretch(80, gain=0.05), schedule.plan
    (True, 200)
    >>> schedule.stretch(110, gain=0.001), schedule.frozen
    (False, True)
    """

    def __init__(self, plan: int, cap: int, warmup: int) -> None:
        self.cap = max(1, int(cap))
        self.plan = max(1, min(int(plan), self.cap))
        # The plan learning asks for, once a stretch has set it (None: the plan). A checkpoint
        # of an earlier version holds no such entry: its plan is what learning asked for.
        self.asked: int | None = None
        #: The step at which the time budget is expected to run out (None: no budget).
        self.budget_end: int | None = None
        self.warmup = max(1, min(int(warmup), self.plan))
        self.frozen = False
        #: Whether the time budget is what ends the plan (it is shorter than learning asks).
        self.budget_bound = False
        # Neither the rate nor the noise ever climbs back when the plan is stretched: they hold
        # until the stretched cosine comes down to them. A noise that rose again would make the
        # clean held-out loss worse, then better as it faded anew, a gain that is no learning.
        self.rate_held = 1.0
        self.noise_held = 1.0

    @property
    def wanted(self) -> int:
        """The plan learning asks for (stretched while it gains); :attr:`plan` is this within
        the cap and the time budget."""
        return self.plan if self.asked is None else self.asked

    def _settle(self) -> None:
        """The plan: what learning asks for, within the cap and the budget."""
        self.asked = self.wanted
        self.plan = min(self.asked, self.cap)
        self.budget_bound = self.budget_end is not None and self.budget_end < self.plan
        if self.budget_bound:
            self.plan = self.budget_end
            # The warm-up was sized for the plan learning asked for: a short budget's plan ended
            # inside it, the rate still climbing (a 3 s conv fit: 2 epochs, lr 0.0006 and 0.001 of
            # 0.003, never decayed). It takes a tenth of the plan at most, like a fixed run's 5 %.
            self.warmup = max(1, min(self.warmup, self.plan // 10))

    def drop_budget(self) -> None:
        """Plan without a time budget (a run resumed without one): what learning asks, within the cap."""
        self.budget_end = None
        self._settle()

    def progress(self, step: int) -> float:
        return (step - self.warmup) / max(1, self.plan - self.warmup)

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        self.rate_held = min(self.rate_held, FINAL_FACTOR + (1 - FINAL_FACTOR) * _cosine(self.progress(step)))
        return self.rate_held

    def noise(self, step: int) -> float:
        """Strength of a fading input noise at ``step``: a cosine from 1 to 0 over the plan."""
        self.noise_held = min(self.noise_held, _cosine(step / max(1, self.plan)))
        return self.noise_held

    def hold_noise(self, strength: float) -> float:
        """A noise strength decided elsewhere (a fixed run's fade, epoch by epoch), held as
        :meth:`noise` holds its own: it never climbs back when the plan changes after."""
        self.noise_held = min(self.noise_held, strength)
        return self.noise_held

    def finished(self, step: int) -> bool:
        """Whether the plan's last step has been taken."""
        return step >= self.plan

    def stretch(self, step: int, gain: float, needed: float = EXTEND_GAIN, unfinished: bool = False) -> bool:
        """After an epoch: stretch the plan if learning still gains; return whether it did.

        The plan learning asks for is fixed once the run passes :data:`FREEZE_AT` of it without
        such a gain, or once it reaches the cap; a time budget shorter than it does not fix it
        (the budget's estimate moves with the measured cost of a step). ``unfinished``: the
        model has not reached what a linear one does (PCA's error at its code size); a plateau
        then does not fix the plan, which a gain after it may still stretch (a network
        learning a code direction by direction waits on a saddle between them).
        """
        if self.frozen:
            return False
        before = self.plan
        if gain >= needed and self.wanted < self.cap:
            self.asked = min(self.cap, max(self.wanted, math.ceil(step / EXTEND_AT)))
        elif (step >= FREEZE_AT * self.wanted and not unfinished) or self.wanted >= self.cap:
            self.frozen = True
        self._settle()
        return self.plan > before

    def bound(self, step: int, steps: int) -> None:
        """Fit the plan within ``steps`` from ``step`` on (what is left of a time budget).

        Called after every epoch with the latest estimate, which may be longer than the last
        one: a first estimate that counted the start-up's slow steps does not cut the run short.
        """
        self.budget_end = step + max(1, int(steps))
        self._settle()


def gain_needed(work: float | None, free: float) -> float:
    """The gain a stretch must show after ``work`` FLOPs of training: :data:`EXTEND_GAIN`, more past
    ``free`` FLOPs (:func:`free_work`), in proportion to the work.

    ``None`` (work the model's layers do not tell): :data:`EXTEND_GAIN`.

    Examples
    --------
    >>> gain_needed(3e11, FREE_WORK), gain_needed(4e12, FREE_WORK), gain_needed(4e12, FREE_WORK_ACCELERATOR)
    (0.01, 0.04, 0.01)
    """
    return EXTEND_GAIN * max(1.0, (work or 0.0) / free)


def free_work(accelerator: bool = False) -> float:
    """:data:`FREE_WORK`, or :data:`FREE_WORK_ACCELERATOR` on an accelerator."""
    return FREE_WORK_ACCELERATOR if accelerator else FREE_WORK


def plateau_gain(
    best: Sequence[float], steps: Sequence[int], scale: float, window: float = GAIN_WINDOW
) -> float:
    """How much the best held-out loss improved over the last ``window`` of the steps so far.

    ``best[i]`` is the best loss after ``steps[i]`` steps; the gain is returned as a share of
    ``scale``, the loss of predicting the mean (0.01: the last ``window`` of the run explained
    another 1 % of the data's variance); ``inf`` while there is no earlier point to compare
    with. A share of the current loss instead would never call a run done whose loss heads for
    zero (data the code can hold exactly). Gain per share of the run is gain per unit of time
    at a fixed cost per step, and unlike a wall-clock rate it gives the same decision on every
    run of a seed.

    Examples
    --------
    >>> round(plateau_gain([4.0, 2.0, 1.99, 1.985], [10, 20, 30, 40], scale=5.0), 4)
    0.001
    """
    if len(best) < 2:
        return math.inf
    then = steps[-1] * (1 - window)
    earlier = [b for b, s in zip(best, steps, strict=True) if s <= then]
    if not earlier:
        return math.inf
    return (earlier[-1] - best[-1]) / max(abs(scale), 1e-12)
