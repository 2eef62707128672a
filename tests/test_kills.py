"""Kills and races: ``hourglass fit`` killed (SIGKILL) at chosen and random instants, and two writers.

A training subprocess runs the CLI with one function wrapped so that its n-th call kills the
process just before or just after it (between a checkpoint's write and its rename, inside the
folder swap, ...) or waits for the test. After every kill the model folder holds a complete
model or none, and the run is recovered the way a user would (``--resume``, or ``--force`` when
resume refuses with one line): it must end with exactly the weights of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import hourglass
from hourglass.cli import main

ARGS = ["--code-size", "2", "--hidden", "8", "--epochs", "3", "--patience", "0", "--device", "cpu", "-q"]

HARNESS = r"""
import json, os, signal, sys, time
spec = json.loads(os.environ.get("HG_HOOK") or "null")
from hourglass.cli import main
import hourglass.train.resume
hourglass.train.resume.SAVE_COST_MULTIPLE = 0.0  # a checkpoint after every epoch: the instants below

def act():
    if spec["action"] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    open(spec["ready"], "w").close()
    while not os.path.exists(spec["go"]):
        time.sleep(0.02)

if spec:
    module, _, name = spec["target"].partition(":")
    owner = __import__(module, fromlist=["_"])
    *path, attr = name.split(".")
    for part in path:
        owner = getattr(owner, part)
    original, calls = getattr(owner, attr), [0]

    def hooked(*args, **kwargs):
        calls[0] += 1
        hit = calls[0] == spec["hit"]
        if hit and spec["when"] == "before":
            act()
        result = original(*args, **kwargs)
        if hit and spec["when"] == "after":
            act()
        return result

    setattr(owner, attr, hooked)
