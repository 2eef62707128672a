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
import json
import math
from typing import Any

import numpy as np

from hourglass.data.memory import check_fits_in_memory
from hourglass.exceptions import InvalidInputError
from hourglass.exceptions import with_article as _a
from hourglass.uses.codec_metrics import CompressionReport, psnr
from hourglass.uses.compressed_file import (
    MAGIC,
    VERSION,
    Header,
    file_bytes,
    pack_header,
    read_header,
    read_indices,
)
from hourglass.uses.entropy_coding import (
    CODERS,
    DEFLATE_MAX_RATIO,
    LZMA_MAX_RATIO,
    MAX_INDICES,
    PRIOR_PSEUDOCOUNT,
    RANGE_PRECISION_BITS,
    RANGE_SLACK_BITS,
    auto_coders,
    check_coder,
    check_count,
    decode_payload,
    encode_payload,
    has_range_coder,
    max_indices,
)


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
        check_coder(name)
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
    header = pack_header(coder, model_fingerprint(model), len(indices), model.grid_shape_, payload)
    return header + payload


def decompress_indices(model: Any, data: Any) -> np.ndarray:
    """The index grids (n, *grid) a compressed file holds, after checking it was made by ``model``.

    ``data`` is the file's bytes, as any bytes-like object (see :func:`decompress`).
    """
    check_codec_model(model)
    return read_indices(
        data, model_fingerprint(model), model.grid_shape_, model.n_codes_, model.index_prior()
    )


def decompress(model: Any, data: Any) -> np.ndarray:
    """The reconstruction a compressed file decodes to under ``model``: ``(n, *input_shape_)``.

    The same as ``model.reconstruct(X)`` for the ``X`` that was compressed (bit for bit on the
    same device). ``data`` is the file's bytes: ``bytes``, ``bytearray``, ``memoryview`` or a
    1-D ``uint8`` array (``Path(file).read_bytes()``, ``np.fromfile(file, np.uint8)``).

    Raises
    ------
    DataFileError
        If ``data`` is not a file of ``model`` or is damaged (see :func:`decompress_indices`).
    InvalidInputError
        If ``data`` is not bytes-like (a path, say), or if the decoded samples would not fit
        in the memory available.
    """
    indices = decompress_indices(model, data)
    values = len(indices) * math.prod(model.input_shape_)
    check_fits_in_memory(4 * values, f"{len(indices)} decoded samples of shape {tuple(model.input_shape_)}")
    return model.decode_indices(indices)


def compression_report(model: Any, X: np.ndarray, data: Any) -> CompressionReport:
    """Bytes in and out, bits per pixel and per value, and the PSNR of ``data`` (from ``X``)."""
    data = file_bytes(data)
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
    # Written here before the file format, the coders and the measures had modules of their own.
    "DEFLATE_MAX_RATIO",
    "LZMA_MAX_RATIO",
    "MAGIC",
    "MAX_INDICES",
    "PRIOR_PSEUDOCOUNT",
    "RANGE_PRECISION_BITS",
    "RANGE_SLACK_BITS",
    "VERSION",
]
