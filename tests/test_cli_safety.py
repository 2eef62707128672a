"""Nothing lost, nothing half-done: one-line errors, --force, --resume, locks and outputs (issue 12).

Every failure is one line on stderr and exit code 2, and leaves the files as they were.
"""

import errno
import json
import os
import resource
import subprocess
import sys

import numpy as np
import pytest

import hourglass
from helpers import assert_one_line_error, interrupt_once_at, run, run_logging_imports
from hourglass.data import fileio, locks
from hourglass.train import checkpoint
from hourglass.train.trainer import Trainer

FAST_FIT = ["--code-size", "2", "--hidden", "16", "--epochs", "3", "--patience", "0", "--device", "cpu", "-q"]
N = 60


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def files(tmp_path_factory, digits):
    folder = tmp_path_factory.mktemp("safety")
    X = digits[0][:N].astype(np.float32)
    np.save(folder / "data.npy", X)
    np.save(folder / "other.npy", np.concatenate([X, X])[: N + 20])
    bad = X.copy()
    bad[3, 5] = np.nan
    np.save(folder / "bad.npy", bad)
    (folder / "file.csv").write_text("1,2\n")
    assert run("fit", folder / "data.npy", "--out", folder / "model", *FAST_FIT)[0] == 0
    return folder


@pytest.fixture
def interrupted(files, tmp_path, monkeypatch):
    """``tmp_path / 'm'``: a fit of data.npy with FAST_FIT interrupted during epoch 3."""
    interrupt_once_at(3, monkeypatch)
    assert run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT)[0] == 130
    monkeypatch.undo()
    assert checkpoint.read_header(tmp_path / "m.checkpoint")["epoch"] == 2
    return tmp_path / "m"


# -- usage errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--loss", "hinge"], "--loss 'hinge' is not one of auto, mse, bce; see hourglass fit --help"),
        (["--epochs", "abc"], "--epochs 'abc': "),
        (["--arch", "rnn"], "--arch 'rnn' is not one of dense, conv"),
        (["--arhc", "conv"], "no such option: --arhc"),
        (["extra"], "unexpected extra argument"),
    ],
)
def test_usage_errors_are_one_line(tmp_path, args, message):
    assert_one_line_error(*run("fit", "digits", "--out", tmp_path / "m", *args), message)
    assert listing(tmp_path) == []


@pytest.mark.parametrize(
    "typo, shown",
    [("--bogus", "(Possible options: --loss)"), ("--outt", "(Possible options: --dropout, --output)")],
)
def test_no_such_option_suggests_only_options_the_help_shows(typo, shown):
    # --out, the older spelling of --output, still works but is hidden from --help.
    code, out, err = run("fit", "digits", typo)
    assert_one_line_error(code, out, err, f"no such option: {typo} {shown}")


def test_missing_option_is_one_line():
    assert_one_line_error(*run("fit", "digits"), "missing option --output (-o)", "see hourglass fit --help")


def test_unknown_command_is_one_line():
    assert_one_line_error(*run("fitt"), "no such command 'fitt'", "see hourglass --help")


# -- output paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command, extra",
    [
        ("encode", ["{model}", "{data}", "-o", "{target}"]),
        ("fit", ["{data}", "--out", "{target}", *FAST_FIT]),
        ("compare", ["{data}", "--code-sizes", "2", "--epochs", "1", "-o", "{target}"]),
    ],
)
def test_output_under_a_regular_file_is_refused_before_any_work(files, tmp_path, monkeypatch, command, extra):
    monkeypatch.setattr(Trainer, "fit", lambda *a, **k: pytest.fail("trained before checking the output"))
    names = {"model": files / "model", "data": files / "data.npy", "target": files / "file.csv" / "x.csv"}
    args = [a.format(**names) for a in extra]
    assert_one_line_error(*run(command, *args), "file.csv' is a file, not a folder")


