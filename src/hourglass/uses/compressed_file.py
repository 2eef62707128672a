"""The container of a compressed file: its header, and the reader that checks it.

::

    magic "HGVQ", format version (1 byte), coder (1 byte), model fingerprint (16 bytes),
    samples (4 bytes), grid rank (1 byte), grid sizes (4 bytes each),
    payload length (4 bytes), CRC-32 of all the above and the payload (4 bytes), payload

See :mod:`hourglass.uses.compression` for what the fingerprint ties the file to and why.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from hourglass.exceptions import DataFileError, InvalidInputError
from hourglass.uses.entropy_coding import CODERS, decode_payload

MAGIC = b"HGVQ"
VERSION = 1
_CODER_IDS = {name: i for i, name in enumerate(CODERS)}
_FIXED = struct.Struct("<4sBB16sIB")  # magic, version, coder, fingerprint, samples, grid rank
_TAIL = struct.Struct("<II")  # payload length, CRC-32


@dataclass(frozen=True)
class Header:
    """What a compressed file's header says."""

    coder: str
    fingerprint: bytes
    n_samples: int
    grid_shape: tuple[int, ...]
    payload_length: int
    crc32: int
    header_bytes: int


def pack_header(
    coder: str, fingerprint: bytes, n_samples: int, grid: tuple[int, ...], payload: bytes
) -> bytes:
    """The header of a file holding ``payload``: the inverse of :func:`read_header`."""
    head = _FIXED.pack(MAGIC, VERSION, _CODER_IDS[coder], fingerprint, n_samples, len(grid))
    head += struct.pack(f"<{len(grid)}I", *grid)
    crc = zlib.crc32(payload, zlib.crc32(head + struct.pack("<I", len(payload))))
    return head + _TAIL.pack(len(payload), crc)


def file_bytes(data: Any) -> bytes:
    """A compressed file's contents as ``bytes``, from any bytes-like object.

    ``bytes``, ``bytearray``, ``memoryview`` or a 1-D ``uint8`` array (``np.fromfile``) are the
    file's bytes; a path is not (it was read as bytes, and its text did not start with the
    magic bytes), nor is anything else.

    Raises
    ------
    InvalidInputError
        Naming the type given, when ``data`` is not bytes-like.

    Examples
    --------
    >>> file_bytes(np.frombuffer(b"HGVQ", np.uint8))
    b'HGVQ'
    """
    if isinstance(data, bytes):
        return data
    if isinstance(data, (str, os.PathLike)):
        path = str(data) if len(str(data)) <= 200 else str(data)[:200] + "..."
        raise InvalidInputError(
            f"data is the path {path!r} (a {type(data).__name__}); expected the file's bytes, e.g. "
            f"Path({path!r}).read_bytes()"
        )
    if isinstance(data, np.ndarray) and (data.dtype != np.uint8 or data.ndim != 1):
        raise InvalidInputError(
            f"data is a {data.ndim}-D {data.dtype} array; expected the file's bytes (bytes, or a 1-D "
            "uint8 array)"
        )
    try:
        return memoryview(data).tobytes()  # bytearray, memoryview, uint8 array, mmap, ...
    except TypeError:
        what = "None" if data is None else f"a {type(data).__name__}"
        raise InvalidInputError(
            f"data is {what}; expected the file's bytes (bytes, bytearray, memoryview or a "
            "1-D uint8 array), e.g. Path('images.hgvq').read_bytes()"
        ) from None


def read_header(data: Any) -> Header:
    """Parse and check a compressed file's header, its length and its CRC.

    ``data`` is the file's bytes, as any bytes-like object (see :func:`file_bytes`).

    Raises
    ------
    DataFileError
        If ``data`` is not such a file, is truncated, or does not match its CRC.
    InvalidInputError
        If ``data`` is not bytes-like (a path, say).
    """
    data = file_bytes(data)
    if not data:
        raise DataFileError("the file is empty (0 bytes); expected an hourglass compressed file")
    if data[:4] != MAGIC[: len(data[:4])]:
        raise DataFileError(
            "not an hourglass compressed file (it does not start with the 'HGVQ' magic bytes)"
        )
    if len(data) < _FIXED.size:
        raise DataFileError(f"the file is truncated: {len(data)} bytes, shorter than a header")
    magic, version, coder_id, fingerprint, n_samples, rank = _FIXED.unpack_from(data)
    if version != VERSION:
        raise DataFileError(
            f"compressed-file format version {version}; this hourglass reads version {VERSION}"
        )
    if coder_id >= len(CODERS):
        raise DataFileError(f"unknown coder id {coder_id} in the header; expected 0 to {len(CODERS) - 1}")
    size = _FIXED.size + 4 * rank + _TAIL.size
    if len(data) < size:
        raise DataFileError(f"the file is truncated: {len(data)} bytes, shorter than its {size}-byte header")
    grid = struct.unpack_from(f"<{rank}I", data, _FIXED.size)
    length, crc = _TAIL.unpack_from(data, _FIXED.size + 4 * rank)
    if len(data) - size != length:
        raise DataFileError(
            f"the file is truncated or has bytes appended: the header announces a {length}-byte payload, "
            f"the file holds {len(data) - size}"
        )
    head = data[: size - _TAIL.size]
    if zlib.crc32(data[size:], zlib.crc32(head + struct.pack("<I", length))) != crc:
        raise DataFileError("the file is corrupted: its CRC-32 does not match its contents")
    return Header(CODERS[coder_id], fingerprint, n_samples, tuple(grid), length, crc, size)


def read_indices(
    data: Any, fingerprint: bytes, grid_shape: tuple[int, ...], n_codes: int, prior: np.ndarray
) -> np.ndarray:
    """The index grids (n, *grid_shape) of a compressed file, checked against what its model says.

    The whole reader, with the model reduced to what it needs of one (its fingerprint, grid
    shape, codebook size and prior), so it can be tested on hostile files without a model.

    Raises
    ------
    DataFileError
        If ``data`` is damaged, was made by another model, or announces more indices than its
        payload can hold (see :func:`check_count`).
    """
    data = file_bytes(data)
    header = read_header(data)
    if header.fingerprint != fingerprint:
        raise DataFileError(
            f"the file was made by another model (fingerprint {header.fingerprint.hex()[:12]}, this model's "
            f"is {fingerprint.hex()[:12]}); decompress it with the model that compressed it"
        )
    if header.grid_shape != tuple(grid_shape):
        raise DataFileError(
            f"the file holds grids of {header.grid_shape}; this model's are {tuple(grid_shape)}"
        )
    count = header.n_samples * math.prod(header.grid_shape)
    indices = decode_payload(data[header.header_bytes :], count, n_codes, prior, header.coder)
    return indices.reshape(header.n_samples, *header.grid_shape)
