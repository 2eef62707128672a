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
from hourglass.data.image_headers import (
    _GRAY_MODES,
    _PIL_ERRORS,
    IMAGE_SUFFIXES,
    NOTICE_SAMPLE,
    _check_file,
    broken_link,
    check_photos,
    folder_notice,
    has_transparency,
    header_counts,
    list_files,
    other_types,
)
from hourglass.data.image_headers import (
    _list_images as _list_images,  # read by the commands
)
from hourglass.exceptions import DataFileError, InvalidInputError

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
#: Suffixes of the formats that hold an alpha channel (JPEG and BMP do not; BMP's is rarely read).
ALPHA_SUFFIXES = (".png", ".tif", ".tiff", ".webp")


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


def _check_float(img: Image.Image, path: Path) -> None:
    """Refuse floating-point pixels (a TIFF) that are not finite values in [0, 1], naming the file."""
    arr = np.asarray(img, dtype=np.float32)
    bad = int(arr.size - np.isfinite(arr).sum())
    if bad:
        # Read silently, a NaN pixel failed the fit later with no file named.
        raise InvalidInputError(
            f"image {str(path)!r} holds {bad} NaN or infinite pixel(s); expected finite values in [0, 1]"
        )
    low, high = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if not (0.0 <= low and high <= 1.0):
        raise InvalidInputError(
            f"image {str(path)!r} holds floating-point pixels in [{low:.4g}, {high:.4g}]; expected "
            "values in [0, 1]: rescale it, or save it as an 8- or 16-bit image"
        )