def test_fit_into_an_unwritable_folder_fails_before_training(files, tmp_path, monkeypatch):
    monkeypatch.setattr(Trainer, "fit", lambda *a, **k: pytest.fail("trained before checking the output"))

    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fileio.tempfile, "mkstemp", refuse)
    assert_one_line_error(
        *run("fit", files / "data.npy", "--out", tmp_path / "ro" / "m"), "Permission denied"
    )
    assert listing(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_encode_into_a_read_only_folder_is_one_line(files, tmp_path):
    (tmp_path / "ro").mkdir(mode=0o555)
    assert_one_line_error(
        *run("encode", files / "model", files / "data.npy", "-o", tmp_path / "ro" / "c.npy")
    )


def test_fit_refuses_to_replace_a_folder_that_is_not_a_model(files, tmp_path, monkeypatch):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")

    def no_training(*args, **kwargs):
        raise AssertionError("trained before refusing the folder")

    monkeypatch.setattr(Trainer, "fit", no_training)  # refused before any work, not at the save
    assert_one_line_error(
        *run("fit", files / "data.npy", "--out", tmp_path / "notes", *FAST_FIT, "--force"),
        "holds no hourglass",
    )
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def test_failed_apply_leaves_no_empty_folder(tmp_path):
    from hourglass import ConvAutoEncoder

    X = np.random.default_rng(0).random((16, 1, 8, 8)).astype(np.float32)
    settings = {"channels": (2,), "task": "denoise", "epochs": 1, "verbose": 0, "device": "cpu"}
    ConvAutoEncoder(**settings).fit(X).save(tmp_path / "m")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    assert_one_line_error(
        *run("apply", tmp_path / "m", tmp_path / "bad.png", "-o", tmp_path / "out" / "deep")
    )
    assert listing(tmp_path) == ["bad.png", "m"]


# -- errors that are not hourglass's own -----------------------------------------------------------


@pytest.mark.parametrize(
    "error, fragments",
    [
        (MemoryError("Unable to allocate 7.45 GiB for an array"), ["7.45 GiB asked for", "lazily"]),
        (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 4294967296 bytes"),
         ["4 GiB asked for", "--batch-size"]),
        (OSError(28, "No space left on device", "m.checkpoint"), ["'m.checkpoint': No space left on device"]),
        (TypeError("a bug"), ["internal error (TypeError: a bug)", "HOURGLASS_DEBUG=1"]),
    ],
)  # fmt: skip
def test_unexpected_errors_are_one_line(files, tmp_path, monkeypatch, error, fragments):
    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(Trainer, "fit", failing)
    code, out, err = run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT)
    assert code == 2 and err.startswith("hourglass: error: ") and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err
    assert listing(tmp_path) == []


def test_a_rank_whose_peer_died_says_so_instead_of_reporting_a_bug(files, tmp_path, monkeypatch):
    # A rank killed mid-run left the other with "internal error (RuntimeError: [...gloo...] Read
    # error ... Connection reset by peer); please report it".
    def peer_gone(*args, **kwargs):
        raise RuntimeError(
            "[/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:537] Read error: Connection reset by peer"
        )

    monkeypatch.setattr(Trainer, "fit", peer_gone)
    monkeypatch.setenv("RANK", "0")
    code, out, err = run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "rank 0 stopped: another process of this torchrun job failed" in err
    assert "internal error" not in err and "please report" not in err
    monkeypatch.delenv("RANK")  # not under torchrun: the same words are a bug of this process
    code, out, err = run("fit", files / "data.npy", "--out", tmp_path / "m2", *FAST_FIT)
    assert "internal error" in err


WRITE_FAILURES = [
    ("fit", "m", "m.checkpoint/checkpoint.safetensors"),  # the first epoch's checkpoint
    ("encode", "codes.csv", "codes.csv"),
]


def _args(files, command, output):
    if command == "fit":
        return [files / "data.npy", "--out", output, *FAST_FIT]
    return [files / "model", files / "data.npy", "-o", output]


@pytest.mark.parametrize("command, output, named", WRITE_FAILURES)
def test_an_output_too_large_to_write_is_one_line_naming_it(
    files, tmp_path, monkeypatch, command, output, named
):
    import pandas as pd
    import safetensors.torch
    from safetensors import SafetensorError

    def too_large_for_safetensors(*args, **kwargs):  # what safetensors raises past `ulimit -f`
        raise SafetensorError("Error while serializing: I/O error: File too large (os error 27)")

    def too_large_for_pandas(*args, **kwargs):  # pandas names no file
        raise OSError(errno.EFBIG, "File too large")

    monkeypatch.setattr(safetensors.torch, "serialize_file", too_large_for_safetensors)
    monkeypatch.setattr(pd.DataFrame, "to_csv", too_large_for_pandas)
    code, out, err = run(command, *_args(files, command, tmp_path / output))
    assert_one_line_error(code, out, err, f"cannot write '{tmp_path / named}': File too large")
    assert listing(tmp_path) == []  # no empty checkpoint folder, lock or temporary


