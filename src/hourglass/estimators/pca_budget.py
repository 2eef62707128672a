"""Whether a time budget cuts a dense autoencoder's planned run hard enough for the PCA path.

``pca_path='auto'`` adds the path (:mod:`hourglass.estimators.pca_path`) on 100 training rows or
more only where ``max_time`` is estimated to hold less than :data:`BUDGET_SHARE` of the planned
steps (the epochs asked for, or ``epochs='auto'``'s cap, times the steps per epoch), or
:data:`UNIT_INTERVAL_SHARE` of them for data in [0, 1] such as pixels. There the network, cut
off long before it has learned from random weights, is better off starting at PCA's solution.
The estimate needs what a step costs before the network is built for good: :func:`time_steps`
trains a throwaway copy of the plain network for a few steps on real rows, at the fit's device,
precision and threads, its weights drawn inside a fork of torch's random streams (given back as
they were; numpy's are not used), so that a seeded fit whose path stays off trains exactly as it
did without the probe. A fit without ``max_time`` never runs it, and a warm start or a resumed
run takes the choice of the run it continues. The codes then cluster a little worse, as without
a budget: Fashion-MNIST's 60,000 images at ``max_time=60``, code 10, test images clustered by
:func:`hourglass.cluster`: NMI 0.639 with the path against 0.666 without (PCA's codes 0.599,
raw pixels 0.591); ``pca_path=False`` keeps it off for codes meant for clustering.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from hourglass.data.fileio import safetensors_header
from hourglass.data.sources import first_items
from hourglass.estimators.fitting import resolved_epochs
from hourglass.estimators.pca_path import BUDGET_WORDS, STARTS_AT_PCA
from hourglass.nn.model import build_model
from hourglass.runtime import distributed
from hourglass.runtime.devices import resolve_device
from hourglass.runtime.threads import resolve_threads, thread_limit
from hourglass.train import checkpoint
from hourglass.train import optimizer as optim
from hourglass.train.budget import parse_duration
from hourglass.train.precision import autocast, forward_flops, matmul_scope, resolve_precision

#: 'auto' adds the path where the budget holds less than this share of the planned steps.
#: Held-out error with the path as a share of the plain run's (``hourglass.compare``, split 0, one
#: loaded Xeon core, where 1 s held 1-13 % of the cap): on the swiss roll, the S-curve and digits'
#: pixels (raw and / 16) 0.39x-0.40x on geometric mean at 1 s, 0.48x at 3 s, 0.67x at 10 s
#: (13 % at most), 1.06x at worst; on standardized tables (breast cancer, wine, diabetes, iris)
#: 0.88x-0.93x where the budget held 4-13 % of the cap, 0.96x-1.05x at 15-25 %, 1.08x at 22-33 %
#: (diabetes at code 5: 1.22x), and in an earlier unloaded hour 1.02x at 37-40 % (breast cancer
#: and diabetes at ~115 of 300 epochs) and 1.16x where the run nearly fitted (iris, wine).
BUDGET_SHARE = 0.25
#: ... and for data in [0, 1] (pixel intensities), where the path lowered the held-out error at
#: every length measured, the full run's included (digits / 16, codes 2 / 8 / 16: 0.455x / 0.388x
#: / 0.453x PCA's against 0.466x / 0.391x / 0.454x), and stays off without a budget only because
#: codes nearer PCA's cluster a little worse. Digits / 16 at ``max_time=2`` on an EPYC core,
#: where 2 s held 25-30 % of the plan, seeds 0-2: 0.481x-0.486x with the path against 0.560x
#: without at code 2, 0.395x-0.402x against 0.433x at 8, 0.426x against 0.542x-0.549x at 16; on
#: a Xeon core, where 2 s held about 45 %, 0.49x-0.52x against 0.53x-0.55x at code 2.
UNIT_INTERVAL_SHARE = 0.5
#: Steps timed after one warm-up step; the fastest counts (a step slowed by other work says
#: nothing of the network's cost). On a core shared with other work the run's steps are slower
#: than the fastest: there the estimate of the share the budget holds was 1.2-1.9x the share the
#: run reached (median of 16-30 fits), which errs toward leaving the path off, as before it.
TIMED_STEPS = 3
#: The probe may cost at most this share of the budget: where the first timed step says the
#: others would take more, it stops there (see :data:`FIRST_STEP_SLACK`).
PROBE_SHARE = 0.05
#: Where the timed steps would cost too much, the one step timed decides only if the budget is
#: cut even at steps this many times as fast (a single step may have been slowed by other work).
FIRST_STEP_SLACK = 4.0
#: What a step of the run costs, in the probe's fastest steps: a step's own share (the batch's
#: reads and scaling) and each epoch's work beside its steps (validation, the stop rules, the
#: record), which on a small table weighs as much as a step. Read from CPU seconds (immune to
#: other work on the core) of 40-epoch fits on one Xeon core against the probe's: an epoch cost
#: 1.1x its steps plus about one probe step (iris, 1 step an epoch: 4.9 ms against 2.2 for the
#: probe's step; wine 5.5 / 2.3; breast cancer, 2 steps, 13.1 / 4.2; digits, 7, 37 / 3.9).
STEP_FACTOR = 1.1
EPOCH_STEPS = 1.0


def decide(
    budget: float, planned_steps: int, step_seconds: float, timing: str = "", share: float = BUDGET_SHARE
) -> tuple[bool, str]:
    """Whether a run of ``planned_steps`` under ``budget`` seconds gets the path, and why.

    Parameters
    ----------
    budget : float
        The time budget in seconds.
    planned_steps : int
        The steps the run plans at most.
    step_seconds : float
        What one step is estimated to cost.
    timing : str
        How the step was timed, for the reason (default: the fastest of :data:`TIMED_STEPS`).
    share : float
        The share of the plan below which the path goes: :data:`BUDGET_SHARE`, or
        :data:`UNIT_INTERVAL_SHARE` for data in [0, 1].

    Examples
    --------
    >>> decide(2.0, 1450, 0.0092)[0], decide(60.0, 1450, 0.0092)[0]
    (True, False)
    """
    held = budget / max(step_seconds, 1e-9) / max(1, planned_steps)
    portion = f"about {held:.0%}" if held < 1 else "all"
    timing = timing or f"{TIMED_STEPS} steps timed, the fastest {_duration(step_seconds)}"
    words = f"the {budget:g} s {BUDGET_WORDS} holds {portion} of the {planned_steps:,} planned steps"
    words += f" ({timing})"
    if held < share:
        return True, f"auto: {words}, less than {share:.0%}" + STARTS_AT_PCA
    return False, f"auto: off, {words}: not under the {share:.0%} below which a cut run gains from it"


def _duration(seconds: float) -> str:
    """``seconds`` in words: ``4.6 ms``, ``1.2 s``."""
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def budget_rule(est: Any, source: Any, items: np.ndarray, resume: bool = False) -> tuple[bool, str] | None:
    """The time budget's choice for a dense autoencoder's 'auto' PCA path, or None (no budget).

    ``source`` and ``items``: the training data and rows, scaled by ``est.scaler_`` for the
    probe. A resumed run (``resume``) times nothing: it takes the choice of the run it
    continues, which its checkpoint's tensors show, as a warm start keeps its fit's.
    """
    if resume:
        names = safetensors_header(Path(est.checkpoint_dir) / checkpoint.CHECKPOINT_FILE)[1]
        if any(name.endswith(".path_weight") for name in names):
            return True, f"auto: kept from the checkpoint this run resumes, which a {BUDGET_WORDS} gave it"
        return None
    budget = parse_duration(getattr(est, "max_time", None))
    if budget is None:
        return None
    n_train = len(items)
    steps_per_epoch = math.ceil(n_train / max(1, int(est.batch_size)))

    def rows(n: int) -> torch.Tensor:
        return first_items(source.training_data(items[:n], est.scaler_), n)

    planned = resolved_epochs(est, n_train) * steps_per_epoch
    lo, hi = getattr(est, "data_range_", (-1.0, 2.0))  # the scaled training data's range
    share = UNIT_INTERVAL_SHARE if 0.0 <= lo and hi <= 1.0 else BUDGET_SHARE
    return choose(est, rows, planned, budget, steps_per_epoch, share)


def choose(
    est: Any,
    rows: Callable[[int], torch.Tensor],
    planned_steps: int,
    budget: float,
    steps_per_epoch: int = 1,
    share: float = BUDGET_SHARE,
) -> tuple[bool, str]:
    """Rank 0's :func:`decide` for ``est`` under ``budget`` (every torchrun process takes it).

    ``rows(n)``: the first ``n`` training rows, scaled; ``planned_steps``, ``steps_per_epoch``:
    the run's cap and its epochs' length in steps; ``share``: :func:`decide`'s.
    """
    choice = None
    if distributed.rank() == 0:
        # Rank 0 alone times: another process's busier core would decide otherwise.
        batch = rows(min(int(est.batch_size), 4096))
        seconds, first = time_steps(est, batch, PROBE_SHARE * budget)
        factor = STEP_FACTOR + EPOCH_STEPS / steps_per_epoch
        if seconds is not None:
            timing = (
                f"{TIMED_STEPS} steps timed, the fastest {_duration(seconds)}; "
                f"{_duration(seconds * factor)} a step with each epoch's own work"
            )
            choice = decide(budget, planned_steps, seconds * factor, timing, share)
        else:
            # The one step timed decides only where the budget cuts the run even at steps
            # FIRST_STEP_SLACK times as fast; otherwise the path stays off, as without a probe.
            fast = first * factor / FIRST_STEP_SLACK
            timing = f"1 step timed at {_duration(first)}, counted at {_duration(fast)} a step"
            choice = decide(budget, planned_steps, fast, timing, share)
            if not choice[0]:
                choice = (
                    False,
                    f"auto: off, the {budget:g} s {BUDGET_WORDS} is too short to time the network's "
                    f"steps in ({first:.2g} s for one), and one step does not show that it cuts the run",
                )
    on, reason = distributed.gather(choice)[0]
    return bool(on), str(reason)


def time_steps(est: Any, batch: torch.Tensor, allowed: float) -> tuple[float | None, float]:
    """The fastest of :data:`TIMED_STEPS` training steps of ``est``'s plain network on ``batch``.

    Returns ``(seconds, first)``: ``first`` is the first timed step's seconds (after a warm-up
    step); ``seconds`` None where the probe, set-up and warm-up included, would take more than
    ``allowed`` seconds with the other timed steps. Nothing of
    the global random streams moves (torch's CPU and CUDA ones are forked, numpy's unused).
    """
    start = time.perf_counter()
    device = resolve_device(est.device)
    cuda = device.type == "cuda"
    devices = [torch.cuda.current_device() if device.index is None else device.index] if cuda else []
    with torch.random.fork_rng(devices=devices):
        # The CPU generator alone (the layers are built on the CPU): torch.manual_seed would
        # reseed every GPU's generator too, which the fork does not give back.
        torch.default_generator.manual_seed(0)
        module = build_model(est.architecture_).to(device)
        x = batch.to(device, torch.float32)
        flops = forward_flops(module, x[:1])
        step_flops = None if flops is None else flops * len(x)
        precision, _ = resolve_precision(getattr(est, "precision", "auto"), device, step_flops)
        threads, _ = resolve_threads(getattr(est, "threads", "auto"), step_flops)
        opt = optim.adamw([p for p in module.parameters() if p.requires_grad], 1e-3, 0.0)
        module.train()

        def step() -> float:
            tic = time.perf_counter()
            with matmul_scope(device, precision):
                with autocast(device, precision):
                    out = module(x)["reconstruction"]
                loss = F.mse_loss(out.float(), x)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                optim.step(opt)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            return time.perf_counter() - tic

        with thread_limit(threads):
            step()  # the warm-up: a process's first step also pays one-time set-ups
            first = step()
            # The set-up, the warm-up and this step are spent; the other steps must fit too.
            if time.perf_counter() - start + (TIMED_STEPS - 1) * first > allowed:
                return None, first
            return min([first, *(step() for _ in range(TIMED_STEPS - 1))]), first


__all__ = [
    "BUDGET_SHARE",
    "PROBE_SHARE",
    "UNIT_INTERVAL_SHARE",
    "TIMED_STEPS",
    "budget_rule",
    "choose",
    "decide",
    "time_steps",
]
