"""Defects a probe found as a user meets them: shapes kept, messages that name the real cause."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, load_sample_images

from hourglass import AutoEncoder, ConvAutoEncoder, DataFileError, InvalidInputError, VariationalAutoEncoder
from hourglass.uses import compression
from hourglass.uses.clustering import cluster
from hourglass.uses.restoration import bicubic_upscale, make_low_resolution


def _china(size: int = 32) -> np.ndarray:
    """The top-left corner of scikit-learn's china photo, ``(3, size, size)`` in [0, 1]."""
    return np.ascontiguousarray(load_sample_images().images[0][:size, :size].transpose(2, 0, 1) / 255.0)


def test_low_resolution_keeps_the_channels_of_a_batch_and_of_a_gray_image():
    # A batch (1, 3, h, w) came back (1, 1, h/2, w/2): its channels were shrunk as a third axis.
    image = _china()
    one = make_low_resolution(image, 2)
    assert one.shape == (3, 16, 16)
    batch = make_low_resolution(np.stack([image, image[::-1]]), 2)
    assert batch.shape == (2, 3, 16, 16)
    np.testing.assert_allclose(batch[0], one, atol=1e-6)
    assert make_low_resolution(image[0], 2).shape == (16, 16)  # (h, w): was (32, 16)
    np.testing.assert_allclose(make_low_resolution(image[0], 2), one[0], atol=1e-6)
    assert bicubic_upscale(batch, 2).shape == (2, 3, 32, 32)  # its pair: was (2, 6, 32, 32)
    np.testing.assert_allclose(bicubic_upscale(batch, 2)[0], bicubic_upscale(one, 2), atol=1e-6)
    with pytest.raises(InvalidInputError, match=r"shape \(1, 1, 3, 32, 32\); expected an image"):
        make_low_resolution(image[None, None], 2)


def test_a_colorizer_given_channels_last_says_so():
    china = _china(48).astype(np.float32)
    photos = np.stack([china[:, y : y + 16, x : x + 16] for y in (0, 16) for x in (0, 16, 32)])
    colorizer = ConvAutoEncoder(task="colorize", channels=(4,), epochs=1, random_state=0).fit(photos)
    last = np.moveaxis(_china(40), 0, -1)  # (40, 40, 3), as PIL, imageio and scikit-image give it
    for call, given in ((colorizer.apply_image, last), (colorizer.apply, last[None])):
        with pytest.raises(InvalidInputError) as caught:
            call(given)
        message = str(caught.value)
        assert "(40, 40, 3), channels last" in message and "np.moveaxis(image, -1, 0)" in message
        assert "40 channel(s)" not in message and "\n" not in message
    assert colorizer.apply_image(np.moveaxis(last, -1, 0)).shape == (3, 40, 40)


def test_an_empty_compressed_file_is_said_to_be_empty():
    with pytest.raises(DataFileError, match=r"empty \(0 bytes\)"):
        compression.read_header(b"")
    with pytest.raises(DataFileError, match="not an hourglass compressed file"):
        compression.read_header(b"PK\x03\x04")


def test_one_feature_is_said_to_be_incompressible_not_to_need_a_lower_code_size():
    one_column = load_iris().data[:, :1]
    with pytest.raises(InvalidInputError) as caught:
        AutoEncoder(code_size=1, epochs=1).fit(one_column)
    message = str(caught.value)
    assert "one-feature input cannot be compressed" in message and "narrower than the input" in message
    assert "lower code_size" not in message and "\n" not in message


class _Identity:
    """A fitted model whose codes are the data."""

    module_ = True

    def transform(self, X):
        return np.asarray(X)


def test_cluster_fallbacks_say_the_reason_without_repeating_their_key():
    # Breast cancer's first 2 principal components: one blob, where every representation drops
    # the spectral step; each value read "PCA codes: clustered ... on the PCA codes themselves".
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer()
    X = PCA(2, random_state=0).fit_transform(StandardScaler().fit_transform(data.data))
    result = cluster(_Identity(), X, labels=data.target, random_state=0)
    assert set(result.fallbacks) == {"hourglass codes", "PCA codes", "raw data"}
    for name, reason in result.fallbacks.items():
        assert name not in reason, reason
        assert reason.startswith("clustered without the spectral step") and "normalized cut" in reason


def test_vae_samples_come_as_inverse_transform_gives_rows():
    frame = load_iris(as_frame=True).data
    vae = VariationalAutoEncoder(code_size=2, epochs=2, random_state=0).fit(frame)
    assert isinstance(vae.sample(3, random_state=0), np.ndarray)  # the default output, as inverse_transform
    vae.set_output(transform="pandas")
    samples = vae.sample(3, random_state=0)
    assert type(samples) is type(vae.inverse_transform(np.zeros((1, 2), np.float32)))
    assert list(samples.columns) == list(frame.columns) and samples.shape == (3, 4)