@pytest.mark.slow
@pytest.mark.parametrize("command, output, named", WRITE_FAILURES)
def test_an_output_over_the_file_size_limit_is_one_line_naming_it(files, tmp_path, command, output, named):
    def limit_file_size():  # `ulimit -f`: a write past 512 bytes fails with EFBIG (Python ignores SIGXFSZ)
        resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))

    done = subprocess.run(
        [sys.executable, "-m", "hourglass", command, *map(str, _args(files, command, output))],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, preexec_fn=limit_file_size,
    )  # fmt: skip
    message = f"cannot write '{named}': File too large"
    assert_one_line_error(done.returncode, done.stdout, done.stderr, message)
    assert listing(tmp_path) == []


# -- --force and --resume ----------------------------------------------------------------------------


def test_failed_force_keeps_the_interrupted_runs_checkpoint(files, interrupted):
    before = (interrupted.parent / "m.checkpoint" / checkpoint.CHECKPOINT_FILE).read_bytes()
    assert_one_line_error(*run("fit", files / "bad.npy", "--out", interrupted, *FAST_FIT, "--force"), "NaN")
    assert (interrupted.parent / "m.checkpoint" / checkpoint.CHECKPOINT_FILE).read_bytes() == before
    code, _, err = run("fit", files / "data.npy", "--out", interrupted, *FAST_FIT, "--resume")
    assert code == 0, err
    assert listing(interrupted.parent) == ["m"]


def test_force_with_bad_settings_keeps_the_old_model(files, tmp_path):
    assert run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT)[0] == 0
    before = (tmp_path / "m" / "weights.safetensors").read_bytes()
    assert_one_line_error(
        *run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT, "--code-size", "64", "--force")
    )
    assert (tmp_path / "m" / "weights.safetensors").read_bytes() == before
    assert listing(tmp_path) == ["m"]


def test_resume_on_other_data_names_what_differs(files, interrupted):
    code, out, err = run("fit", files / "other.npy", "--out", interrupted, *FAST_FIT, "--resume")
    assert_one_line_error(
        code, out, err, f"data differs: {N}x64 -> {N + 20}x64", "start over with --force instead of --resume"
    )
    assert "resume=True" not in err  # the flags, not fit's argument
    assert_one_line_error(
        *run("fit", files / "data.npy", "--out", interrupted, *FAST_FIT, "--seed", "3", "--resume"),
        "random_state 0 -> 3; seed differs: 0 -> 3",
    )
    assert checkpoint.read_header(interrupted.parent / "m.checkpoint")["epoch"] == 2  # untouched


def test_resume_of_an_old_two_file_checkpoint_says_to_start_afresh(files, tmp_path):
    (tmp_path / "m.checkpoint").mkdir()
    (tmp_path / "m.checkpoint" / "checkpoint.json").write_text(json.dumps({"epoch": 2}))
    assert_one_line_error(
        *run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT, "--resume"),
        "older hourglass",
        "--force",
    )


def test_a_second_writer_is_refused_while_the_first_runs(files, tmp_path):
    with locks.output_lock(tmp_path / "m"):
        assert_one_line_error(
            *run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT, "--force"),
            f"being written by pid {os.getpid()} on",
        )
    assert listing(tmp_path) == []


def test_a_live_runs_checkpoint_is_named_as_the_live_run_not_an_interrupted_one(files, tmp_path):
    # Beside a running fit's checkpoint, the same command said 'a checkpoint of an interrupted
    # run is in ...; pass --resume' while the run was alive.
    (tmp_path / "m.checkpoint").mkdir()
    with locks.output_lock(tmp_path / "m"):
        assert_one_line_error(
            *run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT),
            f"being written by pid {os.getpid()} on",
        )
    assert locks.lock_holder(tmp_path / "m") is None  # released with the block
    assert_one_line_error(
        *run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT), "interrupted run", "--resume"
    )


def test_a_stale_lock_does_not_block_fit(files, tmp_path):
    (tmp_path / "m.lock").write_text(json.dumps({"pid": 2**22 + 7, "host": "gone", "since": "yesterday"}))
    code, _, err = run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT)
    assert code == 0, err
    assert listing(tmp_path) == ["m"]


