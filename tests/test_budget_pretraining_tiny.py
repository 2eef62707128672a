"""A budget under a millisecond with layer-wise pretraining trains one epoch and says so.

Pretraining's share was the budget less a floor of 1 ms for the run: under 1 ms it came out
negative, and fit failed with 'pretrain_seconds=-0.0005 must be non-negative', a parameter the
user never gave (``hourglass fit --pretrain layerwise --time 0.0005`` exited 2 with it).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from hourglass import AutoEncoder
from hourglass.exceptions import TimeBudgetWarning

PARAMS = dict(code_size=2, hidden_layers=(16, 8), batch_size=64, random_state=0, device="cpu", threads=1)


@pytest.mark.parametrize("budget", [5e-4, 1e-6])
def test_a_sub_millisecond_budget_with_pretraining_trains_one_epoch(budget):
    rows = load_diabetes().data.astype(np.float32)
    with pytest.warns(TimeBudgetWarning, match="shorter than one epoch"):
        ae = AutoEncoder(**PARAMS, pretrain="layerwise", max_time=budget).fit(rows)
    assert ae.n_epochs_ == 1 and "shorter than one epoch" in ae.history_.stop_reason
    recipe = ae.history_.recipe
    assert recipe["max_time"] == pytest.approx(budget) and 0 <= recipe["pretrain_seconds"] <= budget
