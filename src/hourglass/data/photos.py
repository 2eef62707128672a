"""Patches of photographs: data an autoencoder of digits has never seen, for out-of-distribution demos."""

from __future__ import annotations

import numpy as np

from hourglass.exceptions import InvalidInputError

#: Gray photographs shipped with scikit-image, used as "not digits" in the out-of-distribution demo.
PHOTOS = ("camera", "coins", "moon", "page", "text", "astronaut", "coffee", "chelsea", "rocket", "horse")


def photo_patches(n: int, size: int = 8, downscale: int = 4, random_state: int = 0) -> np.ndarray:
    """Random ``size`` x ``size`` gray patches of scikit-image's photos, in [0, 1], as rows.

    Photos are shrunk by ``downscale`` first, so a patch holds edges and texture at the scale
    of a whole digit rather than a few nearly flat pixels.

    Parameters
    ----------
    n : int
        Number of patches.
    size : int, default=8
        Side of a patch, in pixels.
    downscale : int, default=4
        Shrink factor applied to each photo before cutting patches.
    random_state : int, default=0
        Seed of the photo and position of each patch.

    Returns
    -------
    ndarray of shape (n, size * size), float32

    Examples
    --------
    >>> photo_patches(5).shape
    (5, 64)
    """
    from skimage import data as skdata
    from skimage.color import rgb2gray
    from skimage.transform import rescale
    from skimage.util import img_as_float

    if n < 1 or size < 1 or downscale < 1:
        raise InvalidInputError(
            f"photo_patches needs n, size and downscale >= 1; got {n}, {size}, {downscale}"
        )
    photos = []
    for name in PHOTOS:
        image = img_as_float(getattr(skdata, name)())
        if image.ndim == 3:
            image = rgb2gray(image[..., :3])
        photos.append(rescale(image, 1 / downscale, anti_aliasing=True))
    rng = np.random.default_rng(random_state)
    patches = np.empty((n, size * size), dtype=np.float32)
    for i in range(n):
        photo = photos[rng.integers(len(photos))]
        top = rng.integers(photo.shape[0] - size + 1)
        left = rng.integers(photo.shape[1] - size + 1)
        patches[i] = photo[top : top + size, left : left + size].ravel()
    return np.clip(patches, 0.0, 1.0)
