"""Entropy coders of a VQ model's indices, and the limits a hostile payload is held to.

The payload of a compressed file (:mod:`hourglass.uses.compression`) is one of :data:`CODERS`
over the indices: a range coder driven by the model's index prior, LZMA2, raw DEFLATE, or the
packed indices as they are. Decoding checks the count a header announces against what the
payload can hold before anything is allocated.
"""

from __future__ import annotations

import importlib.util
import lzma
import math
import zlib
from typing import Any

import numpy as np

from hourglass.exceptions import DataFileError, InvalidInputError

CODERS = ("range", "lzma", "zlib", "raw")
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


def check_coder(coder: str) -> None:
    """Raise unless ``coder`` is one of :data:`CODERS` and can run here."""
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
    check_coder(coder)
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
    check_coder(coder)
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
