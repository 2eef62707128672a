"""Model reports for convolutional models: images, code maps and restoration headlines (issue 13)."""

import re

import numpy as np
import pytest

from hourglass import ConvAutoEncoder
from hourglass.report.build import model_report


def _headings(html: str) -> list[str]:
    return re.findall(r"<h2[^>]*>(.*?)</h2>", html)


def _conv(**params):
    settings = {"channels": (4,), "epochs": 1, "batch_size": 32, "verbose": 0, "random_state": 0}
    return ConvAutoEncoder(**{**settings, "device": "cpu", **params})


@pytest.fixture(scope="module")
def images(digits):
    return digits[0][:200].reshape(-1, 1, 8, 8).astype(np.float32), digits[1][:200]


def test_conv_reconstruct_report_shows_originals_reconstructions_pca_and_code_map(images):
    X, y = images
    ae = _conv(code_size=6).fit(X)
    html = model_report(ae, X, "digits", labels=y).to_html()
    headings = _headings(html)
    assert "Reconstructions" in headings and "Map of the codes" in headings
    assert "PCA with 6 components" in html and "one colour scale" in html
    # Fitted on X: the figures are the training samples', the validation split left to the held-out ones.
    assert "mean reconstruction MSE (180 training samples)" in html and "code size 6" in html


def test_conv_report_labels_errors_held_out_when_given_held_out_samples(images):
    X, _ = images
    ae = _conv(code_size=6).fit(X[:150])
    html = model_report(ae, X[:150], "digits", held_out=X[150:]).to_html()
    assert "mean reconstruction MSE (50 held-out samples)" in html and "training samples" not in html


def test_unet_restoration_report_headlines_the_task_against_its_baseline(images):
    X, _ = images
    ae = _conv(task="denoise", noise_level=0.2, channels=(4, 8)).fit(np.repeat(np.repeat(X, 2, 2), 2, 3))
    html = model_report(ae, np.repeat(np.repeat(X[:8], 2, 2), 2, 3), "digits").to_html()
    summary = html[html.index('id="section-0"') : html.index('id="section-1"')]
    # Eight of the 200 images it was fitted on: the report cannot tell which were validation ones.
    assert "autoencoder PSNR, given data (dB)" in summary
    assert re.search(r"gain over (non-local means|total variation) \(dB\)", summary)
    assert "reconstruction MSE" not in html  # clean input passed through says nothing about denoising
    assert "no code size" in html and "code size 2" not in html
    assert "gaussian noise, sigma 0.2" in html
    assert "Mean over 8 given images" in html


def test_task_summary_refuses_reconstruct(images):
    from hourglass.exceptions import InvalidInputError

    ae = _conv(code_size=4).fit(images[0][:64])
    with pytest.raises(InvalidInputError, match="restoration task"):
        ae.task_summary(images[0][:4])


def test_a_restoration_headline_is_scored_on_every_held_out_image_up_to_64(images):
    # It rested on 4 images: non-local means' mean PSNR over 4 photo patches ran from 27 to 33.5 dB.
    from hourglass.estimators.fitting import held_out_sample

    X = np.repeat(np.repeat(images[0], 2, 2), 2, 3)
    ae = _conv(task="denoise", noise_level=0.2, channels=(4, 8)).fit(X)
    held_out = held_out_sample(ae)
    assert len(held_out) == 20  # the whole validation split, where 16 items were kept
    html = model_report(ae, X[:8], "digits", held_out=held_out).to_html()
    assert "Mean over 20 held-out images" in html and "4 of the 20 held-out images scored" in html
    assert ae.task_summary(np.concatenate([held_out] * 4))["training images scored"] == 64


def test_gray_images_given_as_n_h_w_get_reconstructions_and_a_code_map(images):
    # color_mode='L' reads (n, h, w) as gray images; the report tested the raw array's shape, and
    # left out what the same images as (n, 1, h, w) got.
    X, y = images
    ae = _conv(code_size=6, color_mode="L").fit(X[:, 0])
    headings = _headings(model_report(ae, X[:, 0], "digits", labels=y).to_html())
    assert "Reconstructions" in headings and "Map of the codes" in headings


def test_a_denoisers_report_on_series_scores_against_its_input(images):
    # (n, 8, 8) reads as series of 8 channels; the image denoisers set beside it failed on them
    # ("axes don't match array"), after the model was saved and with no report.
    X, _ = images
    ae = _conv(task="denoise").fit(X[:, 0])
    assert ae.input_shape_ == (8, 8)
    html = model_report(ae, X[:, 0], "digits").to_html()
    assert "gain over input (dB)" in html and "non-local means" not in html
