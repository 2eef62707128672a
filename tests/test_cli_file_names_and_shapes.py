"""Command-line polish: a conv model's wrong-shape input named, -o suffixes honoured or refused,
a time budget shorter than one epoch said, and info on restoration models and U-Nets."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from PIL import Image

from helpers import assert_one_line_error, run
from hourglass import AutoEncoder, ConvAutoEncoder, TimeBudgetWarning
from hourglass.uses.comparison import compare

FAST = {"epochs": 1, "random_state": 0, "device": "cpu", "verbose": 0}


@pytest.fixture(scope="module")
def digit_images(digits) -> np.ndarray:
    """The first 48 of scikit-learn's digits as (n, 1, 8, 8) images in [0, 1]."""
    return digits[0][:48].reshape(-1, 1, 8, 8).astype(np.float32)


@pytest.fixture(scope="module")
def conv_model(tmp_path_factory, digit_images) -> str:
    model = ConvAutoEncoder(channels=(4,), **FAST).fit(digit_images)
    return str(model.save(tmp_path_factory.mktemp("conv") / "model"))


@pytest.fixture(scope="module")
def denoiser(tmp_path_factory, digits):
    """A U-Net denoiser (skip connections, the default for a restoration task) of 16x16 digits."""
    images = np.kron(digits[0][:40].reshape(-1, 8, 8), np.ones((2, 2)))[:, None].astype(np.float32)
    model = ConvAutoEncoder(task="denoise", channels=(4,), **FAST).fit(images)
    return model, str(model.save(tmp_path_factory.mktemp("den") / "model"))


# 1. A conv model's input of another shape: the error names the file, as the dense width error does.


@pytest.mark.parametrize(
    ("shape", "said"),
    [
        ((5, 1, 12, 12), "samples of shape (1, 12, 12)"),  # another image size
        ((5, 3, 8, 8), "samples of shape (3, 8, 8)"),  # other channels
        ((5, 64), "rows of 64 values"),  # flattened images
    ],
)
@pytest.mark.parametrize("command", ["encode", "reconstruct"])
def test_conv_model_names_the_file_of_another_shape(conv_model, tmp_path, shape, said, command):
    # Was: "X has samples of shape (1, 12, 12); ... (use apply_image ...)", naming no file.
    bad = tmp_path / "wrong.npy"
    np.save(bad, np.zeros(shape, np.float32))
    code, out, err = run(command, conv_model, bad, "-o", tmp_path / "out.npy")
    assert_one_line_error(code, out, err, f"{str(bad)!r}", said, "(1, 8, 8)")
    assert "apply_image" not in err and not (tmp_path / "out.npy").exists()


def test_conv_model_names_one_image_file_of_another_size(conv_model, tmp_path):
    photo = tmp_path / "big.png"
    Image.fromarray(np.zeros((12, 10), np.uint8)).save(photo)
    code, out, err = run("encode", conv_model, photo, "-o", tmp_path / "codes.npy")
    assert_one_line_error(code, out, err, f"{str(photo)!r}", "12x10", "8x8", "hourglass apply")


def test_conv_model_still_reads_gray_images_without_their_channel_axis(conv_model, tmp_path, digit_images):
    np.save(tmp_path / "gray.npy", digit_images[:, 0])  # (n, 8, 8)
    code, _, err = run("encode", conv_model, tmp_path / "gray.npy", "-o", tmp_path / "c.npy", "-q")
    assert code == 0, err


# 2. -o: an array suffix writes that file; a folder output named like a file is refused.


def test_apply_writes_an_npz_file_not_a_folder(conv_model, tmp_path, digit_images):
    # Was: a folder out.npz/ holding one.npy.
    np.save(tmp_path / "one.npy", digit_images[:2])
    out = tmp_path / "out.npz"
    code, _, err = run("apply", conv_model, tmp_path / "one.npy", "-o", out, "-q")
    assert code == 0, err
    assert out.is_file()
    with np.load(out) as saved:
        assert saved["data"].shape == (2, 1, 8, 8)
    assert_one_line_error(*run("apply", conv_model, tmp_path / "one.npy", "-o", out), "exists", "--force")
    assert run("apply", conv_model, tmp_path / "one.npy", "-o", out, "--force", "-q")[0] == 0


def test_apply_refuses_a_file_suffix_it_does_not_write(conv_model, tmp_path, digit_images):
    np.save(tmp_path / "one.npy", digit_images[:2])
    out = tmp_path / "out.csv"
    code, out_text, err = run("apply", conv_model, tmp_path / "one.npy", "-o", out)
    assert_one_line_error(code, out_text, err, ".csv files", ".npz", "folder")
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["fit", "digits", "-o", "{tmp}/model.npz", "--epochs", "1"],
        ["demo", "-o", "{tmp}/demo.npy"],
    ],
)
def test_a_folder_output_named_like_a_file_is_refused(tmp_path, argv):
    # Was: a model folder named model.npz.
    args = [a.format(tmp=tmp_path) for a in argv]
    assert_one_line_error(*run(*args), "names a .np", "folder")
    assert not any(tmp_path.iterdir())


