"""``task='super_resolve'`` on gray images ``(n, h, w)``, as the other tasks take them."""

from __future__ import annotations

import numpy as np
import skimage.data

from hourglass import ConvAutoEncoder


def _camera_patches(size: int) -> np.ndarray:
    """25 gray ``size`` x ``size`` patches of scikit-image's camera, (n, h, w) in [0, 1]."""
    camera = skimage.data.camera()[::4, ::4].astype(np.float32) / 255  # 128 x 128
    corners = [(i, j) for i in range(0, 112, 24) for j in range(0, 112, 24)]
    return np.stack([camera[i : i + size, j : j + size] for i, j in corners])


def test_super_resolve_reads_small_gray_patches_as_images():
    # (n, 16, 16) was read as 16-channel series and refused: "needs images (n, c, h, w) to upscale".
    patches = _camera_patches(16)
    model = ConvAutoEncoder(
        task="super_resolve", channels=4, epochs=1, random_state=0, device="cpu", verbose=0
    ).fit(patches)
    assert model.input_shape_ == (1, 16, 16)
    low = patches[:, ::2, ::2]
    upscaled = np.asarray(model.apply(low))  # gray (n, h, w) too
    assert upscaled.shape == (len(patches), 1, 16, 16)
    assert np.isfinite(upscaled).all()


def test_reconstruct_still_reads_a_narrow_3d_array_as_series():
    series = _camera_patches(16)[:, :4, :]  # (n, 4, 16): 4 channels of 16 steps
    model = ConvAutoEncoder(epochs=1, channels=4, random_state=0, device="cpu", verbose=0).fit(series)
    assert model.input_shape_ == (4, 16)
