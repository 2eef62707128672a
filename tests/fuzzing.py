"""Fuzz the two readers of untrusted files under a memory limit, in a process of their own.

Run by ``tests/test_fuzz_readers.py`` as ``python tests/fuzzing.py KIND EXAMPLES``, KIND being
``compressed`` (:func:`hourglass.uses.compression.read_indices`) or ``model`` (``hourglass.load``
on a model folder). Once set up, the process caps its address space at what it maps plus
:data:`HEADROOM` (``RLIMIT_AS``), so an allocation a hostile file asks for fails here instead of
swapping the machine; hypothesis then feeds the reader damaged and forged files. Every file
must be refused with the project's own exception or decode correctly; anything else (a
``MemoryError`` included) fails hypothesis, which prints the smallest failing file. The last line
of stdout is a JSON summary: examples run, the peak resident memory above the baseline, the
slowest example and the time each bomb took to be refused.
"""

from __future__ import annotations

import base64
import json
import lzma
import os
import resource
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

#: Memory a reader may take beyond what the process maps once set up: the issue's ceiling.
HEADROOM = 600 * 2**20
#: A raw LZMA2 payload (our filters) of 2 GiB of zeros, itself xz-compressed: 536 bytes stand for
#: the 312 KB payload, which took minutes to make.
LZMA_BOMB_XZ = (
    "/Td6WFoAAATm1rRGAgAhARwAAAAQz1jM5MRwAdZdAH/gQAJZf508EcG2t1Fb4mHVVLrqG3VGL/l9CLbGutwUzlrDPVywzz/Z"
    "v8ihAVEmvoKhTluhghg77Tun1tGS2JZIiEmdUPG50PzvJbK2R7uwlTwQijoQHSzMXsYvpN1AeYyQ5gwMtUli9COQ+B7lng61"
    "1e9LxsnW4TpHnX0Zws/zA3DWvQUAEjlIlCtFs6ewzLx0jMYX1OVFO2phv2l+OjX48PMuslGT8MXsdjsbGZ2xaPhAjKBOCm7F"
    "zj09dOr8woBoTjUpJmRr8HwDdnPyFptHXCRY4vC1iRCmiBvaKHwFsnGNKZzZb3OSg1HpMAG/IRdpJB13fYjffYM+PjlL3BmK"
    "01cAGP5GakxcyHgdwoZJKyLK9S4qIj/aaE08T8VzAN0El3SiWIijnQS7jaM/1ZuaKnFHAJZ03G/QMBSEpUysVt9Lgk/JZcKI"
    "QIMeDHwcCN7jpwvxKPn0TLB3sRH+1uDIkFUWQEGV3dtkGZuPxuO+Cp4gSDNFGiMPSXZSlevzVAVEQV0IvBITaNLfYLxtLlCi"
    "EWaoivVBZ9QQcanvGe1aGx8Z1WGiqQurWDozn6UVAaXoowkq7Kr/WiascgwWkqe+JvlIsKORUSHT1L9Os7XEgGZAAAAAAAAA"
    "vGd+fGF4dbcAAfID8YgTAHdsvGyxxGf7AgAAAAAEWVo="
)
#: Samples and grid of the fuzzed compressed files, and the fingerprint the reader expects.
GRID = (2, 3)
FINGERPRINT = bytes(range(16))


def _resident() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cap_address_space() -> None:
    with open("/proc/self/statm", encoding="ascii") as f:
        mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (mapped + HEADROOM, resource.RLIM_INFINITY))


# -- compressed files -------------------------------------------------------------------------
def forge(coder_id: int, n_samples: int, grid, payload: bytes, length: int | None = None, version=1) -> bytes:
    """A compressed file with any header fields and a valid CRC (a CRC is no authentication)."""
    from hourglass.uses import compressed_file as c

    head = c._FIXED.pack(c.MAGIC, version, coder_id, FINGERPRINT, n_samples, len(grid))
    head += struct.pack(f"<{len(grid)}I", *grid)
    length = len(payload) if length is None else length
    crc = zlib.crc32(payload, zlib.crc32(head + struct.pack("<I", length)))
    return head + c._TAIL.pack(length, crc) + payload


def bombs() -> dict[str, tuple[str, bytes]]:
    """``{name: (coder, payload)}``: a payload of each coder that inflates to 2 GiB or more.

    zlib's: after the first 16 MiB of zeros, DEFLATE's output for each further 16 MiB is the same
    bytes, so the 2 MB payload is made from two calls. range's and raw's: a few words whose header
    announces 2**31 indices (those coders decode as many symbols as asked, from any words).
    """
    chunk = bytes(2**24)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first, repeat = deflate.compress(chunk), deflate.compress(chunk)
    return {
        "zlib": ("zlib", first + repeat * 127 + deflate.flush()),
        "lzma": ("lzma", lzma.decompress(base64.b64decode(LZMA_BOMB_XZ))),
        "range": ("range", np.arange(16, dtype="<u4").tobytes()),
        "raw": ("raw", bytes(64)),
    }


