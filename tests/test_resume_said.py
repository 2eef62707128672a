"""A resumed run says where it goes on from and what is left of its time budget, before it trains;
an interrupted fit offers --resume only where it left a checkpoint to go on from.

Before, the first word of the remaining budget was the ', N s left' of the first resumed epoch's
line: a run resumed into a long epoch (or with rate-limited plain lines) said nothing for as long.
"""

from __future__ import annotations

import importlib
import io
import re

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from helpers import StopAfter, interrupt_once_at, run
from hourglass import AutoEncoder
from hourglass.train import checkpoint, resume
from hourglass.train.progress import Progress

PARAMS = dict(code_size=2, hidden_layers=(16,), batch_size=64, random_state=0, device="cpu", threads=1)


@pytest.fixture
def rows(monkeypatch):
    monkeypatch.setattr(resume, "SAVE_COST_MULTIPLE", 0.0)  # a checkpoint after every epoch
    return load_diabetes().data.astype(np.float32)


@pytest.mark.parametrize("budget", [50.0, None])
def test_a_resumed_run_says_what_it_trained_before_and_the_time_left(rows, tmp_path, budget, capsys):
    params = dict(PARAMS, checkpoint_dir=str(tmp_path), max_time=budget)
    AutoEncoder(**params, epochs="auto", callbacks=[StopAfter(3)]).fit(rows)
    before = checkpoint.read_header(tmp_path)["state"]["history"]["trained_seconds"]
    capsys.readouterr()
    AutoEncoder(**params, epochs="auto", verbose=1, callbacks=[StopAfter(4)]).fit(rows, resume=True)
    lines = capsys.readouterr().err.splitlines()
    said = [line for line in lines if line.startswith("resuming at epoch 4 from the checkpoint")]
    assert len(said) == 1, lines
    # Said before the first resumed epoch's own line.
    assert lines.index(said[0]) < next(i for i, line in enumerate(lines) if "epoch 4/" in line)
    assert f"{before:.3g} s" in said[0]
    if budget is None:
        assert "budget" not in said[0]
    else:
        left = float(re.search(r", ([0-9.e+-]+) s left$", said[0]).group(1))
        assert f"of the time budget of {budget:g} s trained before" in said[0]
        assert left == pytest.approx(budget - before, rel=1e-2)


def test_a_resume_into_a_spent_budget_says_so(rows, tmp_path, capsys):
    params = dict(PARAMS, checkpoint_dir=str(tmp_path))
    first = AutoEncoder(**params, max_time=100.0, callbacks=[StopAfter(3)]).fit(rows)
    spent = first.history_.trained_seconds
    capsys.readouterr()
    AutoEncoder(**params, max_time=spent / 2, verbose=1).fit(rows, resume=True)
    err = capsys.readouterr().err
    assert "resuming at epoch 4 from the checkpoint" in err
    assert "it is spent: the checkpoint's best weights are kept" in err


def test_a_line_said_off_a_terminal_does_not_hold_back_the_next_epochs_line():
    stream = io.StringIO()
    progress = Progress("AutoEncoder", 10, 5, 4, "mse", verbose=1, stream=stream)
    progress.say("resuming at epoch 4 from the checkpoint: 1 s trained before")
    progress.epoch_end(4, 0.5, 0.6, 1e-3, 0.1)
    progress.close()
    assert stream.getvalue().splitlines() == [
        "resuming at epoch 4 from the checkpoint: 1 s trained before",
        "AutoEncoder epoch 4/10: train mse 0.5, val mse 0.6, lr 0.001, 100 ms",
    ]


FAST_FIT = ["--code-size", "2", "--hidden", "16", "--epochs", "3", "--patience", "0", "--device", "cpu", "-q"]


@pytest.mark.parametrize(
    "epoch, said",
    [
        # Interrupted in its first epoch: --resume then failed with 'no checkpoint to resume from'.
        (1, "hourglass: interrupted; it stopped before its first checkpoint, so there is nothing to "
            "--resume: run it again"),
        (3, "hourglass: interrupted; a run with a checkpoint can go on with --resume"),
    ],
)  # fmt: skip
def test_an_interrupted_fit_offers_resume_only_with_a_checkpoint(rows, tmp_path, monkeypatch, epoch, said):
    np.save(tmp_path / "data.npy", rows)
    interrupt_once_at(epoch, monkeypatch)
    code, _, err = run("fit", tmp_path / "data.npy", "--out", tmp_path / "m", *FAST_FIT)
    assert code == 130
    assert err.strip() == said
    monkeypatch.undo()
    code, _, err = run("fit", tmp_path / "data.npy", "--out", tmp_path / "m", *FAST_FIT, "--resume")
    assert (code == 0) == (epoch > 1), err


def test_the_cli_names_the_checkpoint_file_the_trainer_writes():
    # The module, not the Typer app that hourglass.cli exports under the same name.
    cli_app = importlib.import_module("hourglass.cli.app")
    assert cli_app.CHECKPOINT_FILE == checkpoint.CHECKPOINT_FILE
