"""Compressed files of a :class:`~hourglass.VQAutoEncoder`'s codes, and what they cost.

A file holds the index grids of a batch of samples, entropy-coded, behind a small header::

    magic "HGVQ", format version (1 byte), coder (1 byte), model fingerprint (16 bytes),
    samples (4 bytes), grid rank (1 byte), grid sizes (4 bytes each),
    payload length (4 bytes), CRC-32 of all the above and the payload (4 bytes), payload

The fingerprint (SHA-256 of the architecture, the weights, the scaler and the coder's prior)
ties the file to the model that wrote it: the same indices decoded by another model would be
another image, so :func:`decompress` refuses them. The length and the CRC catch a truncated or
altered file. Every failure is one :class:`~hourglass.exceptions.DataFileError` line.

Coders (:data:`CODERS`), measured on Fashion-MNIST's test split in
``benchmarks/compression.py``:

* ``'range'``: a range coder (the maintained ``constriction`` package, an optional extra:
  ``pip install hourglass-ae[compress]``) driven by the model's own index histogram
  (``VQAutoEncoder.index_counts_``): the payload comes within a few bytes of the indices'
  entropy under that histogram, but sees no context.
* ``'lzma'``: the standard library's LZMA2 (raw stream, no container header) over the indices
  packed one per byte (two above 256 codes): no prior, but it finds repeats (a background's
  codes).

By default (``coder=None``) both are tried and the smaller file kept; without ``constriction``,
lzma alone.
* ``'zlib'``: raw DEFLATE, for comparison; ``'raw'``: the packed indices as they are.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import lzma
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from hourglass.data.memory import check_fits_in_memory
from hourglass.exceptions import DataFileError, InvalidInputError
from hourglass.exceptions import with_article as _a

MAGIC = b"HGVQ"
VERSION = 1
CODERS = ("range", "lzma", "zlib", "raw")
_CODER_IDS = {name: i for i, name in enumerate(CODERS)}
_FIXED = struct.Struct("<4sBB16sIB")  # magic, version, coder, fingerprint, samples, grid rank
_TAIL = struct.Struct("<II")  # payload length, CRC-32
#: LZMA2 at its strongest preset, as a raw stream: the .xz container would add ~60 bytes.
_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]
#: Pseudo-count added to every code of the prior, so that a code unseen in training still codes.
PRIOR_PSEUDOCOUNT = 0.5


def has_range_coder() -> bool:
    """Whether the optional ``constriction`` package (the range coder) is installed."""
    return importlib.util.find_spec("constriction") is not None


def auto_coders() -> tuple[str, ...]:
    """The coders ``coder=None`` tries, keeping the smaller file: range (when ``constriction`` is
    installed) and lzma."""
    return ("range", "lzma") if has_range_coder() else ("lzma",)


def check_codec_model(model: Any) -> None:
    """Raise unless ``model`` is a fitted VQAutoEncoder, the only estimator whose code is compressed."""
    from hourglass.estimators.vq import VQAutoEncoder

    if not isinstance(model, VQAutoEncoder):
        raise InvalidInputError(
            f"the model is {_a(type(model).__name__)}, whose code is real numbers; only a VQAutoEncoder's "
            "code of indices is compressed (train one with VQAutoEncoder or 'hourglass fit --arch vq')"
        )
    if not hasattr(model, "module_"):
        raise InvalidInputError("this VQAutoEncoder is not fitted yet; call fit before compressing")


def model_fingerprint(model: Any) -> bytes:
    """16 bytes that change with anything that changes the decoded images: SHA-256 of the
    architecture, every weight and buffer, the scaler and the coder's prior.

    Examples
    --------
    >>> model_fingerprint(vq).hex()  # doctest: +SKIP
    '5c1e...'
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(model.architecture_.to_dict(), sort_keys=True).encode())
    for name, tensor in sorted(model.module_.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    for array in (model.scaler_.offset, model.scaler_.scale, model.index_prior()):
        digest.update(np.ascontiguousarray(array, np.float64).tobytes())
    return digest.digest()[:16]


def _check_coder(coder: str) -> None:
    if coder not in CODERS:
        raise InvalidInputError(f"coder={coder!r}; expected one of {CODERS}")
    if coder == "range" and not has_range_coder():
        raise InvalidInputError(
            "coder='range' needs the constriction package (pip install 'hourglass-ae[compress]'); "
            "coder='lzma' needs nothing beyond the standard library"
        )


def _itemsize(n_codes: int) -> int:
    return 1 if n_codes <= 256 else 2


def _pack(indices: np.ndarray, n_codes: int) -> bytes:
    dtype = np.uint8 if n_codes <= 256 else np.dtype("<u2")
    return np.ascontiguousarray(indices.ravel(), dtype=dtype).tobytes()


def _unpack(data: bytes, count: int, n_codes: int) -> np.ndarray:
    dtype = np.uint8 if n_codes <= 256 else np.dtype("<u2")
    if len(data) != count * np.dtype(dtype).itemsize:
        raise DataFileError(f"the payload decodes to {len(data)} bytes; expected {count} indices")
    return np.frombuffer(data, dtype=dtype).astype(np.int32)


def _range_model(prior: np.ndarray):
    import constriction

    probabilities = _prior_probabilities(prior)
    return constriction.stream.model.Categorical(probabilities, perfect=False)


def _prior_probabilities(prior: np.ndarray) -> np.ndarray:
    probabilities = np.asarray(prior, np.float64) + PRIOR_PSEUDOCOUNT
    return probabilities / probabilities.sum()


# -- limits ---------------------------------------------------------------------------------------
# A file's header announces how many indices its payload holds (samples x grid cells). A crafted
# header can announce any number, and a crafted payload can inflate without end (a decompression
# bomb), so the count is checked against these limits before anything is allocated, and every
# coder stops decoding one symbol past it.
#: Indices in one file: 2**25 decode to 128 MB of int32 in well under a second; split larger batches.
MAX_INDICES = 2**25
#: Most bytes one payload byte can inflate to under raw DEFLATE: 258-byte matches coded in about
#: two bits (zlib's technical notes: "the limit is 1032:1").
DEFLATE_MAX_RATIO = 1032
#: The same under LZMA2 at our preset: measured 6,821:1 on 64 MiB of one repeated byte (the best
#: case, every symbol a repeat of the last match), with a margin of more than two.
LZMA_MAX_RATIO = 2**14
#: A range coder's precision (constriction's default): no symbol is coded in fewer bits than
#: ``-log2(1 - (n_codes - 1) / 2**24)`` however skewed the prior.
RANGE_PRECISION_BITS = 24
#: Bits a range coder may spend beyond the symbols' information content (its final state words).
RANGE_SLACK_BITS = 64


def max_indices(payload_length: int, coder: str, n_codes: int, prior: np.ndarray | None = None) -> int:
    """The most indices a payload of ``payload_length`` bytes can hold under ``coder``.

    A bound from the coder's best compression (see the limits above), never above
    :data:`MAX_INDICES`: a header announcing more is refused before anything is decoded.

    Examples
    --------
    >>> max_indices(100, "raw", 16)
    100
    >>> max_indices(100, "zlib", 16)
    103200
    """
    itemsize = _itemsize(n_codes)
    if coder == "raw":
        bound = payload_length // itemsize
    elif coder == "zlib":
        bound = DEFLATE_MAX_RATIO * payload_length // itemsize
    elif coder == "lzma":
        bound = LZMA_MAX_RATIO * payload_length // itemsize
    else:
        # Each symbol costs at least -log2(p_max) bits, p_max the prior's largest probability as
        # the coder quantizes it; twice that bound, for the quantization's rounding.
        p_max = 1.0 if prior is None or not len(prior) else float(_prior_probabilities(prior).max())
        floor = 1.0 - (n_codes - 1) / 2**RANGE_PRECISION_BITS
        p_max = min(p_max + 2.0**-RANGE_PRECISION_BITS, floor)
        min_bits = -math.log2(p_max) if p_max < 1 else 0.0
        bits = 8 * payload_length + RANGE_SLACK_BITS
        bound = MAX_INDICES if min_bits <= 0 else int(2 * bits / min_bits)
    return min(bound, MAX_INDICES)


def check_count(count: int, payload_length: int, coder: str, n_codes: int, prior: np.ndarray | None) -> None:
    """Raise DataFileError unless a payload of ``payload_length`` bytes can hold ``count`` indices."""
    if count > MAX_INDICES:
        raise DataFileError(
            f"the header announces {count} indices; a file holds at most {MAX_INDICES} "
            "(split larger batches into several files)"
        )
    most = max_indices(payload_length, coder, n_codes, prior)
    if count > most:
        raise DataFileError(
            f"the header announces {count} indices, but a {payload_length}-byte {coder} payload holds "
            f"at most {most}"
        )


def _inflate(decompressor: Any, payload: bytes, size: int, coder: str) -> bytes:
    """Inflate ``payload`` to exactly ``size`` bytes, stopping one byte past it (a bomb's end)."""
    out = decompressor.decompress(payload, size + 1)
    if len(out) > size:
        raise DataFileError(
            f"the {coder} payload inflates to more than the {size} bytes its header announces"
        )
    if not decompressor.eof:
        raise DataFileError(
            f"the {coder} payload is truncated: it ends after {len(out)} of the {size} bytes its header "
            "announces"
        )
    if decompressor.unused_data:
        raise DataFileError(f"the {coder} payload has {len(decompressor.unused_data)} bytes after its end")
    return out


def encode_payload(indices: np.ndarray, n_codes: int, prior: np.ndarray, coder: str) -> bytes:
    """Entropy-code ``indices`` (any shape, values in [0, n_codes)) with ``coder``.

    Examples
    --------
    >>> idx = np.array([0, 1, 1, 1, 2, 1])
    >>> payload = encode_payload(idx, 4, np.array([1.0, 10, 1, 1]), "zlib")
    >>> decode_payload(payload, 6, 4, np.array([1.0, 10, 1, 1]), "zlib").tolist()
    [0, 1, 1, 1, 2, 1]
    """
    _check_coder(coder)
    if coder == "range":
        import constriction

        encoder = constriction.stream.queue.RangeEncoder()
        encoder.encode(np.ascontiguousarray(indices.ravel(), np.int32), _range_model(prior))
        return encoder.get_compressed().astype("<u4").tobytes()
    packed = _pack(indices, n_codes)
    if coder == "lzma":
        return lzma.compress(packed, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
    if coder == "zlib":
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw DEFLATE: no zlib header
        return compressor.compress(packed) + compressor.flush()
    return packed


#: Indices a range decoder produces per call: its output grows in steps of 4 MB, not at once.
_RANGE_CHUNK = 2**20


def decode_payload(payload: bytes, count: int, n_codes: int, prior: np.ndarray, coder: str) -> np.ndarray:
    """Inverse of :func:`encode_payload`: ``count`` indices, int32.

    ``count`` is checked against the payload's length first (:func:`check_count`), and no coder
    produces more than ``count`` symbols, so a hostile payload costs at most the memory of
    ``count`` indices, whatever it would inflate to.

    Raises
    ------
    DataFileError
        If the payload cannot hold ``count`` indices, does not decode, decodes to another number
        of indices, or holds an index beyond the codebook.
    """
    _check_coder(coder)
    check_count(count, len(payload), coder, n_codes, prior)
    try:
        if coder == "range":
            import constriction

            if len(payload) % 4:
                raise DataFileError("the range-coded payload is not a whole number of 32-bit words")
            words = np.frombuffer(payload, "<u4").astype(np.uint32)
            decoder = constriction.stream.queue.RangeDecoder(words)
            model = _range_model(prior)
            indices = np.empty(count, np.int32)
            for start in range(0, count, _RANGE_CHUNK):
                stop = min(count, start + _RANGE_CHUNK)
                indices[start:stop] = decoder.decode(model, stop - start)
        elif coder == "lzma":
            inflater = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
            indices = _unpack(_inflate(inflater, payload, count * _itemsize(n_codes), coder), count, n_codes)
        elif coder == "zlib":
            inflater = zlib.decompressobj(-15)
            indices = _unpack(_inflate(inflater, payload, count * _itemsize(n_codes), coder), count, n_codes)
        else:
            indices = _unpack(payload, count, n_codes)
    # constriction refuses words its model cannot have written with an AssertionError.
    except (lzma.LZMAError, zlib.error, ValueError, RuntimeError, EOFError, AssertionError) as exc:
        if isinstance(exc, DataFileError):
            raise
        raise DataFileError(
            f"the {coder} payload does not decode: {' '.join(str(exc).split())[:120]}"
        ) from None
    if indices.size and (indices.min() < 0 or indices.max() >= n_codes):
        raise DataFileError(f"the payload holds indices beyond the codebook's {n_codes} codes")
    return indices


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


def _header_bytes(
    coder: str, fingerprint: bytes, n_samples: int, grid: tuple[int, ...], payload: bytes
) -> bytes:
    head = _FIXED.pack(MAGIC, VERSION, _CODER_IDS[coder], fingerprint, n_samples, len(grid))
    head += struct.pack(f"<{len(grid)}I", *grid)
    crc = zlib.crc32(payload, zlib.crc32(head + struct.pack("<I", len(payload))))
    return head + _TAIL.pack(len(payload), crc)


def read_header(data: bytes) -> Header:
    """Parse and check a compressed file's header, its length and its CRC.

    Raises
    ------
    DataFileError
        If ``data`` is not such a file, is truncated, or does not match its CRC.
    """
    if not data or data[:4] != MAGIC[: len(data[:4])]:
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


def compress(model: Any, X: Any, coder: str | None = None) -> bytes:
    """The compressed file (bytes) of samples ``X`` under a fitted ``VQAutoEncoder``.

    Parameters
    ----------
    model : VQAutoEncoder
        A fitted model; any other estimator is refused.
    X : array-like of shape (n, *model.input_shape_)
        Data shaped like the model's training data.
    coder : {'range', 'lzma', 'zlib', 'raw'} or None
        The entropy coder; None tries each of :func:`auto_coders` and keeps the smallest file
        (the header names the coder, so decompress needs no option).

    Returns
    -------
    bytes

    Examples
    --------
    >>> blob = compress(vq, X_test)                 # doctest: +SKIP
    >>> np.array_equal(decompress(vq, blob), vq.reconstruct(X_test))  # doctest: +SKIP
    True
    """
    check_codec_model(model)
    for name in (coder,) if coder is not None else ():
        _check_coder(name)
    indices = model.encode_indices(X)  # (n, *grid)
    if indices.size > MAX_INDICES:  # the reader would refuse the file: say so before writing it
        raise InvalidInputError(
            f"{len(indices)} samples of {indices[0].size} indices each; a file holds at most {MAX_INDICES} "
            f"indices, so at most {MAX_INDICES // max(1, indices[0].size)} samples: split X into batches"
        )
    prior = model.index_prior()
    payloads = {name: encode_payload(indices, model.n_codes_, prior, name) for name in (coder,) if name}
    if not payloads:
        payloads = {name: encode_payload(indices, model.n_codes_, prior, name) for name in auto_coders()}
    coder = min(payloads, key=lambda name: len(payloads[name]))
    payload = payloads[coder]
    header = _header_bytes(coder, model_fingerprint(model), len(indices), model.grid_shape_, payload)
    return header + payload


def read_indices(
    data: bytes, fingerprint: bytes, grid_shape: tuple[int, ...], n_codes: int, prior: np.ndarray
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


def decompress_indices(model: Any, data: bytes) -> np.ndarray:
    """The index grids (n, *grid) a compressed file holds, after checking it was made by ``model``."""
    check_codec_model(model)
    return read_indices(
        data, model_fingerprint(model), model.grid_shape_, model.n_codes_, model.index_prior()
    )


def decompress(model: Any, data: bytes) -> np.ndarray:
    """The reconstruction a compressed file decodes to under ``model``: ``(n, *input_shape_)``.

    The same as ``model.reconstruct(X)`` for the ``X`` that was compressed (bit for bit on the
    same device).

    Raises
    ------
    DataFileError
        If ``data`` is not a file of ``model`` or is damaged (see :func:`decompress_indices`).
    InvalidInputError
        If the decoded samples would not fit in the memory available.
    """
    indices = decompress_indices(model, data)
    values = len(indices) * math.prod(model.input_shape_)
    check_fits_in_memory(4 * values, f"{len(indices)} decoded samples of shape {tuple(model.input_shape_)}")
    return model.decode_indices(indices)


def psnr(truth: np.ndarray, approx: np.ndarray, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB over all values; the range is 1 for data in [0, 1].

    Examples
    --------
    >>> round(psnr(np.zeros(4), np.full(4, 0.1)), 2)
    20.0
    """
    truth = np.asarray(truth, np.float64)
    if data_range is None:
        lo, hi = float(truth.min()), float(truth.max())
        data_range = 1.0 if lo >= 0 and hi <= 1 else hi - lo
    mse = float(np.mean((truth - np.asarray(approx, np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(data_range**2 / mse)


@dataclass(frozen=True)
class CompressionReport:
    """Sizes and quality of one compression.

    Attributes
    ----------
    bytes_in : int
        The input's size as 8-bit values (one byte per pixel and channel), what an uncompressed
        8-bit image file would hold.
    bytes_out : int
        The compressed file's size, header included.
    bits_per_pixel : float
        ``8 * bytes_out`` per pixel (per spatial position, all channels together).
    bits_per_value : float
        ``8 * bytes_out`` per value (per pixel and channel).
    psnr : float
        Reconstruction PSNR in dB against the input.
    coder : str
    """

    bytes_in: int
    bytes_out: int
    bits_per_pixel: float
    bits_per_value: float
    psnr: float
    coder: str

    @property
    def ratio(self) -> float:
        return self.bytes_in / max(1, self.bytes_out)


def compression_report(model: Any, X: np.ndarray, data: bytes) -> CompressionReport:
    """Bytes in and out, bits per pixel and per value, and the PSNR of ``data`` (from ``X``)."""
    X = np.asarray(X)
    if X.ndim == len(model.input_shape_) and model.input_shape_[0] == 1:
        X = X[:, None]
    n_values = int(X.size)
    n_pixels = n_values // max(1, int(model.input_shape_[0]))
    recon = decompress(model, data)
    return CompressionReport(
        bytes_in=n_values,
        bytes_out=len(data),
        bits_per_pixel=8 * len(data) / max(1, n_pixels),
        bits_per_value=8 * len(data) / max(1, n_values),
        psnr=psnr(X, recon),
        coder=read_header(data).coder,
    )


__all__ = [
    "CODERS",
    "CompressionReport",
    "check_codec_model",
    "Header",
    "compress",
    "compression_report",
    "decode_payload",
    "decompress",
    "decompress_indices",
    "auto_coders",
    "check_count",
    "encode_payload",
    "has_range_coder",
    "max_indices",
    "model_fingerprint",
    "psnr",
    "read_header",
    "read_indices",
]
