"""Restoration tasks on photo folders: held-out report headlines and bad input (issue 13)."""

import re

import numpy as np
import pytest
from PIL import Image
from skimage import data

from helpers import assert_one_line_error, run
from hourglass import ConvAutoEncoder
from hourglass.data.images import check_photos, first_colour_photo, is_gray
from hourglass.exceptions import DataFileError, InvalidInputError


def _save(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """Three real photos, cut to 96 x 96 so that training stays fast."""
    folder = tmp_path_factory.mktemp("photos")
    for name in ("coffee", "chelsea", "rocket"):
        _save(folder / f"{name}.png", getattr(data, name)()[:96, :96])
    return folder


@pytest.fixture(scope="module")
def gray_folder(tmp_path_factory):
    """The camera photo as an RGB PNG, an RGB JPEG (channels equal up to rounding) and an L PNG."""
    folder = tmp_path_factory.mktemp("gray")
    gray = data.camera()[:96, :96]
    rgb = np.repeat(gray[..., None], 3, axis=2)
    _save(folder / "rgb.png", rgb)
    Image.fromarray(rgb).save(folder / "rgb.jpg", quality=85)
    _save(folder / "l.png", gray)
    return folder


def _fit_argv(folder, out, *extra):
    return ["fit", folder, "-o", out, "--arch", "conv", "--channels", "4", "--epochs", "1", "--quiet",
            *extra]  # fmt: skip


def test_fit_denoise_report_headlines_the_validation_split_not_training_data(photo_folder, tmp_path):
    argv = _fit_argv(
        photo_folder, tmp_path / "m", "--task", "denoise", "--noise", "0.1", "--image-size", "16x16"
    )
    code, out, err = run(*argv, "--report", tmp_path / "r")
    assert code == 0, err
    html = (tmp_path / "r" / "report.html").read_text()
    summary = html[html.index('id="section-0"') : html.index('id="section-1"')]
    assert "autoencoder PSNR, held-out data (dB)" in summary and "SSIM" in summary
    assert "the validation split" in summary and "training data" not in html
    assert re.search(r"gain over (non-local means|total variation) \(dB\)", summary)
    assert "sigma 0.1" in html and "no code size" in html
    # Every validation patch is scored (4 were, whatever their number), and the summary says how
    # many, and that they come from the training photos.
    scored = re.search(r"Mean over (\d+) held-out images", html)
    assert scored and int(scored[1]) > 4
    assert re.search(rf">{scored[1]}</div>\s*<div class=\"label\">held-out images scored", summary)
    assert "cut at random from the same photos as the training patches" in summary
    assert "that training never used" not in html


@pytest.mark.parametrize(
    ("make", "extra", "fragments"),
    [
        (lambda d: (d / "notes.txt").write_text("no photos"), ("--task", "denoise"), ("no images in",)),
        (
            lambda d: (d / "a.jpg").write_bytes(b"junk"),
            ("--task", "denoise"),
            ("a.jpg", "not a readable image"),
        ),
        (
            lambda d: _save(d / "tiny.png", data.coffee()[:20, :24]),
            ("--task", "denoise", "--image-size", "32x32"),
            ("tiny.png", "20x24", "smaller than the 32x32 training patches"),
        ),
    ],
    ids=["no-photos", "unreadable", "smaller-than-patch"],
)
def test_fit_restoration_on_a_bad_folder_fails_in_one_line_and_writes_nothing(
    make, extra, fragments, tmp_path
):
    folder = tmp_path / "photos"
    folder.mkdir()
    make(folder)
    out = tmp_path / "model"
    assert_one_line_error(*run(*_fit_argv(folder, out, *extra)), *fragments)
    assert not out.exists()


def test_fit_colorize_on_gray_rgb_files_fails_in_one_line(gray_folder, tmp_path):
    out = tmp_path / "model"
    code, stdout, err = run(*_fit_argv(gray_folder, out, "--task", "colorize", "--image-size", "16x16"))
    assert_one_line_error(code, stdout, err, "colorize", "gray", "red = green = blue", "expected RGB photos")
    assert not out.exists()


def test_compare_conv_on_a_flat_table_fails_in_one_line(tmp_path):
    table = tmp_path / "wine.csv"
    # Measurements, not whole numbers 0..29 (those would also be warned of as an identifier).
    table.write_text(
        "a,b,c\n" + "\n".join(f"{i / 7:.3f},{(i * 2) ** 0.5:.3f},{i % 3}" for i in range(30)) + "\n"
    )
    report = tmp_path / "r"
    code, out, err = run("compare", table, "--arch", "conv", "--report", report)
    assert_one_line_error(code, out, err, "flat table", "--arch dense")
    assert not report.exists()


def test_colorize_refuses_gray_rgb_arrays():
    gray = np.repeat(np.random.default_rng(0).random((8, 1, 16, 16), dtype=np.float32), 3, axis=1)
    with pytest.raises(InvalidInputError, match="all gray"):
        ConvAutoEncoder(task="colorize", channels=(4,), epochs=1, verbose=0).fit(gray)


def test_is_gray_tolerates_rounding_but_not_colour():
    base = np.random.default_rng(0).random((1, 8, 8))
    assert is_gray(np.repeat(base, 3, axis=0) + np.array([0, 1 / 255, 0])[:, None, None])
    assert not is_gray(np.repeat(base, 3, axis=0) + np.array([0, 0.05, 0])[:, None, None])
    assert is_gray(base)


def test_first_colour_photo_skips_gray_files(gray_folder, photo_folder):
    assert first_colour_photo(sorted(gray_folder.iterdir())) is None
    paths = sorted(gray_folder.iterdir()) + [photo_folder / "coffee.png"]
    assert first_colour_photo(paths) == photo_folder / "coffee.png"


def test_check_photos_names_the_first_bad_file(photo_folder, tmp_path):
    check_photos(sorted(photo_folder.iterdir()), (96, 96))
    with pytest.raises(InvalidInputError, match="96x96, smaller than the 97x8"):
        check_photos(sorted(photo_folder.iterdir()), (97, 8))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    with pytest.raises(DataFileError, match="bad.png"):
        check_photos([bad], (8, 8))


def test_a_default_learning_rate_is_labelled_the_default():
    X = np.random.default_rng(0).random((32, 1, 8, 8)).astype(np.float32)
    ae = ConvAutoEncoder(channels=(4,), epochs=1, verbose=0).fit(X)
    assert ae.history_.recipe["learning_rate_rule"] == "the default"
