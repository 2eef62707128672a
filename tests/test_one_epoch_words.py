"""A run of one epoch is said in the singular: 'ran all 1 epochs' read as a typo in the line
every ``hourglass fit --epochs 1`` (a first try, a smoke test) ends on."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_diabetes

from helpers import run
from hourglass import AutoEncoder

PARAMS = dict(code_size=2, hidden_layers=(16,), batch_size=64, random_state=0, device="cpu", threads=1)


def test_a_run_of_one_epoch_says_it_in_the_singular(tmp_path):
    rows = load_diabetes().data.astype(np.float32)
    assert AutoEncoder(**PARAMS, epochs=1).fit(rows).history_.stop_reason == "ran its 1 epoch"
    assert AutoEncoder(**PARAMS, epochs=1, max_time=1e6).fit(rows).history_.stop_reason == "ran its 1 epoch"
    assert AutoEncoder(**PARAMS, epochs=2).fit(rows).history_.stop_reason == "ran all 2 epochs"
    np.save(tmp_path / "rows.npy", rows)
    code, out, err = run("fit", tmp_path / "rows.npy", "-o", tmp_path / "m", "--epochs", "1")
    assert code == 0, err
    assert ": ran its 1 epoch, best epoch 1" in out and "1 epochs" not in out


def test_patience_of_one_epoch_is_said_in_the_singular():
    rows = load_diabetes().data.astype(np.float32)
    ae = AutoEncoder(**PARAMS, epochs=200, patience=1, noise=None).fit(rows)
    assert ae.history_.stop_reason == "no improvement for 1 epoch (patience 1)", ae.history_.stop_reason
