"""What training shows while it runs: a step-level progress bar on a terminal, plain lines elsewhere.

A Fashion-MNIST epoch takes seconds; a bar that only moves per epoch looks frozen. On a terminal
the bar counts optimizer steps across the whole run (tqdm redraws at most twice a second, so a
step costs nothing to count) and shows the last epoch's losses, named by the loss they are. When
stderr is not a terminal (a log file, a job scheduler) a bar would fill the file with carriage
returns, so epochs print plain lines instead: the first, the last, and one at most every
``min_interval`` seconds between (a digits epoch takes 0.1 s; 300 lines of it help no one).
Under torchrun only rank 0 reports.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm.auto import tqdm

from hourglass.runtime import distributed
from hourglass.train.budget import duration_words


def _value(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:.4g}"


def _duration(seconds: float) -> str:
    """An epoch's time: '21 ms' under a second (a small table's epochs read '0.0 s' otherwise), '1.2 s'.

    Examples
    --------
    >>> _duration(0.0213), _duration(1.25), _duration(0.9996)
    ('21 ms', '1.2 s', '1.0 s')
    """
    if seconds < 0.9995:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s"


class Progress:
    """Progress of one training run.

    Parameters
    ----------
    description : str
        What is training (the estimator's name).
    epochs, steps_per_epoch : int
        The run's length.
    start_epoch : int
        The first epoch this process trains (later than 1 when resuming).
    loss : str
        The reconstruction loss's name ('mse', 'bce'), shown with every value.
    verbose : int
        0: nothing.
    stream : file, optional
        Where to write (stderr by default).
    min_interval : float
        Seconds between plain lines (off a terminal).
    max_time : float, optional
        The run's time budget in seconds: the time left is shown with every epoch.
    clock : callable, optional
        Seconds of training so far (a resumed run's earlier parts included); needed with
        ``max_time``.
    """

    def __init__(
        self,
        description: str,
        epochs: int,
        steps_per_epoch: int,
        start_epoch: int,
        loss: str,
        verbose: int,
        stream: TextIO | None = None,
        min_interval: float = 5.0,
        max_time: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.epochs, self.loss, self.description = epochs, loss, description
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        #: The epochs an adaptive plan or a time budget now ends the run at (None: the cap).
        self.planned: int | None = None
        shown = verbose > 0 and distributed.is_main()
        self.terminal = shown and bool(getattr(self.stream, "isatty", lambda: False)())
        self.plain = shown and not self.terminal
        self.min_interval, self.last_line = float(min_interval), -math.inf
        #: The last epoch's plain line, while rate-limiting keeps it back.
        self.held_back: str | None = None
        self.max_time, self.clock = max_time, clock
        self.bar = tqdm(
            total=epochs * steps_per_epoch,
            initial=(start_epoch - 1) * steps_per_epoch,
            desc=description,
            unit="step",
            disable=not self.terminal,
            dynamic_ncols=True,
            mininterval=0.5,
            file=self.stream,
        )

    def step(self) -> None:
        """One optimizer step done."""
        self.bar.update(1)

    def time_left(self) -> str:
        """``', 12 s left'`` of the time budget, or '' without one."""
        if self.max_time is None or self.clock is None:
            return ""
        left = max(0.0, self.max_time - self.clock())
        # Whole seconds up to 99; beyond, minutes and hours ('5400 s left' under a '1.5h' budget).
        return f", {left:.0f} s left" if left < 99.5 else f", {duration_words(left)} left"

    def replan(self, total_steps: int) -> None:
        """The run now ends after ``total_steps`` steps (an adaptive run settled its end)."""
        planned = math.ceil(total_steps / self.steps_per_epoch)
        # Under the cap the plan is the run's length: 'epoch 37/280' read as 243 epochs to go
        # where a time budget ends the run near epoch 44.
        self.planned = planned if planned < self.epochs else None
        if self.bar.total != total_steps:
            self.bar.total = max(total_steps, self.bar.n)
            self.bar.refresh()

    def of(self, epoch: int) -> str:
        """``'37/280'`` for a fixed number of epochs; ``'37/~44'`` where a plan ends the run before
        its cap (an estimate: a plan may still stretch or be cut by the time left)."""
        if self.planned is None:
            return f"{epoch}/{self.epochs}"
        return f"{epoch}/~{max(epoch, self.planned)}"

    def epoch_end(self, epoch: int, train: float, val: float, learning_rate: float, seconds: float) -> None:
        """Show an epoch's losses (in the training loss's units), how long it took, and the time left."""
        left = self.time_left()
        if self.terminal:
            self.bar.set_description(f"{self.description} epoch {self.of(epoch)}", refresh=False)
            self.bar.set_postfix_str(
                f"train {self.loss} {_value(train)}, val {self.loss} {_value(val)}{left}", refresh=False
            )
        elif self.plain:
            line = (
                f"{self.description} epoch {self.of(epoch)}: train {self.loss} {_value(train)}, "
                f"val {self.loss} {_value(val)}, lr {learning_rate:.3g}, {_duration(seconds)}{left}"
            )
            if (
                epoch in (1, self.epochs, self.planned)
                or time.monotonic() - self.last_line >= self.min_interval
            ):
                self._print(line)
            else:
                self.held_back = line

    def say(self, line: str) -> None:
        """Show a line of its own (above the bar on a terminal), where progress is shown at all."""
        if self.terminal:
            self.bar.write(line, file=self.stream)
        elif self.plain:
            print(line, file=self.stream, flush=True)  # not an epoch's line: the next one still shows

    def _print(self, line: str) -> None:
        self.last_line, self.held_back = time.monotonic(), None
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        """End the bar; off a terminal, print the last epoch's line if rate-limiting held it back
        (a run that stops before its cap ends on it, not on an earlier epoch)."""
        if self.held_back is not None:
            self._print(self.held_back)
        self.bar.close()