def test_calibrate_refuses_a_detector_named_like_a_file(conv_model, tmp_path, digit_images):
    np.save(tmp_path / "normal.npy", digit_images[:8])
    assert_one_line_error(
        *run("calibrate", conv_model, tmp_path / "normal.npy", "-o", tmp_path / "det.npz"), "names a .npz"
    )
    assert not (tmp_path / "det.npz").exists()


# 3. A time budget shorter than one epoch: trained one epoch all the same, and said in one warning.


def test_a_fit_with_a_budget_shorter_than_an_epoch_says_so(digits):
    with pytest.warns(TimeBudgetWarning, match="shorter than one epoch") as caught:
        model = AutoEncoder(code_size=2, max_time=1e-4, **{**FAST, "epochs": 50}).fit(digits[0])
    assert model.n_epochs_ == 1
    assert len([w for w in caught if w.category is TimeBudgetWarning]) == 1


def test_compare_says_once_that_its_budget_is_shorter_than_an_epoch(digits):
    estimator = AutoEncoder(max_time=1e-4, random_state=0, device="cpu", verbose=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = compare(digits[0][:600], [2, 3], estimator, random_state=0)
    said = [w for w in caught if issubclass(w.category, TimeBudgetWarning)]
    assert len(said) == 1, [str(w.message) for w in caught]
    assert "code sizes 2, 3" in str(said[0].message)
    assert list(result.table["ae_epochs"]) == [1, 1]  # training itself is unchanged


def test_a_budget_of_many_epochs_says_nothing(digits):
    with warnings.catch_warnings():
        warnings.simplefilter("error", TimeBudgetWarning)
        AutoEncoder(code_size=2, max_time=600, epochs=2, random_state=0, device="cpu", verbose=0).fit(
            digits[0][:300]
        )


# 4. info on a restoration U-Net: the PSNR its fit measured, and no meaningless code size.


def test_info_of_a_unet_denoiser_gives_its_psnr_and_no_code_size(denoiser):
    model, folder = denoiser
    code, out, err = run("info", folder)
    assert code == 0, err
    lines = {line.split("  ", 1)[0]: line for line in out.splitlines()}
    assert "U-Net" in lines["code size"] and "no code size" in lines["code size"]
    history = model.history_
    psnr = 10 * math.log10(1 / history.val_loss[history.best_epoch - 1])
    assert f"validation PSNR {psnr:.2f} dB" in lines["task"]
    assert "denoise" in lines["task"] and "input's PSNR was not measured" in lines["task"]
    summary = json.loads(run("info", folder, "--json")[1])
    assert summary["code_size"] is None
    assert summary["task"]["validation_psnr_db"] == pytest.approx(psnr, abs=0.01)
    assert summary["task"]["input_psnr_db"] is None  # not measured at fit: not invented


def test_info_of_a_plain_conv_model_keeps_its_code_size(conv_model):
    summary = json.loads(run("info", conv_model, "--json")[1])
    assert summary["code_size"] == 16 and summary["task"] is None


# 5. Bad inputs found by trying each command: the error names the file.


def test_decode_names_the_file_of_codes_of_another_width(conv_model, tmp_path):
    # Was: "codes have shape (5, 6); expected (n_samples, 16)", naming no file.
    np.save(tmp_path / "codes.npy", np.zeros((5, 6), np.float32))
    code, out, err = run("decode", conv_model, tmp_path / "codes.npy", "-o", tmp_path / "d.npy")
    assert_one_line_error(code, out, err, f"{str(tmp_path / 'codes.npy')!r}", "(5, 6)", "(n_samples, 16)")


def test_apply_names_the_array_file_of_another_shape(conv_model, tmp_path):
    # Was: "X has samples of shape (6,); ...", naming no file.
    np.save(tmp_path / "rows.npy", np.zeros((5, 6), np.float32))
    code, out, err = run("apply", conv_model, tmp_path / "rows.npy", "-o", tmp_path / "out")
    assert_one_line_error(code, out, err, f"{str(tmp_path / 'rows.npy')!r} has samples of shape (6,)")


def test_an_option_s_none_is_said_as_leaving_it_out():
    # "--n-clusters 0; expected a positive integer or None": None is Python's word, not the CLI's.
    from hourglass.cli.app import in_flag_words

    said = in_flag_words("n_clusters=0; expected a positive integer or None", {"n_clusters": "--n-clusters"})
    assert said == "--n-clusters 0; expected a positive integer, or leave the option out"
    kept = in_flag_words("n_clusters=0; expected a positive integer or None", {})  # Python keeps None
    assert kept.endswith("or None")
