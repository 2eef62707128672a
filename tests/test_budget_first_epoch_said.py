"""A budget that runs out inside the first epoch, which always completes, is said when it happens.

A 10 s budget on 1.2 million rows trained 60 s; the command line said nothing until the epoch
ended, 50 s past the budget, when the end-of-fit line explained it.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from helpers import FakeClock
from hourglass import AutoEncoder
from hourglass.exceptions import TimeBudgetWarning
from hourglass.train import trainer as trainer_module

PARAMS = dict(code_size=2, hidden_layers=(16,), batch_size=16, random_state=0, device="cpu", threads=1)


@pytest.fixture
def rows():
    return load_diabetes().data.astype(np.float32)  # 397 training rows: 25 steps an epoch


def test_a_budget_spent_in_the_first_epoch_is_said_as_it_runs_out(rows, monkeypatch, capsys):
    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(0.01))
    with pytest.warns(TimeBudgetWarning):
        ae = AutoEncoder(**PARAMS, max_time=0.05, verbose=1).fit(rows)
    lines = capsys.readouterr().err.splitlines()
    said = [line for line in lines if "ran out within the first epoch" in line]
    assert len(said) == 1, lines
    assert re.fullmatch(
        r"the time budget of 0\.05 s ran out within the first epoch, which always completes: "
        r"step \d+ of 25, about [0-9.e+-]+ s more",
        said[0],
    ), said[0]
    assert lines.index(said[0]) < next(i for i, line in enumerate(lines) if "epoch 1/" in line)
    assert ae.n_epochs_ == 1 and "shorter than one epoch" in ae.history_.stop_reason


def test_a_budget_that_outlasts_the_first_epoch_says_nothing_of_it(rows, monkeypatch, capsys):
    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(0.001))
    AutoEncoder(**PARAMS, max_time=1000.0, epochs=3, verbose=1).fit(rows)
    assert "within the first epoch" not in capsys.readouterr().err
