"""Data-parallel training under torchrun: 2 CPU processes with gloo give the weights of one process
with the same global batch, and only rank 0 writes."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

import hourglass
from hourglass.runtime import distributed

#: 320 rows, a fifth held out: 256 training rows in 4 batches of 64, 32 per process.
SETTINGS = {
    "code_size": 4,
    "hidden_layers": (32,),
    "epochs": 3,
    "batch_size": 64,
    "validation_fraction": 0.2,
    "patience": 0,
    "random_state": 0,
    "device": "cpu",
    "verbose": 0,
}
#: "uneven": 6 equal batches of 42 or 43 rows, which two processes share 22 / 21: each process's
#: loss must be weighted by its share for DDP's average to be the whole batch's gradient.
CASES = {"default": {}, "topk": {"code_size": 8, "topk": 3}, "uneven": {"batch_size": 51}}


def _data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.random((320, 2)) @ rng.random((2, 12)) + 0.05 * rng.random((320, 12))


def _torchrun(args: list[str], cwd, timeout: int = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def _failure(done: subprocess.CompletedProcess) -> str:
    """The workers' own error lines first (torchrun's summary after them hides a rank's abort)."""
    own = [line for line in done.stderr.splitlines() if "torch/distributed" not in line]
    return "\n".join(own[:40])[-3000:] + "\n...\n" + done.stderr[-1000:]


