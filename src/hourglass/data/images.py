"""Image files for the convolutional models: load one, list a folder lazily, save one.

Arrays are channels-first float32 ``(c, h, w)`` in [0, 1], as torch's conv layers want them.
Sizes are ``(height, width)``, like array shapes (Pillow's own order is the reverse).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from hourglass.choices import MODES
from hourglass.data.fileio import atomic_path, check_writable
from hourglass.exceptions import DataFileError, InvalidInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
FITS = ("resize", "crop")
# A restoration's JPEG keeps the detail and colour it restored: Pillow's defaults (quality 75,
# 4:2:0 chroma subsampling) blur both. The other formats are lossless, 8 bits per channel.
_JPEG = {"quality": 95, "subsampling": 0}
#: Pillow's format and save options for each suffix an image is written with.
SAVE_FORMATS = {
    ".png": ("PNG", {}),
    ".jpg": ("JPEG", _JPEG),
    ".jpeg": ("JPEG", _JPEG),
    ".bmp": ("BMP", {}),
    ".tif": ("TIFF", {}),
    ".tiff": ("TIFF", {}),
    ".webp": ("WEBP", {"lossless": True}),
}
# Errors Pillow raises for a file it cannot decode (truncated, not an image, a decompression bomb).
_PIL_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def _check_options(size, mode: str, fit: str) -> tuple[int, int] | None:
    if mode not in MODES:
        raise InvalidInputError(f"mode={mode!r} is not supported; expected one of {MODES}")
    if fit not in FITS:
        raise InvalidInputError(f"fit={fit!r} is not supported; expected one of {FITS}")
    if size is None:
        return None
    pair = tuple(size) if isinstance(size, tuple | list) else ()
    if len(pair) != 2 or any(not isinstance(s, int | np.integer) or s < 1 for s in pair):
        raise InvalidInputError(f"size={size!r} is not valid; expected (height, width), two positive ints")
    return int(pair[0]), int(pair[1])


def _to_array(img: Image.Image, mode: str, path: Path) -> np.ndarray:
    """Pixels of an open image as float32 (c, h, w) in [0, 1]."""
    if img.mode == "F":
        # Floating-point pixels (a TIFF) carry no scale: Pillow's convert() rounds them to 0-255
        # integers, which made values in [0, 1] black. Kept as they are when in [0, 1].
        arr = np.asarray(img, dtype=np.float32)[None]
        low, high = (float(np.nanmin(arr)), float(np.nanmax(arr))) if arr.size else (0.0, 0.0)
        if not (0.0 <= low and high <= 1.0):
            raise InvalidInputError(
                f"image {str(path)!r} holds floating-point pixels in [{low:.4g}, {high:.4g}]; expected "
                "values in [0, 1]: rescale it, or save it as an 8- or 16-bit image"
            )
        return np.repeat(arr, 3, axis=0) if mode == "RGB" else arr
    if img.mode.startswith("I;16") or img.mode == "I":
        # Pillow clips 16-bit grayscale to 255 when converting to "L": scale it ourselves.
        arr = np.clip(np.asarray(img, dtype=np.float32) / 65535, 0, 1)[None]  # (1, h, w)
        return np.repeat(arr, 3, axis=0) if mode == "RGB" else arr
    arr = np.asarray(img.convert(mode), dtype=np.float32) / 255
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)  # (h, w, c) -> (c, h, w)


def _fit(img: Image.Image, size: tuple[int, int], fit: str, path: Path) -> Image.Image:
    height, width = size
    if fit == "resize":
        return img if img.size == (width, height) else img.resize((width, height), Image.Resampling.BILINEAR)
    if img.width < width or img.height < height:
        raise InvalidInputError(
            f"image {str(path)!r} is {img.height}x{img.width}, smaller than size {height}x{width} "
            "needed by fit='crop'; use fit='resize' or a smaller size"
        )
    left, top = (img.width - width) // 2, (img.height - height) // 2
    return img.crop((left, top, left + width, top + height))


def load_image(
    path: str | os.PathLike, size: tuple[int, int] | None = None, mode: str = "RGB", fit: str = "resize"
) -> np.ndarray:
    """Read an image file as a float32 array ``(c, h, w)`` with values in [0, 1].

    Parameters
    ----------
    path : str or PathLike
        Any image Pillow reads (PNG, JPEG, BMP, TIFF, WebP, ...).
    size : (int, int), optional
        ``(height, width)`` to return; None keeps the image's own size.
    mode : {"RGB", "L"}, default="RGB"
        Colour (3 channels) or grayscale (1 channel).
    fit : {"resize", "crop"}, default="resize"
        Stretch the image to ``size``, or cut the centre out (the image must be at least as large).

    Returns
    -------
    ndarray of float32, shape (c, h, w)

    Raises
    ------
    DataFileError
        If the file is missing or not a readable image.
    InvalidInputError
        If ``mode``, ``fit`` or ``size`` is not valid, or the image is smaller than ``size``
        with ``fit="crop"``.

    Examples
    --------
    >>> load_image("cat.jpg", size=(64, 64)).shape  # doctest: +SKIP
    (3, 64, 64)
    """
    size = _check_options(size, mode, fit)
    path = Path(path)
    try:
        with Image.open(path) as img:
            # Phone photos store their rotation as an EXIF tag; apply it so "up" is up.
            img = ImageOps.exif_transpose(img)
            if size is not None:
                img = _fit(img, size, fit, path)
            return _to_array(img, mode, path)
    except FileNotFoundError:
        raise DataFileError(f"no such image file: {str(path)!r}") from None
    except InvalidInputError:
        raise
    except _PIL_ERRORS as exc:
        raise DataFileError(f"could not read image {str(path)!r}: {exc}") from None


def _check_file(path: Path, size: tuple[int, int] | None, fit: str) -> str | None:
    """Why ``path`` cannot be used (None if it looks fine), without decoding all its pixels."""
    try:
        with Image.open(path) as img:
            width, height = img.size
            img.verify()
    except _PIL_ERRORS as exc:
        return f"not a readable image: {exc}"
    if fit == "crop" and size is not None and (height < size[0] or width < size[1]):
        return f"{height}x{width} is smaller than size {size[0]}x{size[1]} needed by fit='crop'"
    return None


#: Largest difference between the red, green and blue channels (in [0, 1]) of an image that
#: still counts as gray: JPEG rounding of a gray image stays within one or two levels of 255.
GRAY_TOLERANCE = 2.5 / 255
#: EXIF orientations that turn a photo a quarter (its width becomes its height).
_QUARTER_TURNS = (5, 6, 7, 8)


def check_photos(paths, patch_size: tuple[int, int]) -> None:
    """Check, from their headers, that every photo can be read and holds a ``patch_size`` patch.

    Restoration models train on patches cut from the photos by DataLoader workers; checking
    here names the first bad file before any training instead of failing mid-epoch.

    Raises
    ------
    DataFileError
        If a file is not a readable image.
    InvalidInputError
        If a photo is smaller than ``patch_size`` ``(height, width)``.

    Examples
    --------
    >>> check_photos(sorted(Path("photos").glob("*.jpg")), (64, 64))  # doctest: +SKIP
    """
    for path in paths:
        path = Path(path)
        why = _check_file(path, None, "resize")
        if why is not None:
            raise DataFileError(f"image {str(path)!r} is {why}; expected photos Pillow can read")
        with Image.open(path) as img:
            width, height = img.size
            if img.getexif().get(0x0112) in _QUARTER_TURNS:
                width, height = height, width
        if height < patch_size[0] or width < patch_size[1]:
            raise InvalidInputError(
                f"image {str(path)!r} is {height}x{width}, smaller than the {patch_size[0]}x{patch_size[1]} "
                "training patches (image_size); expected photos at least that large, or a smaller image_size"
            )


#: Headers read by :func:`folder_notice`: enough to describe a folder, quick for one of millions.
NOTICE_SAMPLE = 1000
#: Pillow modes that hold one channel: converting them to "L" drops no colour.
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def _shown_size(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _images(n: int, of: str, kind: str = "") -> str:
    """``'1 image'``, ``'4 colour images'``, ``'3 of the first 1000 images'``."""
    return f"{n}{of} {kind}image" + ("" if n == 1 and not of else "s")


def folder_notice(paths, size: tuple[int, int] | None, mode: str) -> str | None:
    """What reading ``paths`` at ``size`` in ``mode`` changes, in words, from the files' headers.

    Returns ``'resized 4 images to 64x64 (sizes 512x512 to 600x400)'``, ``'converted 3 colour
    images to gray'``, both joined by ``and``, or None when every image is read as it is. Only
    the first :data:`NOTICE_SAMPLE` files are looked at, and the words then say so.

    Examples
    --------
    >>> folder_notice(sorted(Path("photos").glob("*.png")), (64, 64), "RGB")  # doctest: +SKIP
    'resized 4 images to 64x64 (sizes 512x512 to 600x400)'
    """
    paths = list(paths)
    checked = paths[:NOTICE_SAMPLE]
    other_sizes: list[tuple[int, int]] = []
    coloured = 0
    for path in checked:
        try:
            with Image.open(path) as img:
                width, height = img.size
                if img.getexif().get(0x0112) in _QUARTER_TURNS:
                    width, height = height, width
                coloured += mode == "L" and img.mode not in _GRAY_MODES
        except _PIL_ERRORS:
            continue  # a bad file is reported, by name, when it is read
        if size is not None and (height, width) != tuple(size):
            other_sizes.append((height, width))
    of = f" of the first {len(checked)}" if len(paths) > len(checked) else ""
    changes = []
    if other_sizes:
        smallest = min(other_sizes, key=lambda s: (s[0] * s[1], s))
        largest = max(other_sizes, key=lambda s: (s[0] * s[1], s))
        sizes = (
            f"all {_shown_size(smallest)}"
            if smallest == largest
            else f"sizes {_shown_size(smallest)} to {_shown_size(largest)}"
        )
        changes.append(f"resized {_images(len(other_sizes), of)} to {_shown_size(size)} ({sizes})")
    if coloured:
        changes.append(f"converted {_images(coloured, of, 'colour ')} to gray")
    return " and ".join(changes) or None


def is_gray(image: np.ndarray) -> bool:
    """Whether a ``(3, ...)`` image (or ``(n, 3, ...)`` batch) is gray: its channels are equal.

    RGB files of gray photos hold three equal channels (up to JPEG rounding, within
    :data:`GRAY_TOLERANCE`); a single-channel image is gray too.

    Examples
    --------
    >>> is_gray(np.full((3, 4, 4), 0.5)), is_gray(np.eye(3)[:, :, None])
    (True, False)
    """
    arr = np.asarray(image, dtype=np.float32)
    axis = 0 if arr.ndim == 3 else 1
    if arr.shape[axis] == 1:
        return True
    spread = arr.max(axis=axis) - arr.min(axis=axis)
    return bool(spread.max(initial=0.0) <= GRAY_TOLERANCE)


def first_colour_photo(paths) -> Path | None:
    """The first of ``paths`` whose pixels are not all gray, or None when every one is gray.

    Reads each photo at a reduced size (JPEG decodes at 1/8 scale), in order, stopping at the
    first with colour, so a colour folder costs one photo.

    Examples
    --------
    >>> first_colour_photo(sorted(Path("photos").glob("*.jpg")))  # doctest: +SKIP
    PosixPath('photos/beach.jpg')
    """
    for path in paths:
        with Image.open(path) as img:
            if img.mode in ("1", "L", "LA", "I", "I;16", "F"):
                continue
            img.draft("RGB", (256, 256))
            img.thumbnail((256, 256))
            if not is_gray(np.asarray(img.convert("RGB"), np.float32).transpose(2, 0, 1) / 255):
                return Path(path)
    return None


class ImageFolder(torch.utils.data.Dataset):
    """The images under a folder, loaded one at a time as ``(c, h, w)`` float32 tensors.

    Files are listed once, recursively and sorted, so indices are reproducible; pixels are read
    only in ``__getitem__``, so a folder larger than memory can still be trained on. Hidden files
    and folders (names starting with ".", such as macOS "._x.jpg" companions) are left out.

    Parameters
    ----------
    root : str or PathLike
        The folder to search for .png, .jpg, .jpeg, .bmp, .tif, .tiff and .webp files.
    size : (int, int) or None, default=(64, 64)
        ``(height, width)`` of every item; None keeps each image's own size.
    mode : {"RGB", "L"}, default="RGB"
    fit : {"resize", "crop"}, default="resize"
        See :func:`load_image`.
    skip_bad : bool, default=False
        Check every file now (``PIL.Image.verify``) and leave out those that fail, recording
        them in ``skipped``. If False, a bad file raises when it is first loaded.

    Attributes
    ----------
    paths : list of Path
        The images, in index order.
    skipped : list of (Path, str)
        Files left out by ``skip_bad``, with the reason.

    Examples
    --------
    >>> images = ImageFolder("photos/", size=(32, 32))  # doctest: +SKIP
    >>> loader = torch.utils.data.DataLoader(images, batch_size=16, shuffle=True)  # doctest: +SKIP
    """

    def __init__(self, root, size=(64, 64), mode: str = "RGB", fit: str = "resize", skip_bad: bool = False):
        self.root = Path(root)
        self.size = _check_options(size, mode, fit)
        self.mode, self.fit, self.skip_bad = mode, fit, skip_bad
        if not self.root.is_dir():
            what = "not a folder" if self.root.exists() else "no such folder"
            raise DataFileError(f"{what}: {str(self.root)!r}; expected a folder of images")
        self.paths = _list_images(self.root)
        self.skipped: list[tuple[Path, str]] = []
        if skip_bad:
            reasons = {p: _check_file(p, self.size, fit) for p in self.paths}
            self.skipped = [(p, why) for p, why in reasons.items() if why is not None]
            self.paths = [p for p, why in reasons.items() if why is None]
        if not self.paths:
            extra = f" ({len(self.skipped)} bad file(s) skipped)" if self.skipped else ""
            raise DataFileError(
                f"no images in {str(self.root)!r}{extra}; expected files ending in "
                f"{', '.join(IMAGE_SUFFIXES)}"
            )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(load_image(self.paths[index], self.size, self.mode, self.fit))

    def to_array(self, max_items: int | None = None) -> np.ndarray:
        """Load the first ``max_items`` images (all if None) into one ``(n, c, h, w)`` float32 array.

        Examples
        --------
        >>> ImageFolder("photos/", size=(32, 32)).to_array(10).shape  # doctest: +SKIP
        (10, 3, 32, 32)
        """
        if max_items is not None and (not isinstance(max_items, int) or max_items < 1):
            raise InvalidInputError(f"max_items={max_items!r} is not valid; expected a positive int or None")
        paths = self.paths[:max_items]
        arrays = [load_image(p, self.size, self.mode, self.fit) for p in paths]
        for path, arr in zip(paths, arrays, strict=True):
            if arr.shape != arrays[0].shape:
                raise InvalidInputError(
                    f"image {str(path)!r} is {arr.shape}, unlike {str(paths[0])!r} {arrays[0].shape}; "
                    "pass size=(height, width) to give them all one size"
                )
        return np.stack(arrays)


def _list_images(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]  # prune hidden folders
        found += [
            Path(dirpath, f)
            for f in filenames
            if not f.startswith(".") and f.lower().endswith(IMAGE_SUFFIXES)
        ]
    # Sort on the path relative to root so that the order is the same on every machine.
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def save_image(path: str | os.PathLike, array, force: bool = False) -> Path:
    """Write a ``(c, h, w)`` or ``(h, w)`` array with values in [0, 1] as an 8-bit image, atomically.

    Values outside [0, 1] are clipped (a decoder without a final sigmoid overshoots a little);
    ``c`` is 1 (grayscale) or 3 (RGB); the suffix of ``path`` picks the format (:data:`SAVE_FORMATS`):
    PNG, TIFF, BMP or WebP, lossless, or JPEG at quality 95 without chroma subsampling (4:4:4).

    Raises
    ------
    InvalidInputError
        If the shape, the suffix, or a NaN or infinite value makes the array unwritable.
    OutputExistsError
        If ``path`` exists and ``force`` is False.

    Examples
    --------
    >>> save_image("recon.png", np.zeros((3, 8, 8)), force=True)  # doctest: +SKIP
    PosixPath('recon.png')
    """
    path = Path(path)
    fmt, options = SAVE_FORMATS.get(path.suffix.lower(), (None, {}))
    if fmt is None:
        raise InvalidInputError(f"cannot save image {str(path)!r}: expected a suffix in {list(SAVE_FORMATS)}")
    arr = np.asarray(array, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[0] in (1, 3):
        arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)  # (c, h, w) -> (h, w[, c])
    elif arr.ndim != 2:
        raise InvalidInputError(
            f"image array for {str(path)!r} has shape {arr.shape}; expected (h, w), (1, h, w) or (3, h, w)"
        )
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"image array for {str(path)!r} holds NaN or infinite values")
    pixels = np.round(np.clip(arr, 0, 1) * 255).astype(np.uint8)
    check_writable(path, force)
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format=fmt, **options)
    return path