def test_model_file_swap_left_half_done_is_named_on_load(files, tmp_path):
    aside = tmp_path / ".m.old-12345"  # what hourglass before issue 12 left when killed mid-swap
    aside.mkdir()
    assert_one_line_error(*run("info", tmp_path / "m"), "previous model in", ".m.old-12345")
    assert hourglass  # the package stays importable alongside the CLI


def test_estimator_errors_name_the_flag_typed(tmp_path):
    code, out, err = run("fit", "digits", "-o", tmp_path / "m", "--learning-rate", "-1", "--epochs", "1")
    assert_one_line_error(code, out, err, "--learning-rate -1")
    assert "learning_rate=" not in err and not (tmp_path / "m").exists()


def test_compare_quiet_keeps_the_result_table():
    code, out, err = run("compare", "digits", "--code-sizes", "2", "--epochs", "1", "-q")
    assert code == 0, err
    assert "ae_mse" in out and "pca_mse" in out


def test_a_reader_that_leaves_the_pipe_early_is_not_an_error():
    # `hourglass info m | head -1` printed 'hourglass: error: Broken pipe' and exited 2.
    script = (
        "import sys, typer\n"
        "from hourglass.cli.app import handle_errors\n"
        "def talk():\n"
        "    for _ in range(2000):\n"
        "        typer.echo('x' * 1000)\n"
        "try:\n"
        "    handle_errors(talk)()\n"
        "except typer.Exit as exc:\n"
        "    sys.exit(exc.exit_code)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.read(10)
    process.stdout.close()  # as head does once it has its line
    _, err = process.communicate(timeout=60)
    assert err == b""
    assert process.returncode == 141


def test_resuming_a_forced_run_over_a_model_says_to_force_again(files, tmp_path, monkeypatch):
    """An interrupted ``--force`` run over an existing model: ``--resume`` alone names what is missing."""
    assert run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT)[0] == 0
    interrupt_once_at(3, monkeypatch)
    assert run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT, "--force")[0] == 130
    monkeypatch.undo()
    code, out, err = run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT, "--resume")
    assert_one_line_error(code, out, err, "the run being resumed replaces it: pass --resume --force")
    assert run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT, "--resume", "--force")[0] == 0
    assert listing(tmp_path) == ["m"]


def test_a_resumed_run_says_how_long_it_trained_in_all(files, interrupted):
    code, out, err = run("fit", files / "data.npy", "--out", interrupted, *FAST_FIT[:-1], "--resume")
    assert code == 0, err
    assert "s with the run it resumed) on cpu" in out, out


def test_fit_force_never_deletes_data_kept_in_the_model_folder(files, tmp_path):
    model = tmp_path / "m"
    assert run("fit", files / "data.npy", "--out", model, *FAST_FIT)[0] == 0
    kept = model / "data.npy"
    kept.write_bytes((files / "data.npy").read_bytes())
    assert_one_line_error(
        *run("fit", kept, "--out", model, *FAST_FIT, "--force"),
        "lies inside the model folder --output",
        "--force never deletes an input",
    )
    assert kept.read_bytes() == (files / "data.npy").read_bytes()


def test_an_interrupted_command_that_keeps_no_checkpoint_offers_no_resume(
    files, tmp_path, monkeypatch, capsys
):
    from hourglass.cli import main
    from hourglass.estimators import persistence

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(persistence, "load", interrupted)
    code = main(["encode", str(files / "model"), str(files / "data.npy"), "-o", str(tmp_path / "c.npy")])
    assert code == 130
    assert capsys.readouterr().err.strip() == "hourglass: interrupted"


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_fit_never_takes_a_checkpoint_folder_that_holds_the_users_files(files, tmp_path, force):
    folder = tmp_path / "m.checkpoint"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert_one_line_error(
        *run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT, *force),
        "holds 'notes.txt', which no checkpoint writes",
    )
    assert (folder / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "command", [["fit", "missing.csv", "-o", "model"], ["encode", "model", "missing.csv"]]
)
def test_a_missing_data_file_is_refused_before_torch_is_imported(tmp_path, command):
    # A mistyped file name waited 3-13 s for torch and scikit-learn to import before being named.
    code, errors, imported = run_logging_imports(tmp_path, command)
    assert "hourglass.cli" in imported and not {"torch", "sklearn"} & imported
    assert code == 2 and errors == ["hourglass: error: no such file or folder: 'missing.csv'"]
    assert list(tmp_path.iterdir()) == []
