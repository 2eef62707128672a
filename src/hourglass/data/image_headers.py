"""Image files as found in a folder, from their headers: listing, checks and notices.

Nothing here decodes a whole image except to confirm a JPEG that may be truncated; the pixels
are read by :mod:`hourglass.data.images`, which re-exports these names.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from PIL import Image

from hourglass.exceptions import DataFileError, InvalidInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# Errors Pillow raises for a file it cannot decode (truncated, not an image, a decompression bomb).
_PIL_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)
#: EXIF orientations that turn a photo a quarter (its width becomes its height).
_QUARTER_TURNS = (5, 6, 7, 8)
#: Headers read by :func:`folder_notice`: enough to describe a folder, quick for one of millions.
NOTICE_SAMPLE = 1000
#: Pillow modes that hold one channel: converting them to "L" drops no colour.
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
#: Pillow modes of more than 8 bits per channel (floating-point "F" aside).
HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
#: Pillow modes with an alpha channel; a palette or gray image may mark one colour transparent.
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
#: Bad files named in one error; the rest are counted.
_NAMED_BAD = 3
#: File types named in a notice; the rest are counted.
_NAMED_TYPES = 6


def has_transparency(img: Image.Image) -> bool:
    """Whether an open image has an alpha channel or a transparent colour (from its header)."""
    return img.mode in _ALPHA_MODES or img.info.get("transparency") is not None


def list_files(root: Path) -> tuple[list[Path], list[Path]]:
    """The images under ``root`` and the other files left out, each sorted; hidden ones are skipped.

    Symbolic links to folders are followed (a photo library linked in), each real folder once,
    so a link back up the tree does not loop.
    """
    root = Path(root)
    images: list[Path] = []
    others: list[Path] = []
    seen = {os.path.realpath(root)}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        visible = sorted(d for d in dirnames if not d.startswith("."))  # prune hidden folders
        # Real folders before links, so that a folder linked to from beside it keeps its own name.
        visible.sort(key=lambda d: os.path.islink(os.path.join(dirpath, d)))
        dirnames[:] = []
        for name in visible:
            real = os.path.realpath(os.path.join(dirpath, name))
            if real not in seen:
                seen.add(real)
                dirnames.append(name)
        for name in filenames:
            if not name.startswith("."):
                (images if name.lower().endswith(IMAGE_SUFFIXES) else others).append(Path(dirpath, name))
    # Sort on the path relative to root so that the order is the same on every machine.
    return sorted(images, key=lambda p: p.relative_to(root).parts), sorted(
        others, key=lambda p: p.relative_to(root).parts
    )


def _list_images(root: Path) -> list[Path]:
    return list_files(root)[0]


def other_types(others) -> str | None:
    """``'3 files of other types (.HEIC, .gif, .db)'`` for the files left out, or None for none."""
    others = list(others)
    if not others:
        return None
    counts = Counter(p.suffix.lower() or "no suffix" for p in others)
    shown = {p.suffix.lower() or "no suffix": p.suffix or "no suffix" for p in reversed(others)}
    ranked = sorted(counts, key=lambda s: (-counts[s], s))
    types = ", ".join(shown[s] for s in ranked[:_NAMED_TYPES])
    more = f" and {len(ranked) - _NAMED_TYPES} more" if len(ranked) > _NAMED_TYPES else ""
    return f"{len(others)} file{'' if len(others) == 1 else 's'} of other types ({types}{more})"


def _ends_like_jpeg(path: Path) -> bool:
    """Whether the file ends with JPEG's end-of-image marker (FF D9), as a complete JPEG does."""
    with open(path, "rb") as file:
        file.seek(max(path.stat().st_size - 2, 0))
        return file.read(2) == b"\xff\xd9"


def broken_link(path: Path) -> str | None:
    """``'a broken symbolic link to X'`` when ``path`` is a link to nothing, else None."""
    if path.is_symlink() and not path.exists():
        return f"a broken symbolic link to {os.readlink(path)!r}"
    return None


def _check_file(path: Path, size: tuple[int, int] | None, fit: str) -> str | None:
    """Why ``path`` cannot be used (None if it looks fine), without decoding all its pixels."""
    path = Path(path)
    try:
        why = broken_link(path)
        if why is not None:
            return why
        if path.stat().st_size == 0:
            return "empty (0 bytes)"
        with Image.open(path) as img:
            width, height = img.size
            fmt = img.format
            img.verify()
        # verify() reads no JPEG data: a truncated JPEG passed and failed once read. One without
        # its end marker is decoded to be sure (phones append videos and thumbnails after it).
        if fmt == "JPEG" and not _ends_like_jpeg(path):
            with Image.open(path) as img:
                img.load()
    except _PIL_ERRORS as exc:
        return f"not a readable image: {exc}"
    if fit == "crop" and size is not None and (height < size[0] or width < size[1]):
        return f"{height}x{width} is smaller than size {size[0]}x{size[1]} needed by fit='crop'"
    return None


def bad_files_message(bad: list[tuple[Path, str]]) -> str:
    """``'5 bad files: 'a' (why), 'b' (why), 'c' (why) and 2 more'``."""
    named = ", ".join(f"{str(path)!r} ({why})" for path, why in bad[:_NAMED_BAD])
    more = f" and {len(bad) - _NAMED_BAD} more" if len(bad) > _NAMED_BAD else ""
    return f"{len(bad)} bad file{'' if len(bad) == 1 else 's'}: {named}{more}"


