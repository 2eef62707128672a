"""What ``hourglass apply`` writes for ``-o FILE``: the format the suffix names, or a one-line refusal."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from PIL import Image, JpegImagePlugin

from helpers import assert_one_line_error, run
from hourglass import ConvAutoEncoder
from hourglass.data.images import load_image, save_image


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    """A 48 x 40 crop of scikit-image's astronaut, (3, h, w) in [0, 1]."""
    return skimage.data.astronaut()[100:148, 180:220].transpose(2, 0, 1).astype(np.float32) / 255


@pytest.fixture(scope="module")
def denoiser(tmp_path_factory, astronaut) -> str:
    patches = np.stack([astronaut[:, i : i + 16, j : j + 16] for i in (0, 16, 32) for j in (0, 12, 24)])
    model = ConvAutoEncoder(
        task="denoise", channels=4, epochs=1, random_state=0, device="cpu", verbose=0
    ).fit(patches)
    return model.save(tmp_path_factory.mktemp("m") / "denoiser")


@pytest.fixture
def photo(tmp_path, astronaut):
    return save_image(tmp_path / "one.png", astronaut)


@pytest.mark.parametrize("suffix", [".tif", ".tiff", ".bmp", ".webp"])
def test_apply_writes_the_file_its_suffix_names_losslessly(denoiser, photo, tmp_path, suffix):
    # -o out/x.tif made a folder out/x.tif/ holding one.png.
    assert run("apply", denoiser, photo, "-o", tmp_path / "out" / "x.png", "-q")[0] == 0
    out = tmp_path / "out" / f"x{suffix}"
    code, _, err = run("apply", denoiser, photo, "-o", out, "-q")
    assert code == 0, err
    assert out.is_file()
    with Image.open(out) as image:
        assert image.mode == "RGB"
    # Lossless and 8-bit: the same pixels as the PNG.
    np.testing.assert_array_equal(load_image(out), load_image(tmp_path / "out" / "x.png"))


def test_apply_refuses_an_image_suffix_it_cannot_write(denoiser, photo, tmp_path):
    out = tmp_path / "out" / "x.gif"
    assert_one_line_error(*run("apply", denoiser, photo, "-o", out), "'.gif'", ".tif", ".npy")
    assert not out.exists()


def test_apply_to_a_name_without_suffix_writes_a_folder(denoiser, photo, tmp_path):
    assert run("apply", denoiser, photo, "-o", tmp_path / "results", "-q")[0] == 0
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["one.png"]


def test_jpeg_results_keep_detail_and_colour(tmp_path, astronaut):
    # Pillow's defaults, quality 75 with 4:2:0 chroma subsampling, were used for results.
    path = save_image(tmp_path / "r.jpg", astronaut)
    with Image.open(path) as image:
        assert JpegImagePlugin.get_sampling(image) == 0  # 4:4:4
        assert max(image.quantization[0]) <= 12  # quality 95's table (75's reaches 61)
    error = np.abs(load_image(path) - np.round(astronaut * 255) / 255).mean()
    assert error < 2.5 / 255