sys.exit(main(sys.argv[1:]))
"""

#: (target, hit, before/after): the instants of a 3-epoch fit (and of its final save) to kill at.
INSTANTS = [
    ("hourglass.train.trainer:Trainer.train_one_epoch", 2, "before"),
    ("hourglass.train.checkpoint:save_tensors", 1, "before"),
    ("hourglass.train.checkpoint:save_tensors", 2, "after"),  # tensors written beside, not yet renamed
    ("os:replace", 2, "before"),
    ("os:replace", 2, "after"),  # checkpoint of epoch 2 in place
    ("hourglass.train.checkpoint:save_tensors", 3, "after"),
    ("hourglass.estimators.persistence:save_tensors", 1, "before"),
    ("hourglass.estimators.persistence:save_tensors", 1, "after"),  # the new model folder written beside
    ("hourglass.data.fileio:_swap_in", 1, "before"),
    ("hourglass.data.fileio:_swap_in", 1, "after"),  # model in place, checkpoint not yet removed
    ("hourglass.data.fileio:_exchange", 1, "before"),  # (--force over an old model) inside the swap
    ("hourglass.data.fileio:_exchange", 1, "after"),  # swapped; the old model not yet removed
    ("shutil:rmtree", 1, "after"),
]
FAST = [2, 11]  # the default run: a torn checkpoint write, and a kill inside the folder swap


@pytest.fixture(scope="module")
def setup(tmp_path_factory, digits):
    """Data, the harness script, and the weights of an uninterrupted run."""
    folder = tmp_path_factory.mktemp("kills")
    np.save(folder / "data.npy", digits[0][:80].astype(np.float32))
    (folder / "harness.py").write_text(HARNESS)
    assert main(["fit", str(folder / "data.npy"), "--out", str(folder / "reference"), *ARGS]) == 0
    old = ["--code-size", "3", *ARGS[2:]]
    assert main(["fit", str(folder / "data.npy"), "--out", str(folder / "old"), *old]) == 0
    return folder


def _weights(model) -> dict[str, torch.Tensor]:
    return load_file(str(model / "weights.safetensors"))


def _same_weights(a, b) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def _start(setup, out, hook=None, extra=()):
    env = {**os.environ, "HG_HOOK": json.dumps(hook), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    argv = [sys.executable, str(setup / "harness.py"), "fit", str(setup / "data.npy"), "--out", str(out)]
    return subprocess.Popen([*argv, *ARGS, *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _loadable(model) -> bool:
    try:
        hourglass.load(model, device="cpu")
    except hourglass.exceptions.ModelFileError:
        return False
    return True


def _recover(setup, out, capsys) -> str:
    """Finish the run as a user would; return how ('done', 'resumed', 'forced', 'fresh')."""
    data = str(setup / "data.npy")
    checkpoint = out.with_name(out.name + ".checkpoint")
    if not checkpoint.exists():
        if out.exists() and _loadable(out) and _same_weights(out, setup / "reference"):
            return "done"
        assert main(["fit", data, "--out", str(out), *ARGS, "--force"]) == 0
        return "fresh"
    capsys.readouterr()
    code = main(["fit", data, "--out", str(out), *ARGS, "--resume", "--force"])
    err = capsys.readouterr().err
    if code == 0:
        return "resumed"
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert main(["fit", data, "--out", str(out), *ARGS, "--force"]) == 0
    return "forced"


def _kill_and_recover(setup, tmp_path, capsys, hook=None, delay=None, over_old=False) -> str:
    out = tmp_path / "m"
    if over_old:
        import shutil

        shutil.copytree(setup / "old", out)
    process = _start(setup, out, hook, ["--force"] if over_old else [])
    if delay is not None:
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
    _, err = process.communicate(timeout=120)
    assert process.returncode in (0, -signal.SIGKILL), err.decode()
    # At every instant the name holds a whole model (the old or the new) or, for a first run, none.
    if over_old or out.exists():
        assert _loadable(out), os.listdir(tmp_path)
    how = _recover(setup, out, capsys)
    assert _same_weights(out, setup / "reference"), how
    # Nothing hidden is left behind; a run killed after its last step (nothing left to recover)
    # leaves only its lock file, which nobody holds and the next writer takes over.
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["m"] or (how == "done" and left == ["m", "m.lock"]), (how, left)
    return how


@pytest.mark.parametrize("index", FAST)
def test_kill_at_an_instant_then_resume_reaches_the_uninterrupted_weights(setup, tmp_path, capsys, index):
    target, hit, when = INSTANTS[index]
    _kill_and_recover(setup, tmp_path, capsys, {"target": target, "hit": hit, "when": when, "action": "kill"},
                      over_old="_exchange" in target)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("index", [i for i in range(len(INSTANTS)) if i not in FAST])
def test_kill_at_every_instant_then_resume_reaches_the_uninterrupted_weights(setup, tmp_path, capsys, index):
    target, hit, when = INSTANTS[index]
    hook = {"target": target, "hit": hit, "when": when, "action": "kill"}
    _kill_and_recover(setup, tmp_path, capsys, hook, over_old="_exchange" in target)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(12))
def test_kill_at_a_random_instant_then_resume_reaches_the_uninterrupted_weights(
    setup, tmp_path, capsys, seed
):
    # Most of a run's wall time is importing torch; the delays cover the import, training and saving.
    delay = random.Random(seed).uniform(2.0, 6.0)
    _kill_and_recover(setup, tmp_path, capsys, delay=delay, over_old=seed % 2 == 1)


def test_a_second_writer_is_refused_while_the_first_trains(setup, tmp_path, capsys):
    out = tmp_path / "m"
    ready, go = tmp_path.parent / f"{tmp_path.name}.ready", tmp_path.parent / f"{tmp_path.name}.go"
    hook = {"target": "hourglass.train.trainer:Trainer.train_one_epoch", "hit": 2, "when": "before",
            "action": "wait", "ready": str(ready), "go": str(go)}  # fmt: skip
    first = _start(setup, out, hook)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        capsys.readouterr()
        for extra in (["--force"], ["--resume"], ["--resume", "--force"]):
            assert main(["fit", str(setup / "data.npy"), "--out", str(out), *ARGS, *extra]) == 2
            err = capsys.readouterr().err
            assert f"is being written by pid {first.pid} on " in err and len(err.splitlines()) == 1, err
    finally:
        go.touch()
    assert first.wait(timeout=120) == 0, first.communicate()
    assert _same_weights(out, setup / "reference")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    ready.unlink()
    go.unlink()


@pytest.mark.slow
def test_two_forced_runs_at_once_leave_one_whole_model(setup, tmp_path):
    out = tmp_path / "m"
    runs = [_start(setup, out, extra=["--force"]) for _ in range(2)]
    results = [(p.wait(timeout=180), p.communicate()[1].decode()) for p in runs]
    assert any(code == 0 for code, _ in results), results
    for code, err in results:
        assert code == 0 or (code == 2 and "being written by pid" in err and len(err.splitlines()) == 1), err
    assert _same_weights(out, setup / "reference")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_sigterm_unwinds_like_ctrl_c(setup, tmp_path):
    """SIGTERM (a scheduler's stop) says so, exits 143, releases the lock and keeps the checkpoint."""
    ready, go = tmp_path / "ready", tmp_path / "go"
    hook = {
        "target": "hourglass.train.trainer:Trainer.train_one_epoch",
        "hit": 2,
        "when": "before",
        "action": "wait",
        "ready": str(ready),
        "go": str(go),
    }
    out = tmp_path / "m"
    process = _start(setup, out, hook)
    deadline = time.monotonic() + 120
    while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), process.communicate()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert (
        err.decode().strip()
        == "hourglass: terminated (SIGTERM); a run with a checkpoint can go on with --resume"
    )
    assert not out.with_name(out.name + ".lock").exists()
    assert (out.with_name(out.name + ".checkpoint") / "checkpoint.safetensors").exists()
    assert main(["fit", str(setup / "data.npy"), "--out", str(out), *ARGS, "--resume"]) == 0
    assert _same_weights(out, setup / "reference")