@pytest.mark.parametrize("case", sorted(CASES))
def test_two_gloo_processes_train_the_weights_of_one(tmp_path, case):
    np.save(tmp_path / "data.npy", _data())
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import atexit, os, pathlib, numpy as np, torch, hourglass
            torch.set_num_threads(1)
            # Runs after the handlers fit registers: the group must be gone before shutdown. One file
            # a rank: two ranks printing to one pipe interleave their words.
            exit_file = pathlib.Path("exit-rank" + os.environ["RANK"] + ".txt")
            atexit.register(lambda: exit_file.write_text(str(torch.distributed.is_initialized())))
            ae = hourglass.AutoEncoder(**{ {**SETTINGS, **CASES[case]}!r}).fit(np.load("data.npy"))
            ae.save("model")
            """
        )
    )
    done = _torchrun([str(script)], tmp_path)
    assert done.returncode == 0, _failure(done)
    at_exit = [(tmp_path / f"exit-rank{rank}.txt").read_text() for rank in (0, 1)]
    assert at_exit == ["False", "False"], f"process group still joined at exit: {at_exit}"
    single = hourglass.AutoEncoder(**{**SETTINGS, **CASES[case]}).fit(_data())
    parallel = load_file(str(tmp_path / "model" / "weights.safetensors"))
    for name, value in single.module_.state_dict().items():
        key = next(k for k in parallel if k.endswith(name))
        np.testing.assert_allclose(parallel[key], value.numpy(), rtol=0, atol=1e-4, err_msg=name)


def test_torchrun_cli_fit_writes_one_model(tmp_path):
    np.save(tmp_path / "data.npy", _data().astype(np.float32))
    args = ["-m", "hourglass", "fit", "data.npy", "--out", "m", "--code-size", "3", "--hidden", "16",
            "--epochs", "2", "--device", "cpu"]  # fmt: skip
    done = _torchrun(args, tmp_path)
    assert done.returncode == 0, _failure(done)
    assert hourglass.load(tmp_path / "m").transform(_data()[:5]).shape == (5, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy", "m"]  # no lock, no checkpoint
    assert done.stdout.count("saved the model") == 1


def test_not_distributed_by_default():
    assert not distributed.active() and distributed.world_size() == 1 and distributed.is_main()


@pytest.mark.skipif(torch.cuda.device_count() >= 64, reason="needs fewer GPUs than processes")
def test_cuda_with_fewer_gpus_than_processes_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "64")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "64")
    with pytest.raises(hourglass.exceptions.InvalidInputError, match="64 processes on this machine"):
        distributed.setup(torch.device("cuda"))


def test_resume_under_torchrun_finishes_the_run_a_single_process_began(tmp_path):
    """A run interrupted in one process continues under torchrun to the weights of one whole run."""
    np.save(tmp_path / "data.npy", _data().astype(np.float32))
    script = tmp_path / "interrupt.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, torch
            from hourglass.train.trainer import Trainer
            from hourglass.cli import main
            torch.set_num_threads(1)
            original = Trainer.train_one_epoch
            def stop_at_2(self, data, epoch):
                if epoch == 2:
                    raise KeyboardInterrupt
                return original(self, data, epoch)
            Trainer.train_one_epoch = stop_at_2
            sys.exit(main(sys.argv[1:]))
            """
        )
    )
    args = ["fit", "data.npy", "--out", "m", "--code-size", "3", "--hidden-layers", "16", "--epochs", "3",
            "--batch-size", "64", "--patience", "0", "--device", "cpu", "--quiet"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.run(
        [sys.executable, str(script), *args], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert first.returncode != 0 and (tmp_path / "m.checkpoint").exists(), first.stderr[-2000:]
    done = _torchrun(["-m", "hourglass", *args, "--resume"], tmp_path)
    assert done.returncode == 0, _failure(done)
    resumed = hourglass.load(tmp_path / "m")
    assert resumed.history_.epoch == [1, 2, 3]
    whole = hourglass.AutoEncoder(
        code_size=3, hidden_layers=(16,), epochs=3, batch_size=64, patience=0, random_state=0, device="cpu",
        verbose=0,
    ).fit(_data().astype(np.float32))  # fmt: skip
    for name, value in whole.module_.state_dict().items():
        np.testing.assert_allclose(
            resumed.module_.state_dict()[name].cpu().numpy(), value.numpy(), rtol=0, atol=1e-4, err_msg=name
        )


def test_a_failing_rank_fails_the_run_and_writes_nothing(tmp_path):
    np.save(tmp_path / "data.npy", _data().astype(np.float32))
    script = tmp_path / "fail_rank_1.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, torch
            from hourglass.exceptions import InvalidInputError
            from hourglass.runtime import distributed
            from hourglass.train.trainer import Trainer
            from hourglass.cli import main
            torch.set_num_threads(1)
            original = Trainer.train_one_epoch
            def fail_on_rank_1(self, data, epoch):
                if epoch == 2 and distributed.rank() == 1:
                    raise InvalidInputError("rank 1 read a bad block; expected finite values")
                return original(self, data, epoch)
            Trainer.train_one_epoch = fail_on_rank_1
            sys.exit(main(sys.argv[1:]))
            """
        )
    )
    args = [str(script), "fit", "data.npy", "--out", "m", "--code-size", "3", "--hidden-layers", "16",
            "--epochs", "3", "--device", "cpu", "--quiet"]  # fmt: skip
    done = _torchrun(args, tmp_path, timeout=240)
    assert done.returncode != 0
    assert "hourglass: error: rank 1 read a bad block; expected finite values" in done.stderr
    assert not (tmp_path / "m").exists()


def test_each_process_reads_its_own_share_of_a_lazy_dataset(tmp_path):
    """A Dataset is read by shares (not whole batches) and still trains to one process's weights."""
    np.save(tmp_path / "data.npy", _data().astype(np.float32))
    settings = {**SETTINGS, "noise": None}
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, numpy as np, torch, hourglass
            from hourglass.runtime import distributed
            torch.set_num_threads(1)
            class Counting(torch.utils.data.Dataset):
                def __init__(self, X):
                    self.X, self.read = torch.from_numpy(X), 0
                def __len__(self):
                    return len(self.X)
                def __getitem__(self, i):
                    self.read += 1
                    return self.X[i]
            data = Counting(np.load("data.npy"))
            ae = hourglass.AutoEncoder(**{settings!r}).fit(data)
            ae.save("model", force=True)
            with open(f"read{{distributed.rank()}}.json", "w") as f:
                json.dump(data.read, f)
            """
        )
    )
    done = _torchrun([str(script)], tmp_path)
    assert done.returncode == 0, _failure(done)
    single = hourglass.AutoEncoder(**settings).fit(_data().astype(np.float32))
    parallel = load_file(str(tmp_path / "model" / "weights.safetensors"))
    for name, value in single.module_.state_dict().items():
        key = next(k for k in parallel if k.endswith(name))
        np.testing.assert_allclose(parallel[key], value.numpy(), rtol=0, atol=1e-4, err_msg=name)
    reads = [int((tmp_path / f"read{r}.json").read_text()) for r in (0, 1)]
    alone = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert alone.returncode == 0, alone.stderr[-2000:]
    read_alone = int((tmp_path / "read0.json").read_text())
    # Each process reads half of every epoch's 256 training and 64 validation rows.
    assert all(r <= read_alone - 3 * (256 + 64) // 2 for r in reads), (reads, read_alone)


def test_a_conv_model_trains_under_torchrun_in_channels_last_as_in_one_process(tmp_path):
    # Channels-last on the CPU: DDP must wrap the model after its conversion, or every step
    # copies each gradient into a bucket of the other layout (and PyTorch warns of it).
    rng = np.random.default_rng(0)
    np.save(tmp_path / "images.npy", rng.random((64, 1, 8, 8)).astype(np.float32))
    settings = {"channels": (4, 8), "code_size": 3, "epochs": 2, "batch_size": 16,
                "validation_fraction": 0.25, "patience": 0, "random_state": 0, "device": "cpu",
                "verbose": 0}  # fmt: skip
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import numpy as np, torch, hourglass
            torch.set_num_threads(1)
            hourglass.ConvAutoEncoder(**{settings!r}).fit(np.load("images.npy")).save("model")
            """
        )
    )
    done = _torchrun([str(script)], tmp_path)
    assert done.returncode == 0, _failure(done)
    assert "strides do not match" not in done.stderr
    single = hourglass.ConvAutoEncoder(**settings).fit(np.load(tmp_path / "images.npy"))
    parallel = load_file(str(tmp_path / "model" / "weights.safetensors"))
    for name, value in single.module_.state_dict().items():
        key = next(k for k in parallel if k.endswith(name))
        np.testing.assert_allclose(parallel[key], value.numpy(), rtol=0, atol=1e-4, err_msg=name)


