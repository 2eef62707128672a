"""Colorization: chroma predicted at reduced resolution on the exact luminance, on real photos."""

import numpy as np
import pytest
import torch
from skimage import data, transform
from sklearn.datasets import load_sample_images

from hourglass import ConvAutoEncoder, InvalidInputError
from hourglass.nn.config import ConvConfig
from hourglass.nn.model import build_model
from hourglass.train.restoration import grayscale, quality
from hourglass.train.tasks import luma


def _photo(image: np.ndarray, factor: float) -> np.ndarray:
    small = transform.rescale(image, factor, channel_axis=-1, anti_aliasing=True)
    return np.ascontiguousarray(small.transpose(2, 0, 1), dtype=np.float32)


def _patches(photos, n, size, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        img = photos[i % len(photos)]
        y, x = rng.integers(0, img.shape[1] - size + 1), rng.integers(0, img.shape[2] - size + 1)
        out.append(img[:, y : y + size, x : x + size])
    return np.stack(out)


@pytest.mark.parametrize("subsampling", [1, 2, 4])
def test_colorize_model_keeps_the_luminance_of_any_size(subsampling):
    config = ConvConfig(
        input_shape=(3, 30, 29), channels=(4, 8), skip_connections=True, residual=True, chroma=True,
        chroma_subsampling=subsampling,
    )  # fmt: skip
    model = build_model(config)
    torch.nn.init.normal_(model.decoder.output.weight)  # some colour, not the gray start
    x = torch.rand(2, 3, 30, 29)
    out = model(x)["reconstruction"]
    assert out.shape == x.shape
    assert config.network_shape == (3, -(-30 // subsampling), -(-29 // subsampling))
    torch.testing.assert_close(luma(out), luma(x), atol=1e-5, rtol=0)


def test_colorize_model_works_on_the_shrunk_image():
    config = ConvConfig(input_shape=(3, 32, 32), channels=(4,), skip_connections=True, chroma=True,
                        chroma_subsampling=4)  # fmt: skip
    outputs = build_model(config).layer_outputs(torch.rand(1, 3, 32, 32))
    assert outputs["encoder.block1"].shape[2:] == (4, 4)  # 32 / 4, halved by the block's pooling
    assert outputs["reconstruction"].shape[2:] == (32, 32)


@pytest.mark.parametrize("subsampling", [0, -1])
def test_colorize_rejects_a_bad_subsampling(subsampling):
    X = np.random.default_rng(0).random((8, 3, 16, 16)).astype(np.float32)
    ae = ConvAutoEncoder(task="colorize", chroma_subsampling=subsampling, channels=(4,), epochs=1)
    with pytest.raises(InvalidInputError, match=f"chroma_subsampling={subsampling}"):
        ae.fit(X)


def test_colorize_subsampling_needs_chroma():
    with pytest.raises(InvalidInputError, match="chroma_subsampling=2 must be 1"):
        ConvConfig(input_shape=(3, 16, 16), chroma_subsampling=2)


def test_colorize_default_is_subsampled_and_round_trips(tmp_path):
    X = np.random.default_rng(0).random((16, 3, 16, 16)).astype(np.float32)
    ae = ConvAutoEncoder(task="colorize", channels=(4,), epochs=1, random_state=0, verbose=0).fit(X)
    assert ae.architecture_.chroma_subsampling == ae.chroma_subsampling > 1
    ae.save(tmp_path / "m")
    from hourglass import load

    again = load(tmp_path / "m")
    photo = np.random.default_rng(1).random((3, 21, 35)).astype(np.float32)
    np.testing.assert_array_equal(again.apply_image(photo), ae.apply_image(photo))


def test_colorize_takes_a_gray_photo_and_keeps_its_luminance():
    ae = ConvAutoEncoder(task="colorize", channels=(4,), epochs=1, random_state=0, verbose=0)
    ae.fit(np.random.default_rng(0).random((16, 3, 16, 16)).astype(np.float32))
    gray = _photo(data.camera()[..., None], 0.1)[0] * 0.6 + 0.2  # (h, w), away from the clip bounds
    out = ae.apply_image(gray)
    assert out.shape == (3, *gray.shape)
    np.testing.assert_allclose(luma(torch.from_numpy(out)[None])[0, 0], gray, atol=1e-5)


def test_colorize_trained_briefly_on_photos_beats_gray_on_an_unseen_one():
    # Coffee and a Chinese temple teach warm browns, the cat (never trained on) is orange.
    sample = load_sample_images()
    train = [_photo(data.coffee(), 0.5), _photo(sample.images[0], 0.4)]
    ae = ConvAutoEncoder(
        task="colorize", channels=(8, 16), epochs=3, batch_size=16, random_state=0, device="cpu", verbose=0
    ).fit(_patches(train, 256, 64))
    cat = _photo(data.chelsea(), 0.5)
    gain = quality(cat, ae.apply_image(cat))["psnr"] - quality(cat, grayscale(cat))["psnr"]
    assert gain > 1.0


def test_colorize_from_a_folder_cuts_patches_the_subsampling_shrinks_to_64(tmp_path):
    from PIL import Image

    for name in ("coffee", "chelsea"):
        Image.fromarray(getattr(data, name)()).save(tmp_path / f"{name}.png")
    ae = ConvAutoEncoder(task="colorize", chroma_subsampling=2, channels=(4,), epochs=1, verbose=0)
    ae.fit(tmp_path)
    assert ae.input_shape_ == (3, 128, 128)
    assert ae.architecture_.network_shape == (3, 64, 64)
