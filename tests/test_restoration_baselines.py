"""Honest classical baselines: biharmonic inpainting of the same holes, a median for impulse noise."""

import numpy as np
import pytest
from skimage import data

from hourglass import ConvAutoEncoder, InvalidInputError
from hourglass.report.html import Report
from hourglass.report.tasks import add_task_sections
from hourglass.train.tasks import task_of
from hourglass.uses.restoration import baselines, biharmonic, median3, psnr, tv_chambolle


def _patches(image: np.ndarray, size: int = 32, n: int = 12) -> np.ndarray:
    """``n`` patches ``(c, size, size)`` in [0, 1] from the top-left of a ``(h, w[, c])`` photo."""
    img = np.atleast_3d(image).astype(np.float32).transpose(2, 0, 1) / 255
    cols = img.shape[2] // size
    return np.stack([img[:, (i // cols) * size :, (i % cols) * size :][:, :size, :size] for i in range(n)])


def _salt_and_pepper(image: np.ndarray, rate: float, seed: int = 0) -> np.ndarray:
    draw = np.random.default_rng(seed).random(image.shape)
    return np.where(draw < rate / 2, 0.0, np.where(draw < rate, 1.0, image)).astype(np.float32)


def test_biharmonic_fills_a_hole_in_a_photo_far_better_than_the_holed_input():
    rocket = data.rocket().astype(np.float32).transpose(2, 0, 1) / 255
    holes = np.zeros(rocket.shape[1:], bool)
    holes[100:120, 100:130] = True  # a 20 x 30 hole in the sky: 43.3 dB in it, the holed input 11.5 dB
    holed = np.where(holes, 0.0, rocket)
    filled = biharmonic(holed, holes)
    np.testing.assert_array_equal(filled[:, ~holes], holed[:, ~holes])  # only the holes change
    in_hole = psnr(rocket[:, holes][..., None], filled[:, holes][..., None])
    assert in_hole > psnr(rocket[:, holes][..., None], holed[:, holes][..., None]) + 20
    with pytest.raises(InvalidInputError, match="needs mask"):
        baselines("inpaint", holed)


def test_a_three_by_three_median_is_the_baseline_for_salt_and_pepper_only():
    moon = data.moon().astype(np.float32)[None] / 255
    noisy = _salt_and_pepper(moon, 0.05)
    # Measured: 40.5 dB against total variation's 24.3 dB on moon at a 5 % rate.
    assert psnr(moon, median3(noisy)) > psnr(moon, tv_chambolle(noisy)) + 10
    impulse = ConvAutoEncoder(task="denoise", noise="salt_pepper", noise_level=0.05)
    assert list(baselines(task_of(impulse), noisy)) == ["non-local means", "total variation", "median filter"]
    gaussian = ConvAutoEncoder(task="denoise")
    assert list(baselines(task_of(gaussian), moon, sigma=0.1)) == ["non-local means", "total variation"]


@pytest.fixture(scope="module")
def astronaut_patches():
    return _patches(data.astronaut(), n=12)


def test_an_inpainter_is_judged_against_biharmonic_inpainting_of_the_holes_it_saw(astronaut_patches):
    X = astronaut_patches
    model = ConvAutoEncoder(task="inpaint", channels=(4,), epochs=1, random_state=0).fit(X)
    panels = model.task_panels(X, seed=3)
    assert list(panels) == ["input", "biharmonic inpainting", "autoencoder", "truth"]
    holes = task_of(model).baseline_mask(X.shape, 3)
    assert holes.shape == (12, 32, 32) and 0.05 < holes.mean() < 0.2
    # The holes given to the classical inpainter are those blanked in the network's input.
    assert (panels["input"].transpose(1, 0, 2, 3)[:, holes] == 0).all()
    kept = ~holes[:, None].repeat(3, axis=1)
    np.testing.assert_allclose(panels["biharmonic inpainting"][kept], panels["input"][kept], atol=1e-6)
    summary = model.task_summary(X)
    assert "biharmonic inpainting PSNR (dB)" in summary and "gain over biharmonic inpainting (dB)" in summary
    report = Report("inpaint")
    add_task_sections(report, model, X)
    assert "biharmonic inpainting" in report.to_html()


def test_a_salt_and_pepper_denoiser_is_judged_against_the_median(astronaut_patches):
    X = astronaut_patches
    model = ConvAutoEncoder(
        task="denoise", noise="salt_pepper", noise_level=0.05, channels=(4,), epochs=1, random_state=0
    ).fit(X)
    summary = model.task_summary(X)
    assert "median filter PSNR (dB)" in summary  # the strongest of the three on impulse noise
    assert "median filter" in model.task_panels(X[:2])