def test_processes_given_different_data_are_refused_in_words(tmp_path):
    # Each process read its own file: another width failed deep in DDP as an "internal error",
    # the same shape with other rows trained on mixed data without a word.
    data = _data().astype(np.float32)
    np.save(tmp_path / "rank0.npy", data)
    np.save(tmp_path / "rank1.npy", data[:, :10])
    script = tmp_path / "own_file.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, sys, torch
            from hourglass.cli import main
            torch.set_num_threads(1)
            sys.exit(main(["fit", f"rank{os.environ['RANK']}.npy", *sys.argv[1:]]))
            """
        )
    )
    args = [str(script), "--out", "m", "--code-size", "3", "--hidden-layers", "16", "--epochs", "2",
            "--device", "cpu", "--quiet"]  # fmt: skip
    done = _torchrun(args, tmp_path, timeout=240)
    assert done.returncode != 0, _failure(done)
    assert "given different runs (rank 0 -> rank 1: data differs: 320x12 -> 320x10)" in done.stderr, _failure(
        done
    )
    assert "internal error" not in done.stderr
    assert done.stderr.count("given different runs") == 1  # said by rank 0, not once a process
    assert not (tmp_path / "m").exists()


def test_commands_other_than_fit_are_refused_under_a_launcher(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from hourglass.cli import app

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    result = CliRunner().invoke(
        app, ["encode", str(tmp_path / "model"), "digits", "-o", str(tmp_path / "c.npy")]
    )
    assert result.exit_code == 2
    assert "under torchrun only 'hourglass fit' trains across processes" in result.output
    assert not (tmp_path / "c.npy").exists()


@pytest.mark.slow
def test_vae_and_dropout_fits_under_torchrun_end_with_the_weights_of_one_process(tmp_path):
    # Each process drew its own code noise and dropout masks for its rows: 3 epochs ended 5e-3
    # (VAE) and 2e-2 (dropout) from one process's weights. Now each draws the whole batch's
    # from one process's stream and keeps its rows: a slice of an array's batch, or every
    # other row of a lazily read Dataset's.
    data = (_data() / _data().max()).astype(np.float32)[:160]
    np.save(tmp_path / "data.npy", data)
    base = {**SETTINGS, "code_size": 3, "hidden_layers": (16,), "batch_size": 43, "precision": "fp32"}
    fits = {
        "vae": ("VariationalAutoEncoder", base, False),
        "dropout": ("AutoEncoder", {**base, "dropout": 0.3, "noise": None}, False),
        "dropout-lazy": ("AutoEncoder", {**base, "dropout": 0.3, "noise": None}, True),
    }
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import numpy as np, torch, hourglass
            torch.set_num_threads(1)
            class Rows(torch.utils.data.Dataset):
                def __init__(self, X):
                    self.X = torch.from_numpy(X)
                def __len__(self):
                    return len(self.X)
                def __getitem__(self, i):
                    return self.X[i]
            X = np.load("data.npy")
            for name, (kind, settings, lazy) in {fits!r}.items():
                model = getattr(hourglass, kind)(**settings).fit(Rows(X) if lazy else X)
                model.save(name)
            """
        )
    )
    done = _torchrun([str(script)], tmp_path, timeout=600)
    assert done.returncode == 0, _failure(done)
    for name, (kind, settings, _) in fits.items():
        single = getattr(hourglass, kind)(**settings).fit(data)
        parallel = load_file(str(tmp_path / name / "weights.safetensors"))
        for key, value in single.module_.state_dict().items():
            got = parallel[next(k for k in parallel if k.endswith(key))]
            np.testing.assert_allclose(got, value.numpy(), rtol=0, atol=1e-5, err_msg=f"{name}: {key}")