def _flatten(img: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """An image with transparency composited over white (as viewers show it), and its alpha."""
    if not has_transparency(img) or img.mode not in ("RGBA", "RGBa", "LA", "La", "PA", "P", "L", "RGB", "1"):
        return img, None
    # Dropping alpha showed the colour hidden under transparent pixels, often black.
    rgba = img.convert("RGBA")
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return flat.convert("L" if img.mode in _GRAY_MODES else "RGB"), rgba.getchannel("A")


def _to_array(img: Image.Image, mode: str, path: Path) -> np.ndarray:
    """Pixels of an open image as float32 (c, h, w) in [0, 1]."""
    if img.mode == "F":
        # Floating-point pixels (a TIFF) carry no scale: Pillow's convert() rounds them to 0-255
        # integers, which made values in [0, 1] black. Kept as they are (checked by _check_float),
        # copied: asarray gives a read-only view, which torch warns about.
        arr = np.array(img, dtype=np.float32)[None]
        return np.repeat(arr, 3, axis=0) if mode == "RGB" else arr
    if img.mode.startswith("I;16") or img.mode == "I":
        # Pillow clips 16-bit grayscale to 255 when converting to "L": scale it ourselves. Mode
        # "I" is also how Pillow opens 16-bit PNGs; beyond 16 bits it is 32-bit data, whose
        # values past 65535 were clipped to white without a word.
        raw = np.asarray(img, dtype=np.float64)
        low, high = (float(raw.min()), float(raw.max())) if raw.size else (0.0, 0.0)
        if low < 0 or high > 65535:
            raise InvalidInputError(
                f"image {str(path)!r} holds 32-bit integer pixels from {low:,.0f} to {high:,.0f}, "
                "outside the 16-bit range [0, 65535] it is read in; save it as a 16-bit image, or "
                "as a floating-point TIFF scaled to [0, 1]"
            )
        arr = (raw / 65535).astype(np.float32)[None]  # (1, h, w)
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

    Transparent pixels are composited over white, as viewers show them (their hidden colour is
    often black); a multi-page file gives its first page; 16-bit pixels keep their 16 bits.

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
        If the file is missing, empty, a broken link or not a readable image.
    InvalidInputError
        If ``mode``, ``fit`` or ``size`` is not valid, the image is smaller than ``size``
        with ``fit="crop"``, or its floating-point pixels are NaN, infinite or outside [0, 1].

    Examples
    --------
    >>> load_image("cat.jpg", size=(64, 64)).shape  # doctest: +SKIP
    (3, 64, 64)
    """
    return _read(path, size, mode, fit)[0]


def load_image_and_alpha(path: str | os.PathLike, mode: str = "RGB") -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`load_image` at the image's own size, and its alpha ``(h, w)`` in [0, 1] (None without).

    Examples
    --------
    >>> image, alpha = load_image_and_alpha("logo.png")  # doctest: +SKIP
    """
    return _read(path, None, mode, "resize")


def _read(path, size, mode: str, fit: str) -> tuple[np.ndarray, np.ndarray | None]:
    size = _check_options(size, mode, fit)
    path = Path(path)
    try:
        with Image.open(path) as img:
            # Phone photos store their rotation as an EXIF tag; apply it so "up" is up.
            img = ImageOps.exif_transpose(img)
            if img.mode == "F":
                _check_float(img, path)  # before resizing spreads a NaN
            img, alpha = _flatten(img)
            if size is not None:
                img = _fit(img, size, fit, path)
            return _to_array(img, mode, path), None if alpha is None else np.asarray(alpha, np.float32) / 255
    except FileNotFoundError:
        why = broken_link(path)
        what = f"image {str(path)!r} is {why}" if why else f"no such image file: {str(path)!r}"
        raise DataFileError(what) from None
    except InvalidInputError:
        raise
    except _PIL_ERRORS as exc:
        if path.is_file() and path.stat().st_size == 0:
            raise DataFileError(f"image {str(path)!r} is empty (0 bytes)") from None
        raise DataFileError(f"could not read image {str(path)!r}: {exc}") from None


#: Largest difference between the red, green and blue channels (in [0, 1]) of an image that
#: still counts as gray: JPEG rounding of a gray image stays within one or two levels of 255.
GRAY_TOLERANCE = 2.5 / 255


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
    and folders (names starting with ".", such as macOS "._x.jpg" companions) are left out; files
    of other types (.heic, .gif, Thumbs.db) are left out too, and listed in ``left_out``. Symbolic
    links to folders are followed, each real folder once.

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
        Check every file now (``PIL.Image.verify``; a JPEG without its end marker is decoded, so a
        truncated one is caught) and leave out those that fail, recording them in ``skipped``.
        If False, a bad file raises when it is first loaded.

    Attributes
    ----------
    paths : list of Path
        The images, in index order.
    skipped : list of (Path, str)
        Files left out by ``skip_bad``, with the reason.
    left_out : list of Path
        The files not read, of types other than those above.

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
        self.paths, self.left_out = list_files(self.root)
        self.skipped: list[tuple[Path, str]] = []
        if skip_bad:
            reasons = {p: _check_file(p, self.size, fit) for p in self.paths}
            self.skipped = [(p, why) for p, why in reasons.items() if why is not None]
            self.paths = [p for p, why in reasons.items() if why is None]
        if not self.paths:
            extra = f" ({len(self.skipped)} bad file(s) skipped)" if self.skipped else ""
            others = other_types(self.left_out)
            found = f"; it holds {others}" if others else ""
            raise DataFileError(
                f"no images in {str(self.root)!r}{extra}; expected files ending in "
                f"{', '.join(IMAGE_SUFFIXES)}{found}"
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


def save_image(
    path: str | os.PathLike, array, force: bool = False, alpha=None, icc_profile: bytes | None = None
) -> Path:
    """Write a ``(c, h, w)`` or ``(h, w)`` array with values in [0, 1] as an 8-bit image, atomically.

    Values outside [0, 1] are clipped (a decoder without a final sigmoid overshoots a little);
    ``c`` is 1 (grayscale) or 3 (RGB); the suffix of ``path`` picks the format (:data:`SAVE_FORMATS`):
    PNG, TIFF, BMP or WebP, lossless, or JPEG at quality 95 without chroma subsampling (4:4:4).
    ``alpha``, an ``(h', w')`` array in [0, 1] (resized to the image's size), is written as its
    alpha channel, in the formats of :data:`ALPHA_SUFFIXES`. ``icc_profile``, the colour profile
    of the image the array came from, is embedded where the format holds one (not BMP) and its
    colour space is the image's (RGB or gray): the values are in that profile's space, and
    without it a viewer reads a Display P3 phone photo as sRGB, its colours duller.

    Raises
    ------
    InvalidInputError
        If the shape, the suffix, or a NaN or infinite value makes the array unwritable, or
        ``alpha`` is given for a format without one (JPEG, BMP).
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
    pixels = Image.fromarray(np.round(np.clip(arr, 0, 1) * 255).astype(np.uint8))
    if alpha is not None:
        if path.suffix.lower() not in ALPHA_SUFFIXES:
            raise InvalidInputError(
                f"cannot save image {str(path)!r} with transparency: expected a suffix in "
                f"{list(ALPHA_SUFFIXES)}"
            )
        opacity = np.round(np.clip(np.asarray(alpha, np.float32), 0, 1) * 255).astype(np.uint8)
        channel = Image.fromarray(opacity)
        pixels = pixels.convert("RGBA" if pixels.mode == "RGB" or fmt == "WEBP" else "LA")
        pixels.putalpha(channel.resize(pixels.size, Image.Resampling.BILINEAR))
    if (
        icc_profile
        and fmt != "BMP"
        and _profile_space(icc_profile) == ("GRAY" if pixels.mode in ("L", "LA") else "RGB")
    ):
        options = {**options, "icc_profile": icc_profile}
    check_writable(path, force)
    with atomic_path(path) as tmp:
        pixels.save(tmp, format=fmt, **options)
    return path


def _profile_space(icc_profile: bytes) -> str:
    """The colour space an ICC profile describes ('RGB', 'GRAY', 'CMYK', ...: bytes 16-20 of its
    header), '' for bytes too short to be one."""
    return icc_profile[16:20].decode("ascii", "replace").strip() if len(icc_profile) >= 20 else ""


__all__ = [
    "ALPHA_SUFFIXES",
    "FITS",
    "GRAY_TOLERANCE",
    "IMAGE_SUFFIXES",
    "NOTICE_SAMPLE",
    "SAVE_FORMATS",
    "ImageFolder",
    "check_photos",
    "first_colour_photo",
    "folder_notice",
    "header_counts",
    "is_gray",
    "list_files",
    "load_image",
    "load_image_and_alpha",
    "other_types",
    "save_image",
]