def check_photos(paths, patch_size: tuple[int, int] | None) -> None:
    """Check, from their headers, that every photo can be read and holds a ``patch_size`` patch.

    Photos are read by DataLoader workers during training; checking here names the bad files,
    all of them in one line, before any training instead of failing mid-epoch on the first.

    Parameters
    ----------
    paths : iterable of path
    patch_size : (int, int) or None
        ``(height, width)`` every photo must hold; None checks only that they can be read.

    Raises
    ------
    DataFileError
        If files are not readable images: all of them are counted and the first few named.
    InvalidInputError
        If a photo is smaller than ``patch_size`` ``(height, width)``.

    Examples
    --------
    >>> check_photos(sorted(Path("photos").glob("*.jpg")), (64, 64))  # doctest: +SKIP
    """
    paths = [Path(p) for p in paths]
    reasons = ((path, _check_file(path, None, "resize")) for path in paths)
    bad = [(path, why) for path, why in reasons if why is not None]
    if bad:
        raise DataFileError(f"{bad_files_message(bad)}; expected photos Pillow can read")
    if patch_size is None:
        return
    for path in paths:
        with Image.open(path) as img:
            width, height = img.size
            if img.getexif().get(0x0112) in _QUARTER_TURNS:
                width, height = height, width
        if height < patch_size[0] or width < patch_size[1]:
            raise InvalidInputError(
                f"image {str(path)!r} is {height}x{width}, smaller than the {patch_size[0]}x{patch_size[1]} "
                "training patches (image_size); expected photos at least that large, or a smaller image_size"
            )


def _shown_size(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _images(n: int, of: str, kind: str = "") -> str:
    """``'1 image'``, ``'4 colour images'``, ``'3 of the first 1000 images'``."""
    return f"{n}{of} {kind}image" + ("" if n == 1 and not of else "s")


def _files(n: int, of: str, kind: str) -> str:
    """``'1 multi-page file'``, ``'3 of the first 1000 multi-page files'``."""
    return f"{n}{of} {kind} file" + ("" if n == 1 and not of else "s")


def header_counts(paths, mode: str) -> dict:
    """What the headers of ``paths`` say about reading them in ``mode``: their ``sizes`` (height,
    width), the ``transparent`` ones and the counts of ``coloured`` (in gray mode), ``multi_page``
    and ``high_bit`` (16-bit) files. Unreadable files are passed over: they are named when read."""
    counts: dict = {"sizes": [], "transparent": [], "coloured": 0, "multi_page": 0, "high_bit": 0}
    for path in paths:
        try:
            with Image.open(path) as img:
                width, height = img.size
                if img.getexif().get(0x0112) in _QUARTER_TURNS:
                    width, height = height, width
                counts["coloured"] += mode == "L" and img.mode not in _GRAY_MODES
                # A phone's MPO JPEG holds the photo and its previews: not pages left unread.
                counts["multi_page"] += img.format != "MPO" and getattr(img, "n_frames", 1) > 1
                counts["high_bit"] += img.mode in HIGH_BIT_MODES
                if has_transparency(img):
                    counts["transparent"].append(Path(path))
        except _PIL_ERRORS:
            continue  # a bad file is reported, by name, when it is read
        counts["sizes"].append((height, width))
    return counts


def folder_notice(paths, size: tuple[int, int] | None, mode: str, left_out=()) -> str | None:
    """What reading ``paths`` at ``size`` in ``mode`` changes, in words, from the files' headers.

    Returns ``'resized 4 images to 64x64 (sizes 512x512 to 600x400)'``, ``'converted 3 colour
    images to gray'``, ``'flattened 2 images with transparency onto white'``, ``'read only the
    first page of 1 multi-page file'`` and ``'left out 3 files of other types (.HEIC, .gif, .db)'``
    (for the files ``left_out``), those that apply listed with a final ``and``, or None when
    every image is read as it is. Only the first :data:`NOTICE_SAMPLE` files are looked at, and
    the words then say so.

    Examples
    --------
    >>> folder_notice(sorted(Path("photos").glob("*.png")), (64, 64), "RGB")  # doctest: +SKIP
    'resized 4 images to 64x64 (sizes 512x512 to 600x400)'
    """
    paths = list(paths)
    checked = paths[:NOTICE_SAMPLE]
    counts = header_counts(checked, mode)
    other_sizes = [s for s in counts["sizes"] if size is not None and s != tuple(size)]
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
    if counts["coloured"]:
        changes.append(f"converted {_images(counts['coloured'], of, 'colour ')} to gray")
    if counts["transparent"]:
        changes.append(f"flattened {_images(len(counts['transparent']), of)} with transparency onto white")
    if counts["multi_page"]:
        changes.append(f"read only the first page of {_files(counts['multi_page'], of, 'multi-page')}")
    others = other_types(left_out)
    if others is not None:
        changes.append(f"left out {others}")
    if not changes:
        return None
    return " and ".join([", ".join(changes[:-1]), changes[-1]] if len(changes) > 1 else changes)
