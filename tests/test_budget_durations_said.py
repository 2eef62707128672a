"""Times trained and left under a long budget are said in minutes and hours.

Under ``max_time='1.5h'`` the progress line read '5400 s left', and a resumed run's line and the
stop reasons used three significant digits: '5.97e+03 s left', 'shorter than one epoch (1.5e+02 s)'.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hourglass.train.budget import duration_words
from hourglass.train.config import TrainConfig
from hourglass.train.progress import Progress
from hourglass.train.resume import Checkpointing


@pytest.mark.parametrize(
    ("left", "said"),
    [(0.0, ", 0 s left"), (42.4, ", 42 s left"), (545.0, ", 9 min 05 s left"), (5400.0, ", 1 h 30 min left")],
)
def test_the_progress_line_says_a_long_time_left_in_minutes_and_hours(left, said):
    progress = Progress("AutoEncoder", 10, 5, 1, "mse", verbose=0, max_time=left + 10.0, clock=lambda: 10.0)
    assert progress.time_left() == said


def test_a_resumed_runs_line_says_a_long_budget_in_minutes_and_hours():
    run = SimpleNamespace(
        history=SimpleNamespace(trained_seconds=1234.0), config=TrainConfig(max_time=7200.0)
    )
    assert Checkpointing._resume_words(run, 5) == (
        "resuming at epoch 5 from the checkpoint: 20 min 34 s of the time budget of 7200 s trained "
        "before, 1 h 39 min left"
    )


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(0.0259, "0.0259 s"), (19.53, "19.5 s"), (99.4, "99.4 s"), (99.6, "1 min 40 s"), (3599.6, "1 h 00 min")],
)
def test_durations_read_at_any_length(seconds, said):
    assert duration_words(seconds) == said
