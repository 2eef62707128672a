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
from typing import TextIO

from tqdm.auto import tqdm

from hourglass.train import distributed


def _value(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:.4g}"


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
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.epochs, self.loss, self.description = epochs, loss, description
        shown = verbose > 0 and distributed.is_main()
        self.terminal = shown and bool(getattr(self.stream, "isatty", lambda: False)())
        self.plain = shown and not self.terminal
        self.min_interval, self.last_line = float(min_interval), -math.inf
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

    def epoch_end(self, epoch: int, train: float, val: float, learning_rate: float, seconds: float) -> None:
        """Show an epoch's losses (in the training loss's units) and how long it took."""
        if self.terminal:
            self.bar.set_description(f"{self.description} epoch {epoch}/{self.epochs}", refresh=False)
            self.bar.set_postfix_str(f"train {self.loss} {_value(train)}, val {self.loss} {_value(val)}")
        elif self.plain and (
            epoch in (1, self.epochs) or time.monotonic() - self.last_line >= self.min_interval
        ):
            self.last_line = time.monotonic()
            print(
                f"{self.description} epoch {epoch}/{self.epochs}: train {self.loss} {_value(train)}, "
                f"val {self.loss} {_value(val)}, lr {learning_rate:.3g}, {seconds:.1f} s",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        self.bar.close()
