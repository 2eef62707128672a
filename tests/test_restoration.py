"""Image metrics and classical baselines."""

import numpy as np
import pytest

from hourglass.exceptions import InvalidInputError
from hourglass.train.restoration import (
    baselines,
    bicubic_upscale,
    grayscale,
    make_low_resolution,
    nl_means,
    psnr,
    ssim,
    tv_chambolle,
)


def _smooth(c=1, size=48):
    y, x = np.mgrid[0:size, 0:size] / size
    img = 0.5 + 0.4 * np.sin(4 * x) * np.cos(3 * y)
    return np.repeat(img[None], c, axis=0).astype(np.float32)


def test_psnr_matches_its_definition():
    truth = np.zeros((1, 8, 8))
    assert psnr(truth, truth + 0.1) == pytest.approx(20.0)


def test_ssim_is_one_for_identical_images():
    img = _smooth(3)
    assert ssim(img, img) == pytest.approx(1.0)


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(InvalidInputError, match="cannot be compared"):
        psnr(np.zeros((1, 8, 8)), np.zeros((1, 8, 9)))


@pytest.mark.parametrize("denoise", [nl_means, tv_chambolle])
@pytest.mark.parametrize("channels", [1, 3])
def test_denoisers_improve_psnr_and_keep_shape(denoise, channels):
    truth = _smooth(channels)
    noisy = truth + 0.1 * np.random.default_rng(0).standard_normal(truth.shape).astype(np.float32)
    out = denoise(noisy, sigma=0.1)
    assert out.shape == truth.shape and psnr(truth, out) > psnr(truth, noisy) + 3


def test_nl_means_estimates_sigma_when_not_given():
    truth = _smooth()
    noisy = truth + 0.1 * np.random.default_rng(0).standard_normal(truth.shape).astype(np.float32)
    assert psnr(truth, nl_means(noisy)) > psnr(truth, noisy)


def test_bicubic_upscale_recovers_a_smooth_image():
    truth = _smooth(size=64)
    up = bicubic_upscale(make_low_resolution(truth, 2), 2)
    assert up.shape == truth.shape and psnr(truth, up) > 35


def test_grayscale_has_equal_channels():
    gray = grayscale(np.random.default_rng(0).random((3, 4, 4)))
    assert np.allclose(gray[0], gray[1]) and np.allclose(gray[1], gray[2])


@pytest.mark.parametrize(
    "task, names",
    [
        ("super_resolve", ["bicubic"]),
        ("colorize", ["grayscale input"]),
        ("inpaint", ["biharmonic inpainting", "input"]),
    ],
)
def test_baselines_name_the_classical_method(task, names):
    assert sorted(baselines(task, _smooth(3), mask=np.eye(48, dtype=bool))) == names
