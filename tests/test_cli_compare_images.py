"""``hourglass compare --arch conv``: the conv autoencoder against PCA on images (issue 13)."""

import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import assert_one_line_error, run


@pytest.fixture(scope="module")
def image_files(tmp_path_factory, digits):
    root = tmp_path_factory.mktemp("images")
    np.save(root / "digits.npy", digits[0][:200].reshape(-1, 1, 8, 8).astype(np.float32))
    np.savetxt(root / "table.csv", digits[0][:50, :6], delimiter=",")
    photos = root / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(30):
        Image.fromarray((rng.random((10, 12, 3)) * 255).astype(np.uint8)).save(photos / f"{i:02d}.png")
    return root


def test_compare_conv_on_an_image_array_writes_table_and_report(image_files, tmp_path):
    code, out, err = run(
        "compare", image_files / "digits.npy", "--arch", "conv", "--channels", "4", "--code-sizes", "3,6",
        "--epochs", "1", "--report", tmp_path / "r", "-o", tmp_path / "t.csv", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert pd.read_csv(tmp_path / "t.csv")["code_size"].tolist() == [3, 6]
    html = (tmp_path / "r" / "report.html").read_text()
    assert "Reconstructions at k=3" in html and "one colour scale" in html
    assert html.count("data:image/png;base64,") >= 5


def test_compare_conv_on_the_builtin_digits_prints_the_table():
    code, out, err = run(
        "compare", "digits", "--arch", "conv", "--channels", "4", "--code-sizes", "4", "--epochs", "1"
    )
    assert code == 0, err
    assert "ae_mse" in out and "pca_mse" in out


def test_compare_conv_on_an_image_folder(image_files):
    code, out, err = run(
        "compare", image_files / "photos", "--arch", "conv", "--channels", "4", "--code-sizes", "5",
        "--epochs", "1",
    )  # fmt: skip
    assert code == 0, err
    assert re.search(r"^\s*5\s", out, re.MULTILINE)


def test_compare_conv_refuses_a_flat_table_and_writes_nothing(image_files, tmp_path):
    assert_one_line_error(
        *run(
            "compare",
            image_files / "table.csv",
            "--arch",
            "conv",
            "--report",
            tmp_path / "r",
            "-o",
            tmp_path / "t.csv",
        ),
        "flat table",
        "images (n, c, h, w)",
    )
    assert not (tmp_path / "r").exists() and not (tmp_path / "t.csv").exists()


def test_compare_channels_needs_arch_conv(image_files):
    assert_one_line_error(*run("compare", image_files / "digits.npy", "--channels", "4"), "--arch conv")


def test_compare_help_names_only_options_that_exist():
    code, out, _ = run("compare", "--help")
    assert code == 0
    for option in re.findall(r"(--[a-z][a-z-]+)", out):
        assert option in out.split("Options")[1], option
    assert "--arch" in out.split("Options")[1]
