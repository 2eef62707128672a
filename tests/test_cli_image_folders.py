"""A folder of images as DATA: read by every command of a conv model, at the size it was fitted on,
with a notice when the images are resized or turned gray, and refused by dense models."""

import numpy as np
import pandas as pd
import pytest

from helpers import assert_one_line_error, run
from hourglass import ConvAutoEncoder, InvalidInputError
from hourglass.data import images as image_files
from hourglass.data.images import folder_notice, save_image

SIZES = [(20, 24), (18, 22), (16, 16)]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "photos"
    rng = np.random.default_rng(0)
    for i, size in enumerate(SIZES):
        save_image(folder / f"p{i}.png", rng.random((3, *size)))
    return folder


def _fit_conv(photos, out, *extra):
    argv = ["fit", photos, "-o", out, "--arch", "conv", "--channels", "4", "--epochs", "1", *extra]
    return run(*argv)


@pytest.fixture(scope="module")
def conv_model(photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "conv"
    code, _, err = _fit_conv(photos, out, "--image-size", "8", "-q")
    assert code == 0, err
    return out


def test_score_reads_an_image_folder_keyed_by_file(conv_model, photos, tmp_path):
    # score, calibrate and cluster said "folder 'photos' holds no IDX files" to a conv model.
    code, out, err = run("score", conv_model, photos, "-o", tmp_path / "s.csv", "-q")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "s.csv")
    assert list(table["file"]) == ["p0.png", "p1.png", "p2.png"]
    assert np.isfinite(table["error"]).all()


def test_calibrate_then_score_a_detector_on_an_image_folder(conv_model, photos, tmp_path):
    code, out, err = run("calibrate", conv_model, photos, "-o", tmp_path / "det", "-q")
    assert code == 0, err
    code, out, err = run(
        "score", tmp_path / "det", photos, "-o", tmp_path / "s.csv", "--maps", tmp_path / "m"
    )
    assert code == 0, err
    table = pd.read_csv(tmp_path / "s.csv")
    assert list(table["file"]) == ["p0.png", "p1.png", "p2.png"] and "prediction" in table
    assert len(list((tmp_path / "m").glob("*.png"))) == 3


def test_cluster_reads_an_image_folder_keyed_by_file(conv_model, photos, tmp_path):
    code, out, err = run(
        "cluster", conv_model, photos, "-o", tmp_path / "c.csv", "--n-clusters", 2, "--manifold", "none"
    )
    assert code == 0, err
    table = pd.read_csv(tmp_path / "c.csv")
    assert list(table.columns) == ["file", "cluster"] and len(table) == 3


def test_a_dense_model_refuses_an_image_folder_in_one_line(photos, tmp_path):
    code, _, err = run("fit", "digits", "-o", tmp_path / "d", "--epochs", 1, "--hidden", 4, "-q")
    assert code == 0, err
    for command in (
        ["score", tmp_path / "d", photos, "-o", tmp_path / "s.csv"],
        ["cluster", tmp_path / "d", photos],
    ):
        assert_one_line_error(*run(*command), "folder of images", "dense")


def test_fit_refuses_a_huge_image_size_before_decoding_any_image(photos, tmp_path, monkeypatch):
    # 100000x100000 was resized to, then killed for memory (rc 137) with no message.
    def no_decoding(*args, **kwargs):
        raise AssertionError("an image was decoded")

    monkeypatch.setattr(image_files, "load_image", no_decoding)
    code, out, err = _fit_conv(photos, tmp_path / "m", "--image-size", "100000x100000")
    assert_one_line_error(code, out, err, "--image-size 100000x100000", "at most")
    with pytest.raises(InvalidInputError, match="image_size=100000x100000"):
        ConvAutoEncoder(image_size=(100000, 100000), epochs=1).fit(photos)


def test_fit_on_a_folder_says_it_resized_the_images_unless_quiet(photos, tmp_path):
    code, out, err = _fit_conv(photos, tmp_path / "m")
    assert code == 0, err
    assert "resized 3 images to 64x64 (sizes 16x16 to 20x24)" in err and "--image-size" in err
    code, out, err = _fit_conv(photos, tmp_path / "q", "-q")
    assert code == 0 and "resized" not in err


def test_encode_says_it_resized_and_turned_the_images_gray(photos, tmp_path):
    code, _, err = _fit_conv(photos, tmp_path / "gray", "--image-size", "16", "--color-mode", "L", "-q")
    assert code == 0, err
    code, out, err = run("encode", tmp_path / "gray", photos, "-o", tmp_path / "c.npy")
    assert code == 0, err
    notice = [line for line in err.splitlines() if "resized" in line]
    assert notice == [
        "resized 2 images to 16x16 (sizes 18x22 to 20x24) and converted 3 colour images to gray: "
        "the model reads 1x16x16 images"
    ]
    code, out, err = run("encode", tmp_path / "gray", photos, "-o", tmp_path / "c2.npy", "-q")
    assert code == 0 and err == ""


def test_fit_help_states_the_default_image_size():
    code, out, err = run("fit", "--help")
    assert code == 0
    assert "none: 64x64" in " ".join(out.replace("│", " ").split())


@pytest.mark.parametrize(
    ("size", "mode", "expected"),
    [
        ((16, 16), "RGB", "resized 2 images to 16x16 (sizes 18x22 to 20x24)"),
        ((18, 22), "RGB", "resized 2 images to 18x22 (sizes 16x16 to 20x24)"),
        (None, "L", "converted 3 colour images to gray"),
        (None, "RGB", None),
    ],
)
def test_folder_notice_says_what_reading_changes(photos, size, mode, expected):
    paths = sorted(photos.glob("*.png"))
    assert folder_notice(paths, size, mode) == expected


def test_encode_says_it_turned_one_image_file_gray(photos, tmp_path):
    code, _, err = _fit_conv(photos, tmp_path / "gray", "--image-size", "16", "--color-mode", "L", "-q")
    assert code == 0, err
    code, out, err = run("encode", tmp_path / "gray", photos / "p2.png", "-o", tmp_path / "c.npy")
    assert code == 0, err
    assert "converted 1 colour image to gray: the model reads 1x16x16 images" in err