def valid_files(coders) -> list[tuple[str, int, np.ndarray, np.ndarray, bytes]]:
    """``(coder, n_codes, prior, indices, payload)`` of good files, made before the memory cap
    (LZMA's encoder at our preset takes 670 MB; its decoder 70)."""
    from hourglass.uses import compression as c

    rng = np.random.default_rng(0)
    pool = []
    for coder in coders:
        for n_codes in (16, 300):
            for prior in (np.ones(n_codes), np.r_[1e6, np.full(n_codes - 1, 0.5)]):
                for n in (0, 1, 5):
                    skewed = prior[0] > 1
                    indices = (rng.random((n, *GRID)) < 0.2) * rng.integers(0, n_codes, (n, *GRID))
                    indices = (indices if skewed else rng.integers(0, n_codes, (n, *GRID))).astype(np.int32)
                    pool.append(
                        (coder, n_codes, prior, indices, c.encode_payload(indices, n_codes, prior, coder))
                    )
    return pool


def compressed_files(pool, bomb_payloads):
    from hourglass.uses import compression as c

    @st.composite
    def files(draw):
        coder, n_codes, prior, indices, payload = draw(st.sampled_from(pool))
        coder_id = c.CODERS.index(coder)
        good = forge(coder_id, len(indices), GRID, payload)
        how = draw(st.sampled_from(["none", "flip", "truncate", "header", "payload", "length", "bomb"]))
        if how == "flip":
            at = draw(st.integers(0, len(good) - 1))
            data = good[:at] + bytes([good[at] ^ (1 << draw(st.integers(0, 7)))]) + good[at + 1 :]
        elif how == "truncate":
            data = good[: draw(st.integers(0, len(good) - 1))]
        elif how == "header":
            grid = draw(st.sampled_from([GRID, (3, 2), (2, 3, 1), (), (2**32 - 1, 2**32 - 1)]))
            data = forge(
                draw(st.integers(0, 255)),
                draw(st.integers(0, 2**32 - 1)),
                grid,
                payload,
                version=draw(st.sampled_from([1, 1, 1, 0, 2, 255])),
            )
        elif how == "payload":
            data = forge(coder_id, draw(st.integers(0, 2**32 - 1)), GRID, draw(st.binary(max_size=256)))
        elif how == "length":
            data = forge(coder_id, len(indices), GRID, payload, length=draw(st.integers(0, 2**32 - 1)))
        elif how == "bomb":
            bomb_coder, bomb = bomb_payloads[draw(st.sampled_from(sorted(bomb_payloads)))]
            count = draw(st.sampled_from([6, 6 * 1000, c.MAX_INDICES, 2**31]))
            data = forge(c.CODERS.index(bomb_coder), count // 6, GRID, bomb)
        else:
            data = good
        return data, how, indices, n_codes, prior

    return files()


def fuzz_compressed(examples: int) -> dict:
    from hourglass.exceptions import DataFileError
    from hourglass.uses import compression as c

    coders = [name for name in c.CODERS if name != "range" or c.has_range_coder()]
    bomb_payloads = {k: v for k, v in bombs().items() if v[0] in coders}
    pool = valid_files(coders)
    for coder, n_codes, prior, indices, payload in pool:  # also warms up each decoder before the cap
        decoded = c.read_indices(forge(c.CODERS.index(coder), len(indices), GRID, payload), FINGERPRINT, GRID,
                                 n_codes, prior)  # fmt: skip
        assert np.array_equal(decoded, indices)
    _cap_address_space()
    base, stats = _resident(), {"examples": 0, "refused": 0, "slowest_s": 0.0}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(compressed_files(pool, bomb_payloads))
    def check(case):
        data, how, indices, n_codes, prior = case
        tic = time.perf_counter()
        try:
            decoded = c.read_indices(data, FINGERPRINT, GRID, n_codes, prior)
        except DataFileError:
            stats["refused"] += 1
            decoded = None
        stats["examples"] += 1
        stats["slowest_s"] = max(stats["slowest_s"], time.perf_counter() - tic)
        if how == "none":
            assert decoded is not None and np.array_equal(decoded, indices)
        if decoded is not None:
            assert decoded.shape[1:] == GRID and (decoded.size == 0 or decoded.max() < n_codes)

    check()
    # The bombs again, each alone and timed: refused, whatever count the header announces.
    bomb_seconds = {}
    for name, (coder, payload) in bomb_payloads.items():
        worst = 0.0
        # range and raw decode as many symbols as asked: 6 of them are a good file, not a bomb.
        for count in (6, c.MAX_INDICES, 2**31) if coder in ("zlib", "lzma") else (c.MAX_INDICES, 2**31):
            tic = time.perf_counter()
            try:
                c.read_indices(forge(c.CODERS.index(coder), count // 6, GRID, payload), FINGERPRINT, GRID,
                               16, np.ones(16))  # fmt: skip
                raise AssertionError(f"the {name} bomb with {count} indices decoded")
            except DataFileError:
                worst = max(worst, time.perf_counter() - tic)
        bomb_seconds[name] = round(worst, 3)
    return {**stats, "peak_above_baseline_mb": (_resident() - base) / 2**20, "bomb_seconds": bomb_seconds}


# -- model folders ----------------------------------------------------------------------------
_DTYPES = ["F32", "F64", "F16", "BF16", "I64", "I32", "I8", "U8", "BOOL", "F8_E4M3", "C64", "STR"]


def _write_safetensors(path: Path, header: dict, data: bytes) -> None:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def _read_safetensors(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def model_cases(names: list[str]):
    @st.composite
    def cases(draw):
        how = draw(st.sampled_from(["none", "shape", "dtype", "offsets", "flip", "truncate", "config"]))
        edit = {"how": how, "tensor": draw(st.sampled_from(names))}
        if how == "shape":
            edit["shape"] = draw(st.lists(st.sampled_from([0, 1, 3, 8, 2**31, 2**40, 2**62]), max_size=4))
        elif how == "dtype":
            edit["dtype"] = draw(st.sampled_from(_DTYPES))
        elif how == "offsets":
            edit["offsets"] = [draw(st.integers(0, 2**64 - 1)), draw(st.integers(0, 2**64 - 1))]
        elif how in ("flip", "truncate"):
            edit["file"] = draw(st.sampled_from(["weights.safetensors", "config.json"]))
            edit["at"] = draw(st.floats(0, 1))
            edit["bit"] = draw(st.integers(0, 7))
        elif how == "config":
            edit["key"] = draw(st.sampled_from(["code_size", "input_dim", "hidden_layers", "n_features_in_"]))
            edit["value"] = draw(st.sampled_from([0, 1, 3, 7, 2**20, 2**40, -1, [8, 8], "8", None]))
        return edit

    return cases()


def _apply(folder: Path, edit: dict) -> None:
    weights, config = folder / "weights.safetensors", folder / "config.json"
    how = edit["how"]
    if how in ("shape", "dtype", "offsets"):
        header, data = _read_safetensors(weights)
        entry = header[edit["tensor"]]
        if how == "shape":
            entry["shape"] = edit["shape"]
        elif how == "dtype":
            entry["dtype"] = edit["dtype"]
        else:
            entry["data_offsets"] = edit["offsets"]
        _write_safetensors(weights, header, data)
    elif how in ("flip", "truncate"):
        path = folder / edit["file"]
        raw = path.read_bytes()
        at = min(len(raw) - 1, int(edit["at"] * len(raw)))
        path.write_bytes(
            raw[:at]
            if how == "truncate"
            else raw[:at] + bytes([raw[at] ^ (1 << edit["bit"])]) + raw[at + 1 :]
        )
    elif how == "config":
        data = json.loads(config.read_text())
        for part in (data["architecture"], data["fitted"]):
            if edit["key"] in part:
                part[edit["key"]] = edit["value"]
        config.write_text(json.dumps(data))


def fuzz_model(examples: int) -> dict:
    import shutil

    import hourglass
    from hourglass import AutoEncoder, HourglassError

    X = np.random.default_rng(0).random((64, 8), dtype=np.float32)
    work = Path(tempfile.mkdtemp(prefix="hg-fuzz-"))
    AutoEncoder(code_size=2, hidden_layers=(4,), epochs=1, verbose=0, random_state=0, device="cpu").fit(
        X
    ).save(work / "good")
    names = sorted(_read_safetensors(work / "good" / "weights.safetensors")[0])
    names.remove("__metadata__") if "__metadata__" in names else None
    hourglass.load(work / "good").transform(X[:2])  # warm up torch's allocator and kernels
    _cap_address_space()
    base, stats = _resident(), {"examples": 0, "refused": 0, "slowest_s": 0.0}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(model_cases(names))
    def check(edit):
        folder = work / "case"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(work / "good", folder)
        _apply(folder, edit)
        tic = time.perf_counter()
        try:
            hourglass.load(folder, device="cpu").transform(X[:2])
        except HourglassError:
            stats["refused"] += 1
            assert edit["how"] != "none"
        stats["examples"] += 1
        stats["slowest_s"] = max(stats["slowest_s"], time.perf_counter() - tic)

    try:
        check()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {**stats, "peak_above_baseline_mb": (_resident() - base) / 2**20}


if __name__ == "__main__":
    kind, examples = sys.argv[1], int(sys.argv[2])
    summary = fuzz_compressed(examples) if kind == "compressed" else fuzz_model(examples)
    print(json.dumps(summary))
