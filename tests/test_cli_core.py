"""The core CLI commands, run in-process: fit, encode, decode, reconstruct, compare, info, demo.

Every bad input has two tests: from Python (the exception class and a message naming the value)
and from the CLI (exit code 2, one line on stderr starting with 'hourglass: error:', no traceback).
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hourglass
from helpers import assert_one_line_error, interrupt_once_at, run
from hourglass import AutoEncoder
from hourglass.cli import main
from hourglass.data.loading import load_data
from hourglass.exceptions import DataFileError, InvalidInputError, ModelFileError

COMMANDS = ["fit", "encode", "decode", "reconstruct", "compare", "info", "demo"]
FAST_FIT = ["--code-size", "2", "--hidden", "16", "--epochs", "2", "--device", "cpu", "--quiet"]
N = 120


@pytest.fixture(scope="module")
def files(tmp_path_factory, digits):
    """Digits in every format DATA takes, and a tiny model trained on them."""
    folder = tmp_path_factory.mktemp("cli")
    X = digits[0][:N].astype(np.float32)
    columns = [f"px{i}" for i in range(64)]
    np.save(folder / "data.npy", X)
    np.save(folder / "images.npy", X.reshape(-1, 8, 8))
    np.savez(folder / "data.npz", a=X[:10], b=X)
    pd.DataFrame(X, columns=columns).to_csv(folder / "data.csv", index=False)
    pd.DataFrame(X, columns=columns).to_parquet(folder / "data.parquet")
    np.save(folder / "narrow.npy", X[:, :10])
    np.save(folder / "codes.npy", np.zeros((5, 2), np.float32))
    AutoEncoder(code_size=2, hidden_layers=(16,), epochs=2, verbose=0, random_state=0, device="cpu").fit(
        X
    ).save(folder / "model")
    return folder


# -- help ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_help_for_every_command(command):
    code, out, _ = run(command, "--help")
    assert code == 0
    assert "Usage" in out and command in out
    # Arguments read as the descriptions name them (MODEL, DATA, CODES, NORMAL), never {codes}.
    usage = next(line for line in out.splitlines() if "Usage" in line)
    assert all(name.isupper() for name in re.findall(r"\{(\w+)\}", usage)), usage


def test_help_lists_every_command():
    code, out, _ = run("--help")
    assert code == 0
    for command in COMMANDS:
        assert command in out


def test_main_returns_zero_for_help(capsys):
    assert main(["info", "--help"]) == 0
    assert "Usage" in capsys.readouterr().out


# -- fit ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, extra",
    [
        ("data.npy", []),
        ("images.npy", []),
        ("data.csv", []),
        ("data.parquet", []),
        ("data.npz", ["--key", "b"]),
    ],
)
def test_fit_on_each_file_format_writes_a_model_folder(files, tmp_path, data, extra):
    code, out, err = run("fit", files / data, "--out", tmp_path / "m", *FAST_FIT, *extra)
    assert code == 0, err
    assert out == "" and err == ""  # --quiet
    ae = hourglass.load(tmp_path / "m", device="cpu")
    assert ae.n_features_in_ == 64 and ae.n_epochs_ == 2
    assert not (tmp_path / "m.checkpoint").exists()


def test_fit_on_builtin_digits(tmp_path):
    code, _, err = run("fit", "digits", "--out", tmp_path / "m", *FAST_FIT)
    assert code == 0, err
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["architecture"]["input_dim"] == 64
    assert config["fitted"]["loss_"] == "mse"


def test_fit_passes_hyperparameters_through(files, tmp_path):
    code, _, err = run(
        "fit", files / "data.npy", "--out", tmp_path / "m", "--code-size", "3", "--hidden", "12,6",
        "--decoder-hidden", "5", "--activation", "tanh", "--loss", "mse", "--scaling", "minmax",
        "--epochs", "2", "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    ae = hourglass.load(tmp_path / "m", device="cpu")
    assert ae.architecture_.code_size == 3
    assert ae.architecture_.hidden_layers == (12, 6)
    assert ae.architecture_.resolved_decoder_layers == (5,)
    assert ae.architecture_.activation == "tanh"
    assert (ae.loss_, ae.scaler_.kind) == ("mse", "minmax")


def test_fit_takes_auto_hidden_layers_and_refuses_another_word(files, tmp_path):
    args = ["--code-size", "2", "--epochs", "1", "--device", "cpu", "--quiet"]
    code, _, err = run("fit", files / "data.npy", "--out", tmp_path / "m", "--hidden", "auto", *args)
    assert code == 0, err
    assert hourglass.load(tmp_path / "m", device="cpu").architecture_.hidden_layers == (256, 128)
    assert_one_line_error(
        *run("fit", files / "data.npy", "--out", tmp_path / "n", "--hidden", "wide", *args), "'wide'", "auto"
    )
    assert not (tmp_path / "n").exists()


def test_fit_reports_what_it_did_unless_quiet(files, tmp_path):
    code, out, _ = run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT[:-1])
    assert code == 0
    assert "ran all 2 epochs, best epoch" in out and "loss mse" in out and "saved the model" in out
    assert "on cpu, 1 thread(s) in fp32" in out and "validation MSE" in out and "in the data's units" in out
    assert "learning rate" in out and "no collapse" in out
    assert "x PCA's at the same code size on the same rows" in out


def test_fit_summary_says_how_few_rows_the_validation_figure_rests_on():
    from sklearn.datasets import load_digits, load_wine

    from hourglass.cli.fitting import validation_text

    wine = hourglass.AutoEncoder(code_size=2, epochs=1, random_state=0).fit(load_wine().data)
    assert wine.history_.recipe["validation_rows"] == 18
    assert "on only 18 held-out rows that also chose the epoch kept" in validation_text(wine)
    digits = hourglass.AutoEncoder(code_size=2, epochs=1, random_state=0).fit(load_digits().data)
    assert digits.history_.recipe["validation_rows"] == 180
    assert "held-out rows" not in validation_text(digits)


def test_fit_summary_says_when_training_stopped_early(make_ae):
    from hourglass.cli.core import fit_summary

    noise = np.random.default_rng(0).random((200, 6))  # nothing to learn: validation stalls at once
    ae = make_ae(epochs=300, patience=2, noise=None, learning_rate=0.05).fit(noise)
    assert ae.history_.stopped_early
    line = fit_summary(ae)
    assert f"stopped after {ae.n_iter_} epochs: no improvement for 2 epochs (patience 2)" in line
    assert "best epoch" in line


def test_fit_summary_counts_a_single_epoch_in_the_singular(make_ae, unit_data):
    from hourglass.cli.core import fit_summary

    ae = make_ae(epochs=5, max_time=1e-4).fit(unit_data)  # a budget shorter than one epoch
    line = fit_summary(ae)
    assert "stopped after 1 epoch: the time budget of 0.0001 s is shorter than one epoch" in line


def test_fit_refuses_an_existing_model_folder_without_force(files, tmp_path):
    (tmp_path / "m").mkdir()
    assert_one_line_error(
        *run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT), "exists already", "--force"
    )
    code, _, err = run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT, "--force")
    assert code == 0, err
    assert (tmp_path / "m" / "config.json").exists()


def test_fit_with_report_writes_html(files, tmp_path):
    code, _, err = run(
        "fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT, "--report", tmp_path / "r"
    )
    assert code == 0, err
    assert "data:image/png;base64," in (tmp_path / "r" / "report.html").read_text()


def test_fit_resume_continues_an_interrupted_run(files, tmp_path, monkeypatch):
    args = ["--code-size", "2", "--hidden", "16", "--epochs", "5", "--patience", "0", "--dropout", "0.1",
            "--device", "cpu", "--quiet"]  # fmt: skip
    assert run("fit", files / "data.npy", "--out", tmp_path / "reference", *args)[0] == 0

    interrupt_once_at(3, monkeypatch)
    code, _, err = run("fit", files / "data.npy", "--out", tmp_path / "m", *args)
    assert code == 130
    assert "--resume" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()
    assert (tmp_path / "m.checkpoint" / "checkpoint.safetensors").exists()
    assert not (tmp_path / "m.lock").exists()

    # Without --resume the checkpoint is not silently thrown away.
    assert_one_line_error(*run("fit", files / "data.npy", "--out", tmp_path / "m", *args), "--resume")

    code, _, err = run("fit", files / "data.npy", "--out", tmp_path / "m", *args, "--resume")
    assert code == 0, err
    assert not (tmp_path / "m.checkpoint").exists()
    resumed, reference = (
        hourglass.load(tmp_path / "m", device="cpu"),
        hourglass.load(tmp_path / "reference", device="cpu"),
    )
    X = np.load(files / "data.npy")
    np.testing.assert_array_equal(resumed.transform(X), reference.transform(X))
    assert resumed.history_.epoch == [1, 2, 3, 4, 5]


def test_fit_force_discards_an_old_checkpoint(files, tmp_path, monkeypatch):
    interrupt_once_at(2, monkeypatch)
    assert run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT)[0] == 130
    code, _, err = run("fit", files / "data.npy", "--out", tmp_path / "m", *FAST_FIT, "--force")
    assert code == 0, err
    assert hourglass.load(tmp_path / "m").history_.epoch == [1, 2]


# -- encode, decode, reconstruct ----------------------------------------------------------------


@pytest.mark.parametrize(
    "command, source, shape",
    [
        ("encode", "data.npy", (N, 2)),
        ("encode", "data.csv", (N, 2)),
        ("encode", "images.npy", (N, 2)),
        ("reconstruct", "data.parquet", (N, 64)),
        ("decode", "codes.npy", (5, 64)),
    ],
)
def test_commands_write_arrays_of_the_right_shape(files, tmp_path, command, source, shape):
    code, out, err = run(command, files / "model", files / source, "-o", tmp_path / "out.npy")
    assert code == 0, err
    assert np.load(tmp_path / "out.npy").shape == shape
    assert f"of shape {shape}" in out


def test_encode_matches_the_library(files, tmp_path):
    run("encode", files / "model", files / "data.npy", "-o", tmp_path / "codes.npy")
    expected = hourglass.load(files / "model").transform(np.load(files / "data.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "codes.npy"), expected)


def test_decode_of_encode_equals_reconstruct(files, tmp_path):
    run("encode", files / "model", files / "data.npy", "-o", tmp_path / "codes.npy")
    run("decode", files / "model", tmp_path / "codes.npy", "-o", tmp_path / "decoded.npy")
    run("reconstruct", files / "model", files / "data.npy", "-o", tmp_path / "rec.npy")
    np.testing.assert_allclose(np.load(tmp_path / "decoded.npy"), np.load(tmp_path / "rec.npy"), rtol=1e-5)


def test_encode_writes_csv(files, tmp_path):
    code, _, err = run("encode", files / "model", files / "data.npy", "-o", tmp_path / "codes.csv")
    assert code == 0, err
    assert pd.read_csv(tmp_path / "codes.csv").shape == (N, 2)


@pytest.mark.parametrize(
    "command, source", [("encode", "data.npy"), ("decode", "codes.npy"), ("reconstruct", "data.npy")]
)
def test_outputs_are_not_overwritten_without_force(files, tmp_path, command, source):
    target = tmp_path / "out.npy"
    np.save(target, np.arange(3))
    assert_one_line_error(
        *run(command, files / "model", files / source, "-o", target), "exists already", "--force"
    )
    np.testing.assert_array_equal(np.load(target), np.arange(3))
    code, _, err = run(command, files / "model", files / source, "-o", target, "--force")
    assert code == 0, err
    assert np.load(target).ndim == 2


# -- info --------------------------------------------------------------------------------------------


def test_info_prints_loss_and_architecture(files):
    code, out, _ = run("info", files / "model")
    assert code == 0
    assert "loss" in out and "mse" in out
    assert "architecture" in out and "hidden_layers=(16,)" in out.replace("[16]", "(16,)")
    assert "code size" in out


def test_info_json(files):
    code, out, _ = run("info", files / "model", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["loss"].startswith("mse")
    assert summary["architecture"]["code_size"] == 2
    assert summary["architecture"]["hidden_layers"] == [16]
    assert summary["epochs_run"] == 2
    # Why training ended, which 'stopped early: False' does not say of a budget's or cap's end.
    assert summary["why_it_ended"] == "ran all 2 epochs"


def test_info_on_a_detector_shows_its_threshold_and_the_wrapped_autoencoder(files, tmp_path):
    # It showed no threshold, 'validation mse None', and the detector's default settings
    # (hidden_layers=[128], code_size=None) beside the wrapped model's 16-unit architecture.
    code, _, err = run("calibrate", files / "model", files / "data.npy", "-o", tmp_path / "det", "--quiet")
    assert code == 0, err
    code, out, _ = run("info", tmp_path / "det", "--json")
    assert code == 0
    summary = json.loads(out)
    detector = summary["detector"]
    assert detector["threshold"] > 0 and "0.99 quantile" in detector["rule"]
    assert detector["flagged_at_fit"].endswith(f"of {N}")
    assert summary["params"]["hidden_layers"] == [16] and summary["params"]["code_size"] == 2
    assert summary["validation_mse"] is not None


# -- compare and demo -----------------------------------------------------------------------------------


def test_compare_writes_report_with_embedded_pngs(files, tmp_path):
    code, out, err = run(
        "compare", files / "narrow.npy", "--code-sizes", "2,4", "--epochs", "2", "--report", tmp_path / "r",
        "-o", tmp_path / "table.csv", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    html = (tmp_path / "r" / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3  # error vs k, curves, AE and PCA code maps
    table = pd.read_csv(tmp_path / "table.csv")
    assert table["code_size"].tolist() == [2, 4]
    assert {"ae_mse", "pca_mse", "ratio"} <= set(table.columns)


def test_compare_prints_the_table(files):
    code, out, _ = run("compare", files / "narrow.npy", "--code-sizes", "2", "--epochs", "1")
    assert code == 0
    assert "ae_mse" in out and "pca_mse" in out and "ratio" in out
    assert "PCA wins at" in out or "the autoencoder beats PCA at" in out or "a tie at" in out


def test_compare_refuses_an_existing_report_without_force(files, tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "report.html").write_text("old")
    assert_one_line_error(
        *run(
            "compare", files / "narrow.npy", "--code-sizes", "2", "--epochs", "1", "--report", tmp_path / "r"
        ),
        "exists already",
    )
    assert (tmp_path / "r" / "report.html").read_text() == "old"


def test_compare_rejects_code_size_not_below_width(files):
    assert_one_line_error(*run("compare", files / "narrow.npy", "--code-sizes", "2,10", "--quiet"), "[10]")


@pytest.mark.parametrize("sizes", ["2,a", "0"])
def test_compare_rejects_bad_code_size_lists(files, sizes):
    assert_one_line_error(
        *run("compare", files / "narrow.npy", "--code-sizes", sizes), f"--code-sizes '{sizes}'"
    )


@pytest.mark.slow  # trains on all of digits and renders the full report
def test_demo_writes_report_and_model(tmp_path):
    code, _, err = run("demo", "--epochs", "2", "--code-sizes", "2", "--out", tmp_path / "demo", "--quiet")
    assert code == 0, err
    html = (tmp_path / "demo" / "report.html").read_text()
    assert "data:image/png;base64," in html and "Autoencoder vs PCA on digits" in html
    assert hourglass.load(tmp_path / "demo" / "model-k2").n_features_in_ == 64


def test_demo_refuses_an_existing_folder_without_force(tmp_path):
    (tmp_path / "demo").mkdir()
    assert_one_line_error(*run("demo", "--epochs", "1", "--out", tmp_path / "demo"), "exists already")


# -- bad input, from Python and from the CLI ---------------------------------------------------------


@pytest.fixture
def text_csv(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("a,b,city\n0.1,0.2,Oslo\n0.3,0.4,Bergen\n")
    return path


def test_text_column_from_python(text_csv):
    with pytest.raises(
        InvalidInputError, match=r"column 'city' of 'text.csv' is not numeric \(e.g. 'Oslo'\)"
    ):
        load_data(text_csv)


def test_text_column_from_cli(text_csv, tmp_path):
    assert_one_line_error(*run("fit", text_csv, "--out", tmp_path / "m", *FAST_FIT), "'city'", "not numeric")


def test_the_drop_a_text_column_error_suggests_trains(tmp_path):
    path = tmp_path / "text.csv"
    city = ("Oslo", "Rome")
    rows = "".join(f"{i},{i % 3 / 3},{i % 5 / 5},{i % 7 / 7},{city[i % 2]}\n" for i in range(40))
    path.write_text("id,a,b,c,city\n" + rows)
    code, out, err = run("fit", path, "--out", tmp_path / "m", *FAST_FIT)
    assert_one_line_error(code, out, err, "--drop city")
    flag = err.split("(--drop ", 1)[1].split(" ", 1)[0]
    code, out, err = run("fit", path, "--out", tmp_path / "m", "--drop", flag, *FAST_FIT)
    assert code == 0, err
    assert hourglass.load(tmp_path / "m").n_features_in_ == 4


@pytest.fixture(params=["nan", "inf"])
def non_finite_npy(tmp_path, request):
    X = np.random.default_rng(0).uniform(size=(20, 4))
    X[5, 2] = float(request.param)
    np.save(tmp_path / "bad.npy", X)
    return tmp_path / "bad.npy"


def test_non_finite_values_from_python(non_finite_npy):
    with pytest.raises(
        InvalidInputError, match=r"'bad.npy' holds 1 NaN or infinite value\(s\).*row 5, column 2"
    ):
        load_data(non_finite_npy)


def test_non_finite_values_from_cli(non_finite_npy, tmp_path):
    assert_one_line_error(*run("fit", non_finite_npy, "--out", tmp_path / "m", *FAST_FIT), "row 5, column 2")


def test_non_finite_values_at_encode_from_cli(files, tmp_path):
    X = np.load(files / "data.npy")
    X[0, 0] = np.nan
    np.save(tmp_path / "nan.npy", X)
    assert_one_line_error(
        *run("encode", files / "model", tmp_path / "nan.npy", "-o", tmp_path / "c.npy"), "NaN"
    )


@pytest.fixture(params=["empty.csv", "empty.npy", "empty.parquet", "header_only.csv"])
def empty_file(tmp_path, request):
    path = tmp_path / request.param
    path.write_text("a,b\n" if request.param == "header_only.csv" else "")
    return path


def test_empty_file_from_python(empty_file):
    with pytest.raises(DataFileError, match=rf"'{empty_file}' (is empty|holds no rows)"):
        load_data(empty_file)


def test_empty_file_from_cli(empty_file, tmp_path):
    assert_one_line_error(*run("fit", empty_file, "--out", tmp_path / "m", *FAST_FIT), empty_file.name)


@pytest.fixture
def one_d_npy(tmp_path):
    np.save(tmp_path / "vector.npy", np.arange(10.0))
    return tmp_path / "vector.npy"


def test_one_dimensional_data_from_python(one_d_npy):
    with pytest.raises(InvalidInputError, match=r"'vector.npy' has shape \(10,\); expected 2-D"):
        load_data(one_d_npy)


def test_one_dimensional_data_from_cli(one_d_npy, tmp_path):
    assert_one_line_error(*run("fit", one_d_npy, "--out", tmp_path / "m", *FAST_FIT), "shape (10,)", "2-D")


def test_feature_count_mismatch_from_python(files):
    model = hourglass.load(files / "model")
    with pytest.raises(InvalidInputError, match=r"10 features.*expecting 64"):
        model.transform(np.load(files / "narrow.npy"))


@pytest.mark.parametrize("command", ["encode", "reconstruct"])
def test_feature_count_mismatch_from_cli(files, tmp_path, command):
    code, out, err = run(command, files / "model", files / "narrow.npy", "-o", tmp_path / "c.npy")
    assert_one_line_error(code, out, err, "10 features", "64")
    assert not (tmp_path / "c.npy").exists()


def test_code_width_mismatch_at_decode_from_cli(files, tmp_path):
    np.save(tmp_path / "codes3.npy", np.zeros((4, 3)))
    assert_one_line_error(
        *run("decode", files / "model", tmp_path / "codes3.npy", "-o", tmp_path / "d.npy"),
        "(4, 3)",
        "(n_samples, 2)",
    )


def test_code_size_not_smaller_than_width_from_python(files):
    with pytest.raises(InvalidInputError, match=r"code_size=10 must be smaller than the input's 10 feature"):
        AutoEncoder(code_size=10, verbose=0).fit(np.load(files / "narrow.npy"))


def test_code_size_not_smaller_than_width_from_cli(files, tmp_path):
    args = ["--code-size", "12", "--hidden", "16", "--epochs", "1", "--quiet"]
    code, out, err = run("fit", files / "narrow.npy", "--out", tmp_path / "m", *args)
    assert_one_line_error(code, out, err, "--code-size 12", "10 feature")
    assert not (tmp_path / "m").exists()


@pytest.fixture(params=["corrupt_config", "corrupt_weights", "not_a_model", "mismatched"])
def broken_model(files, tmp_path, request):
    folder = Path(shutil.copytree(files / "model", tmp_path / "broken"))
    if request.param == "corrupt_config":
        (folder / "config.json").write_text("{not json")
    elif request.param == "corrupt_weights":
        (folder / "weights.safetensors").write_bytes(b"\x00" * 20)
    elif request.param == "not_a_model":
        for path in folder.iterdir():
            path.unlink()
    else:
        config = json.loads((folder / "config.json").read_text())
        config["architecture"]["code_size"] = 5
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_broken_model_folder_from_python(broken_model):
    with pytest.raises(
        ModelFileError, match=r"'.*broken.*' (is corrupt|holds no config.json|does not match)"
    ):
        hourglass.load(broken_model)


@pytest.mark.parametrize("command", ["encode", "info"])
def test_broken_model_folder_from_cli(files, broken_model, tmp_path, command):
    args = [broken_model] + ([files / "data.npy", "-o", tmp_path / "c.npy"] if command == "encode" else [])
    assert_one_line_error(*run(command, *args), "broken")


@pytest.mark.parametrize("what", ["data", "model"])
def test_missing_path_from_python(tmp_path, what):
    if what == "data":
        with pytest.raises(DataFileError, match=r"no such file or folder: '.*nowhere.npy'"):
            load_data(tmp_path / "nowhere.npy")
    else:
        with pytest.raises(ModelFileError, match=r"no such model folder: '.*nowhere'"):
            hourglass.load(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["fit", "{tmp}/nowhere.npy", "--out", "{tmp}/m"], "no such file or folder"),
        (["encode", "{files}/model", "{tmp}/nowhere.npy", "-o", "{tmp}/c.npy"], "no such file or folder"),
        (["encode", "{tmp}/nowhere", "{files}/data.npy", "-o", "{tmp}/c.npy"], "no such model folder"),
        (["decode", "{files}/model", "{tmp}/nowhere.npy", "-o", "{tmp}/d.npy"], "no such file or folder"),
        (["info", "{tmp}/nowhere"], "no such model folder"),
        (["compare", "{tmp}/nowhere.csv"], "no such file or folder"),
    ],
)
def test_missing_path_from_cli(files, tmp_path, args, fragment):
    argv = [a.format(tmp=tmp_path, files=files) for a in args]
    assert_one_line_error(*run(*argv), fragment, "nowhere")


def test_unsupported_file_type_from_cli(tmp_path):
    (tmp_path / "data.xlsx").write_bytes(b"PK")
    assert_one_line_error(*run("fit", tmp_path / "data.xlsx", "--out", tmp_path / "m", *FAST_FIT), "'.xlsx'")


def test_npz_key_problems_from_cli(files, tmp_path):
    assert_one_line_error(
        *run("fit", files / "data.npz", "--out", tmp_path / "m", *FAST_FIT),
        "choose one with key= (--key on the command line)",
    )
    assert_one_line_error(
        *run("fit", files / "data.npz", "--key", "zz", "--out", tmp_path / "m", *FAST_FIT), "no array 'zz'"
    )


def test_main_returns_two_on_bad_input(tmp_path, capsys):
    code = main(["info", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("hourglass: error: no such model folder") and len(err.strip().splitlines()) == 1


def test_main_returns_two_on_usage_error(capsys):
    assert main(["fit"]) == 2
    assert capsys.readouterr().err == "hourglass: error: missing argument DATA; see hourglass fit --help\n"


def test_main_prints_one_line_error_on_bad_input(tmp_path, capsys):
    main(["info", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert err.startswith("hourglass: error: no such model folder") and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_console_script_reports_bad_input_without_traceback(tmp_path):
    script = Path(sys.executable).with_name("hourglass")
    result = subprocess.run([str(script), "info", str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("hourglass: error: no such model folder")
    assert "Traceback" not in result.stderr


def test_fit_keeps_the_models_default_activation_and_drops_the_checkpoint_param(files, tmp_path):
    code, out, err = run("fit", files / "data.npy", *FAST_FIT, "--out", tmp_path / "m")
    assert code == 0, err
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["params"]["activation"] == AutoEncoder().activation
    assert config["params"]["checkpoint_dir"] is None


def test_fit_reuses_a_saved_decoder_frozen(files, tmp_path):
    code, out, err = run(
        "fit", files / "data.npy", *FAST_FIT, "--decoder-from", files / "model", "--freeze-decoder",
        "--out", tmp_path / "m",
    )  # fmt: skip
    assert code == 0, err
    source, reused = hourglass.load(files / "model"), hourglass.load(tmp_path / "m")
    for name, tensor in source.module_.decoder.state_dict().items():
        assert np.array_equal(tensor.cpu().numpy(), reused.module_.decoder.state_dict()[name].cpu().numpy())
    assert json.loads((tmp_path / "m" / "config.json").read_text())["params"]["freeze_decoder"] is True


def test_fit_topk_aux_flag_reaches_the_model(files, tmp_path):
    args = [
        "--code-size",
        "80",
        "--topk",
        "4",
        "--topk-aux",
        "0.25",
        "--epochs",
        "2",
        "--device",
        "cpu",
        "-q",
    ]
    code, out, err = run("fit", files / "data.npy", *args, "--out", tmp_path / "m")
    assert code == 0, err
    assert hourglass.load(tmp_path / "m").topk_aux_penalty == 0.25


# -- tables with identifier and label columns ----------------------------------------------------


@pytest.fixture(scope="module")
def labelled_table(tmp_path_factory):
    """The wine table as a CSV with an id column and the class as a text label."""
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True)
    df = wine.data.iloc[:90].copy()
    df.insert(0, "id", np.arange(90) * 1000)
    df["kind"] = np.array(["barolo", "grignolino", "barbera"])[wine.target.iloc[:90]]
    path = tmp_path_factory.mktemp("table") / "wine.csv"
    df.to_csv(path, index=False)
    return path


def test_load_data_drops_columns_and_takes_the_label(labelled_table):
    data = load_data(labelled_table, drop=["id"], label="kind")
    assert data.X.shape == (90, 13) and "id" not in data.feature_names and "kind" not in data.feature_names
    assert set(data.y) == {"barolo", "grignolino"}  # the first 90 rows hold two classes


def test_load_data_takes_positions_for_a_headerless_table(tmp_path):
    path = tmp_path / "t.csv"
    np.savetxt(path, np.c_[np.arange(5), np.ones((5, 3)), np.arange(5) % 2], delimiter=",")
    data = load_data(path, drop=["0"], label="4")
    assert data.X.shape == (5, 3) and list(data.y) == [0, 1, 0, 1, 0]


def test_compare_at_its_default_code_sizes_takes_those_narrower_than_the_table(labelled_table, tmp_path):
    # 16 is not below wine's 13 features: the defaults 2,8,16 were refused whole.
    code, out, err = run(
        "compare", labelled_table, "--drop", "id", "--label", "kind", "--epochs", "1", "--time", "4s",
        "-o", tmp_path / "t.csv",
    )  # fmt: skip
    assert code == 0, err
    assert pd.read_csv(tmp_path / "t.csv")["code_size"].tolist() == [2, 8]
    assert "at most 4 s in all, 2 s per code size" in out


def test_compare_with_drop_and_label_prints_standardized_errors(labelled_table, tmp_path):
    code, out, err = run(
        "compare", labelled_table, "--drop", "id", "--label", "kind", "--code-sizes", "2", "--epochs", "2",
        "-o", tmp_path / "table.csv", "--report", tmp_path / "r",
    )  # fmt: skip
    assert code == 0, err
    assert "standardized units" in out and "ae_mse_raw" in out
    # The verdict names its units: "beats PCA" in z-scores may be "loses" in raw units.
    assert any(line.startswith("in standardized units, ") for line in out.splitlines())
    table = pd.read_csv(tmp_path / "table.csv")
    assert {"ae_mse", "pca_mse", "ratio", "ae_mse_raw", "pca_mse_raw"} <= set(table.columns)
    html = (tmp_path / "r" / "report.html").read_text()
    assert "standardized units" in html and "In standardized units, " in html


def test_compare_notes_columns_that_dominate_raw_units(labelled_table):
    # Proline (hundreds to over a thousand) and magnesium (about a hundred) dwarf the others.
    code, out, err = run("compare", labelled_table, "--drop", "id", "--label", "kind", "--code-sizes", "2",
                         "--epochs", "1")  # fmt: skip
    assert code == 0, err
    assert "note: raw-unit MSE is dominated by" in out and "'proline'" in out


def test_fit_with_drop_and_label(labelled_table, tmp_path):
    code, out, err = run("fit", labelled_table, "--drop", "id", "--label", "kind", "--out", tmp_path / "m",
                         *FAST_FIT)  # fmt: skip
    assert code == 0, err
    assert hourglass.load(tmp_path / "m").n_features_in_ == 13


@pytest.mark.parametrize(
    "options, fragments",
    [
        (["--drop", "nope"], ["--drop 'nope'", "no such column", "alcohol"]),
        (["--label", "nope"], ["--label 'nope'", "no such column"]),
        (["--drop", "99"], ["--drop '99'", "below 15"]),
    ],
)
def test_compare_names_a_missing_column(labelled_table, tmp_path, options, fragments):
    code, out, err = run("compare", labelled_table, *options, "-o", tmp_path / "t.csv")
    assert_one_line_error(code, out, err, *fragments)
    assert not (tmp_path / "t.csv").exists()


def test_fit_refuses_a_label_column_with_missing_values(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [2.0, 1, 0, 3], "y": ["x", None, "z", "x"]}).to_csv(
        path, index=False
    )
    code, out, err = run("fit", path, "--label", "y", "--out", tmp_path / "m", *FAST_FIT)
    assert_one_line_error(code, out, err, "label column 'y'", "1 missing value", "row 1")
    assert not (tmp_path / "m").exists()


def test_drop_refuses_data_that_is_not_a_table(files, tmp_path):
    code, out, err = run("compare", files / "data.npy", "--drop", "px0")
    assert_one_line_error(code, out, err, "--drop", "table files")


def test_fit_that_collapses_beyond_recovery_is_one_line_and_keeps_its_checkpoint(files, tmp_path):
    code, out, err = run("fit", files / "data.npy", "--out", tmp_path / "m", "--lr", "1e9", "--epochs", "6",
                         "--code-size", "2", "--hidden", "16", "--device", "cpu", "--quiet")  # fmt: skip
    assert_one_line_error(code, out, err, "training collapsed at epoch", "tried restarts", "m.checkpoint")
    assert (tmp_path / "m.checkpoint").exists() and not (tmp_path / "m").exists()


@pytest.mark.parametrize("drop, label", [("id", "id"), ("kind", "kind"), ("0", "id"), ("id,kind", "kind")])
def test_fit_refuses_a_column_both_dropped_and_the_label(labelled_table, tmp_path, drop, label):
    code, out, err = run("fit", labelled_table, "--drop", drop, "--label", label, "--out", tmp_path / "m",
                         *FAST_FIT)  # fmt: skip
    assert_one_line_error(code, out, err, f"--label {label!r}", "--drop", "either dropped or the label")
    assert not (tmp_path / "m").exists()


def test_load_data_refuses_a_column_both_dropped_and_the_label(labelled_table):
    with pytest.raises(InvalidInputError, match="label 'id' is also among the columns to drop"):
        load_data(labelled_table, drop=["id"], label="id")


def test_a_model_keeps_reading_its_label_when_it_is_dropped_by_name(labelled_table, table_models, tmp_path):
    # Not the user's --label: the model's own label column, found in the table and not a feature.
    code, out, err = run(
        "encode", table_models / "ae", labelled_table, "--drop", "kind", "-o", tmp_path / "c.npy"
    )
    assert code == 0, err


# -- output suffixes and the column names of outputs ------------------------------------------------


@pytest.mark.parametrize("name", ["t.json", "t.npy", "t.txt"])
def test_compare_refuses_an_output_that_is_no_table_before_training(labelled_table, tmp_path, name):
    code, out, err = run("compare", labelled_table, "--drop", "id", "--label", "kind", "--code-sizes", "2",
                         "--epochs", "1", "-o", tmp_path / name)  # fmt: skip
    suffix = name[name.index(".") :]
    assert_one_line_error(code, out, err, f"unsupported suffix {suffix!r}; expected .csv or .parquet")
    assert out == "" and not (tmp_path / name).exists()  # refused before any training


@pytest.mark.parametrize("command", ["encode", "reconstruct", "decode"])
def test_array_outputs_refuse_another_suffix_before_reading_anything(files, tmp_path, command):
    # A model folder that does not exist: the suffix is refused before the model is read.
    code, out, err = run(command, tmp_path / "nomodel", files / "data.npy", "-o", tmp_path / "x.json")
    assert_one_line_error(code, out, err, "unsupported suffix '.json'; expected .npy, .npz, .csv or .parquet")
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("name", ["ex.txt", "ex.npy", "ex"])
def test_export_refuses_a_suffix_other_than_onnx(files, tmp_path, name):
    code, out, err = run("export", files / "model", "-o", tmp_path / name)
    assert_one_line_error(code, out, err, repr(str(tmp_path / name)), "expected .onnx")
    assert not (tmp_path / name).exists()


@pytest.fixture(scope="module")
def table_models(labelled_table, tmp_path_factory):
    """An autoencoder and a VAE fitted on the wine table through the CLI, which keeps its column names."""
    folder = tmp_path_factory.mktemp("table_models")
    for name, extra in [("ae", []), ("vae", ["--arch", "vae"])]:
        code, out, err = run("fit", labelled_table, "--drop", "id", "--label", "kind", "--out", folder / name,
                             *FAST_FIT, *extra)  # fmt: skip
        assert code == 0, err
    return folder


def test_reconstructed_decoded_and_sampled_tables_carry_the_models_column_names(
    labelled_table, table_models, tmp_path
):
    features = list(pd.read_csv(labelled_table).columns[1:-1])  # without id and kind
    ae, vae = table_models / "ae", table_models / "vae"
    assert run("reconstruct", ae, labelled_table, "-o", tmp_path / "r.csv")[0] == 0
    assert run("encode", ae, labelled_table, "-o", tmp_path / "c.csv")[0] == 0
    assert run("decode", ae, tmp_path / "c.csv", "-o", tmp_path / "d.csv")[0] == 0
    assert run("sample", vae, "-n", "5", "-o", tmp_path / "s.csv")[0] == 0
    assert list(pd.read_csv(tmp_path / "s.csv").columns) == features
    # Behind the table's key column (its id), which decode reads past and carries on.
    for name in ("r.csv", "d.csv"):
        assert list(pd.read_csv(tmp_path / name).columns) == ["id", *features], name
    assert list(pd.read_csv(tmp_path / "c.csv").columns) == ["id", "c0", "c1"]  # codes keep their own names
    # A reconstruction reads back as the table it came from: its columns are the model's features.
    assert run("reconstruct", ae, tmp_path / "r.csv", "-o", tmp_path / "r2.npy")[0] == 0


def test_a_model_without_column_names_writes_numbered_columns(files, tmp_path):
    assert run("reconstruct", files / "model", files / "data.npy", "-o", tmp_path / "r.csv")[0] == 0
    assert list(pd.read_csv(tmp_path / "r.csv").columns) == [f"c{i}" for i in range(64)]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["calibrate", "{model}", "{data}", "-o", "{tmp}/d", "--quantile", "1.5"], "--quantile 1.5;"),
        (["compare", "{data}", "--test-size", "0", "--epochs", "1"], "--test-size 0.0;"),
        (["cluster", "{model}", "{data}", "--n-clusters", "0"], "--n-clusters 0;"),
        (["encode", "{model}", "{data}", "-o", "{tmp}/exists.npy"], "exists already; pass --force to"),
    ],
)
def test_command_line_errors_name_the_flags_the_user_typed(files, tmp_path, argv, expected):
    # The Python layer's words leaked: 'quantile=1.5', 'test_size=0.0', 'pass force=True (--force)'.
    np.save(tmp_path / "exists.npy", np.zeros(1))
    names = {"model": files / "model", "data": files / "data.npy", "tmp": tmp_path}
    code, _, err = run(*[a.format(**names) for a in argv])
    assert code == 2 and expected in err, err
    assert "force=True" not in err and not re.match(r"hourglass: error: [a-z_]+=", err), err


def test_advice_at_the_end_of_an_error_names_the_flag(tmp_path):
    # 'pass code_size=8' is Python's spelling: the command line's is --code-size 8.
    assert run("fit", "digits", "-o", tmp_path / "src", "--code-size", "8", "--epochs", "1", "-q")[0] == 0
    code, _, err = run(
        "fit",
        "digits",
        "-o",
        tmp_path / "d",
        "--encoder",
        tmp_path / "src",
        "--code-size",
        "4",
        "--epochs",
        "1",
    )
    assert code == 2 and err.strip().endswith("pass --code-size 8"), err


def test_info_leaves_out_what_a_model_does_not_have_and_names_the_thresholds_units(files, tmp_path):
    # It printed 'table None', an empty 'metrics' row, 'random_state=None', a bare threshold, and
    # called calibrate's NORMAL rows "held-out" whatever they were.
    code, _, err = run("calibrate", files / "model", files / "data.npy", "-o", tmp_path / "det", "--quiet")
    assert code == 0, err
    code, out, _ = run("info", tmp_path / "det")
    assert code == 0
    assert "None" not in out and not any(line.strip() == "metrics" for line in out.splitlines())
    assert "units=" in out and "held-out normal rows" not in out
    code, out, _ = run("info", tmp_path / "det", "--json")
    assert json.loads(out)["table"] is None  # --json keeps every key
