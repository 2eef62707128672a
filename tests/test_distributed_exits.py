"""How a torchrun job ends badly: an error every process meets is said once, and a SIGTERM
unwinds each process as in one process (its output lock released, its checkpoint kept)."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from hourglass.cli import app
from hourglass.exceptions import InvalidInputError
from hourglass.runtime import distributed


def _launch(args: list[str], cwd, **kwargs) -> subprocess.Popen:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, cwd=cwd, env=env, text=True, **kwargs)


@pytest.mark.parametrize("rank", ["0", "1"])
def test_an_error_every_process_meets_is_said_by_one(monkeypatch, tmp_path, rank):
    # Every process reads the same command line: two printed each bad input twice.
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", rank)
    monkeypatch.setenv("LOCAL_RANK", rank)
    result = CliRunner().invoke(app, ["fit", str(tmp_path / "missing.npy"), "-o", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert ("hourglass: error:" in result.output) == (rank == "0"), result.output


def test_an_error_decided_by_every_process_is_rank_0s_to_say(monkeypatch):
    from hourglass.cli.app import _said_by_another_process

    monkeypatch.setenv("WORLD_SIZE", "2")
    shared = distributed.every_process(InvalidInputError("the processes were given different runs"))
    own = InvalidInputError("rank 1 read a bad block")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert _said_by_another_process(shared)
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: True)  # the group is joined
    assert not _said_by_another_process(own)  # perhaps this process's own: it says it
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert not _said_by_another_process(shared)


def test_bad_input_under_torchrun_is_said_once(tmp_path):
    done = _launch(["-m", "hourglass", "fit", "missing.npy", "-o", "m", "--device", "cpu"], tmp_path,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    _, err = done.communicate(timeout=240)
    assert done.returncode != 0
    assert err.count("hourglass: error:") == 1, err[-3000:]


@pytest.mark.slow
def test_sigterm_to_torchrun_releases_the_output_lock_and_keeps_the_checkpoint(tmp_path):
    # Rank 0 died in place: OUTPUT.lock stayed beside the output after the job had ended.
    rng = np.random.default_rng(0)
    np.save(tmp_path / "data.npy", (rng.random((2000, 2)) @ rng.random((2, 12))).astype(np.float32))
    args = ["-m", "hourglass", "fit", "data.npy", "-o", "m", "--code-size", "3", "--hidden-layers", "16",
            "--device", "cpu", "--quiet"]  # fmt: skip
    job = _launch([*args, "--epochs", "500"], tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    saved = tmp_path / "m.checkpoint" / "checkpoint.safetensors"
    try:
        for _ in range(1200):  # until the run holds its lock and has a checkpoint to resume from
            if (tmp_path / "m.lock").exists() and saved.exists():
                break
            assert job.poll() is None, job.communicate()[1][-3000:]
            time.sleep(0.25)
        job.send_signal(signal.SIGTERM)
        _, err = job.communicate(timeout=120)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode != 0
    said = "hourglass: terminated (SIGTERM); a run with a checkpoint can go on with --resume"
    assert said in err, err[-3000:]
    assert not (tmp_path / "m.lock").exists()
    assert (tmp_path / "m.checkpoint").is_dir()
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    again = _launch([*args, "--epochs", "2", "--force"], tmp_path, **pipes)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy", "m"]
