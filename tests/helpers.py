"""Helpers shared by the test modules: running the CLI in-process, the one-line error contract,
and a simulated Ctrl-C during training."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from hourglass.cli import app
from hourglass.train import resume
from hourglass.train.trainer import Trainer


def run(*args):
    """Run the CLI in-process; return its exit code, stdout and stderr."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def assert_one_line_error(code, out, err, *fragments):
    """Exit code 2, one line on stderr starting with 'hourglass: error:', no traceback."""
    assert code == 2, (out, err)
    assert err.startswith("hourglass: error: "), err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in out + err and "internal error" not in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def interrupt_once_at(epoch: int, monkeypatch) -> None:
    """Make the first training of ``epoch`` raise KeyboardInterrupt, as a user's Ctrl-C would.

    Checkpoints are written after every epoch meanwhile (:data:`resume.SAVE_COST_MULTIPLE` 0,
    where epochs of a small test table would otherwise leave a checkpoint of epoch 1 only), so
    the one left is of the epoch before ``epoch``.
    """
    monkeypatch.setattr(resume, "SAVE_COST_MULTIPLE", 0.0)
    original = Trainer.train_one_epoch
    state = {"raised": False}

    def interrupted(self, data, at):
        if at == epoch and not state["raised"]:
            state["raised"] = True
            raise KeyboardInterrupt
        return original(self, data, at)

    monkeypatch.setattr(Trainer, "train_one_epoch", interrupted)


class FakeClock:
    """perf_counter that advances by ``tick`` seconds a call: a run's time without waiting for it."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def run_logging_imports(cwd, argv: list[str]) -> tuple[int, list[str], set[str]]:
    """Run ``python -m hourglass ARGV`` in a fresh process: its exit code, the lines of stderr
    that are not import times, and the modules it imported (``-X importtime``)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "hourglass", *argv],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    lines = done.stderr.splitlines()
    imported = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}
    return done.returncode, [line for line in lines if not line.startswith("import time:")], imported


class StopAfter:
    """A callback that stops training at the end of epoch ``epoch`` (an interrupted run)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, estimator, epoch, logs):
        return epoch == self.epoch
