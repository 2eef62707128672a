"""PCA side by side with the convolutional autoencoder, on images (issue 13)."""

import numpy as np
import pytest

import hourglass
from hourglass import ConvAutoEncoder
from hourglass.exceptions import InvalidInputError
from hourglass.report.build import comparison_report
from hourglass.uses.comparison import compare


def _conv(**params):
    settings = {
        "channels": (4,),
        "epochs": 1,
        "batch_size": 32,
        "verbose": 0,
        "random_state": 0,
        "device": "cpu",
    }
    return ConvAutoEncoder(**{**settings, **params})


@pytest.fixture(scope="module")
def images(digits):
    return digits[0][:300].reshape(-1, 1, 8, 8).astype(np.float32), digits[1][:300]


@pytest.fixture(scope="module")
def comparison(images):
    X, y = images
    return compare(X, code_sizes=[3, 6], estimator=_conv(), y=y)


def test_compare_conv_has_one_row_per_flat_code_size(comparison):
    assert comparison.table["code_size"].tolist() == [3, 6]
    assert all(m["ae"].architecture_.code_size == k for k, m in comparison.models.items())
    assert all(m["pca"].n_components_ == k for k, m in comparison.models.items())
    assert comparison.units == "data" and comparison.note is None


def test_compare_conv_scores_both_on_the_held_out_images_in_data_units(comparison):
    X_test = comparison.X_test
    assert X_test.shape[1:] == (1, 8, 8)
    for k, row in zip(comparison.models, comparison.table.itertuples(), strict=True):
        ae_rec = comparison.models[k]["ae"].reconstruct(X_test)
        pca_rec = comparison.pca_reconstruct(k, X_test)
        assert pca_rec.shape == X_test.shape
        assert row.ae_mse == pytest.approx(np.mean((ae_rec - X_test) ** 2), rel=1e-5)
        assert row.pca_mse == pytest.approx(np.mean((pca_rec - X_test) ** 2), rel=1e-5)


def test_compare_conv_takes_gray_images_without_a_channel_axis(images):
    X = images[0][:, 0] * 0 + images[0][:, 0]  # (n, 8, 8)
    result = compare(np.repeat(np.repeat(X, 3, 1), 3, 2), code_sizes=[4], estimator=_conv())
    assert result.X_train.shape[1:] == (1, 24, 24)


def test_compare_conv_spatial_code_meets_pca_with_as_many_components(images):
    result = compare(images[0], estimator=_conv(code_size=None, channels=(2,)))  # code map 2 x 4 x 4
    assert result.table["code_size"].tolist() == [32]
    assert result.models[32]["pca"].n_components_ == 32
    assert "32 values" in result.note and "PCA has 32 components" in result.note


def test_compare_conv_refuses_a_spatial_code_as_wide_as_the_image(images):
    with pytest.raises(InvalidInputError, match="not fewer than the 64"):
        compare(images[0], estimator=_conv(code_size=None, channels=(8,)))  # map 8 x 4 x 4 = 128 values


def test_compare_conv_default_code_meets_pca_at_its_width(images):
    # code_size='auto' on 8 x 8 images: a flat code of 16, a quarter of the pixels.
    result = compare(images[0], estimator=_conv())
    assert result.table["code_size"].tolist() == [16]
    assert result.models[16]["pca"].n_components_ == 16


@pytest.mark.parametrize(
    "X, match",
    [
        (np.random.default_rng(0).random((40, 5)), r"\(40, 5\) \(a flat table of rows\)"),
        (np.random.default_rng(0).random((40,)), "1-D data"),
    ],
)
def test_compare_conv_refuses_data_that_are_not_images(X, match):
    with pytest.raises(InvalidInputError, match=match):
        compare(X, estimator=_conv())


def test_compare_conv_refuses_a_restoration_task(images):
    with pytest.raises(InvalidInputError, match="task='denoise'"):
        compare(images[0], code_sizes=[4], estimator=_conv(task="denoise"))


def test_compare_conv_report_draws_every_row_on_the_data_range(comparison, monkeypatch):
    from hourglass.report import plots

    seen = []
    original = plots.reconstruction_grid

    def spy(rows, image_shape, value_range=None):
        seen.append((rows, image_shape, value_range))
        return original(rows, image_shape, value_range)

    monkeypatch.setattr(plots, "reconstruction_grid", spy)
    report = comparison_report(comparison, "digits")
    assert len(seen) == 2
    for rows, image_shape, value_range in seen:
        assert image_shape == (1, 8, 8) and value_range == (0.0, 1.0)
        assert list(rows)[0] == "original" and list(rows)[2].startswith("PCA")
        assert all(r.min() >= 0 and r.max() <= 1 for r in rows.values())  # PCA clipped for display
    assert "samples of shape 1 x 8 x 8" in report.subtitle


def test_compare_conv_is_reachable_from_the_package(images):
    assert hourglass.compare is compare
