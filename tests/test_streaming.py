"""Data larger than memory: streamed fits, tables converted chunk by chunk, outputs written batch
by batch, and the bad files that streaming meets.

Every test lowers ``hourglass.data.sources.IN_MEMORY_BYTES`` so that files of a few KB take the
streamed path that a file of gigabytes would.
"""

import gc

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import assert_one_line_error, run
from hourglass import AutoEncoder
from hourglass.data import loading, sources
from hourglass.data.loading import load_data
from hourglass.estimators import predicting as estimator_module
from hourglass.exceptions import DataFileError, InvalidInputError

FAST_FIT = ["--code-size", "2", "--hidden", "8", "--epochs", "2", "--device", "cpu", "--quiet"]


@pytest.fixture
def streamed(monkeypatch):
    """Everything above 64 bytes of float32 is streamed; tables convert 16 rows at a time."""
    monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 64)
    monkeypatch.setattr(loading, "TABLE_CHUNK_ROWS", 16)


def weights(ae):
    return {k: v.detach().cpu().numpy() for k, v in ae.module_.state_dict().items()}


def visible(folder):
    return sorted(p.name for p in folder.iterdir())


# -- fit -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", ["unit_data", "real_data"])
def test_streamed_fit_equals_in_memory_fit(make_ae, tmp_path, monkeypatch, request, data):
    X = request.getfixturevalue(data).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    in_memory = make_ae().fit(X)
    monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 64)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    ae = make_ae()
    assert isinstance(ae._input().training_source(ae, mapped), sources.NpyFileSource)
    streamed = make_ae().fit(mapped)
    for name, value in weights(in_memory).items():
        np.testing.assert_allclose(weights(streamed)[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(streamed.scaler_.offset, in_memory.scaler_.offset, rtol=1e-6)


def test_cli_fit_streams_a_large_npy_from_the_file(tmp_path, unit_data, monkeypatch, streamed):
    np.save(tmp_path / "x.npy", unit_data.astype(np.float32))

    def in_memory(*args):
        raise AssertionError("a streamed file was read into memory")

    # load_data hands the estimator a view of the map (np.asarray's), which must stream too.
    monkeypatch.setattr(sources.ArraySource, "training_data", in_memory)
    code, out, err = run("fit", tmp_path / "x.npy", "--out", tmp_path / "m", *FAST_FIT)
    assert code == 0, err


def test_streamed_memory_map_keeps_its_dtype_and_predicts_like_memory(make_ae, tmp_path, streamed):
    pixels = np.random.default_rng(0).integers(0, 256, size=(40, 6), dtype=np.uint8)
    np.save(tmp_path / "x.npy", pixels)
    mapped = load_data(tmp_path / "x.npy").X
    assert mapped.dtype == np.uint8  # converting would hold 4x the file in memory
    ae = make_ae().fit(pixels.astype(np.float32))
    np.testing.assert_allclose(ae.transform(mapped), ae.transform(pixels.astype(np.float32)), rtol=1e-6)


# -- tables --------------------------------------------------------------------------------------


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.random((50, 4)).astype(np.float32), columns=list("abcd"))
    frame.insert(0, "id", [f"row{i}" for i in range(50)])
    frame["kind"] = rng.integers(0, 3, 50)
    return frame


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_large_table_is_converted_chunk_by_chunk(tmp_path, table, monkeypatch, suffix):
    path = tmp_path / f"t{suffix}"
    table.to_parquet(path, row_group_size=16) if suffix == ".parquet" else table.to_csv(path, index=False)
    whole = load_data(path, drop=["id"], label="kind")
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 64)
    monkeypatch.setattr(loading, "TABLE_CHUNK_ROWS", 16)
    data = load_data(path, drop=["id"], label="kind", cache_dir=cache)
    assert sources.streams(data.X) and data.X.dtype == np.float32
    np.testing.assert_array_equal(data.X, whole.X)
    np.testing.assert_array_equal(data.y, whole.y)
    assert data.feature_names == whole.feature_names == list("abcd")
    assert len(visible(cache)) == 1
    del data
    gc.collect()
    assert visible(cache) == []  # the converted copy goes with the array


def test_a_semicolon_csv_with_decimal_commas_streams_as_it_loads(tmp_path, table, monkeypatch):
    path = tmp_path / "t.csv"
    table.drop(columns=["id"]).to_csv(path, sep=";", decimal=",", index=False)
    whole = load_data(path, label="kind")
    monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 64)
    monkeypatch.setattr(loading, "TABLE_CHUNK_ROWS", 16)
    data = load_data(path, label="kind", cache_dir=tmp_path)
    assert sources.streams(data.X)
    np.testing.assert_array_equal(data.X, whole.X)
    np.testing.assert_allclose(whole.X, table[list("abcd")].to_numpy(), rtol=1e-6)


def test_a_compressed_csv_streams_as_it_loads(tmp_path, table, monkeypatch):
    path = tmp_path / "t.csv.gz"
    table.to_csv(path, index=False)
    whole = load_data(path, drop=["id"], label="kind")
    assert not sources.streams(whole.X)
    monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 64)
    monkeypatch.setattr(loading, "TABLE_CHUNK_ROWS", 16)
    data = load_data(path, drop=["id"], label="kind", cache_dir=tmp_path)
    assert sources.streams(data.X)
    np.testing.assert_array_equal(data.X, whole.X)
    np.testing.assert_array_equal(data.y, table["kind"].to_numpy())
    np.testing.assert_allclose(whole.X, table[list("abcd")].to_numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "cell, match",
    [
        ("oops", r"column 'b' of 't\.csv' is not numeric \(e\.g\. 'oops'\) but of type"),
        ("nan", r"'t\.csv' holds 1 NaN or infinite value\(s\), the first in column 'b' at row 41"),
    ],
)
def test_table_conversion_that_fails_late_leaves_nothing(tmp_path, table, streamed, cell, match):
    frame = table.drop(columns=["id", "kind"]).astype(object)
    frame.iloc[41, 1] = cell  # in the third chunk of 16 rows
    frame.to_csv(tmp_path / "t.csv", index=False)
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(InvalidInputError, match=match):
        load_data(tmp_path / "t.csv", cache_dir=cache)
    assert visible(cache) == []


@pytest.mark.parametrize("large", [False, True])
def test_parquet_text_column_is_named_with_its_type(tmp_path, table, monkeypatch, large):
    table.to_parquet(tmp_path / "t.parquet")
    if large:
        monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 64)
    with pytest.raises(InvalidInputError, match=r"column 'id' of 't\.parquet' is not numeric .*string"):
        load_data(tmp_path / "t.parquet", cache_dir=tmp_path)
    code, out, err = run("fit", tmp_path / "t.parquet", "--out", tmp_path / "m", *FAST_FIT)
    assert_one_line_error(code, out, err, "column 'id'", "string")
    assert visible(tmp_path) == ["t.parquet"]


def test_cli_fits_a_large_table_with_drop_and_label(tmp_path, table, streamed):
    table.to_parquet(tmp_path / "t.parquet", row_group_size=16)
    code, out, err = run(
        "fit", tmp_path / "t.parquet", "--out", tmp_path / "m", "--drop", "id", "--label", "kind", *FAST_FIT
    )
    assert code == 0, err
    assert visible(tmp_path) == ["m", "t.parquet"]


# -- outputs -------------------------------------------------------------------------------------


def test_transform_and_reconstruct_write_into_out(make_ae, unit_data, tmp_path, monkeypatch, streamed):
    X = unit_data.astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    ae = make_ae().fit(X)
    monkeypatch.setattr(estimator_module, "PREDICT_BATCH", 7)  # many batches, a short last one
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    out = np.lib.format.open_memmap(tmp_path / "r.npy", "w+", np.float32, X.shape)
    assert ae.reconstruct(mapped, out=out) is out
    np.testing.assert_allclose(np.load(tmp_path / "r.npy"), ae.reconstruct(X), rtol=1e-6)
    codes = np.empty((len(X), 2), np.float32)
    assert ae.transform(mapped, out=codes) is codes  # itself, not a view of it
    np.testing.assert_allclose(codes, ae.transform(X), rtol=1e-6)
    with pytest.raises(InvalidInputError, match=r"out has shape \(3, 2\); expected an array of shape"):
        ae.transform(mapped, out=np.empty((3, 2), np.float32))


@pytest.mark.parametrize("command", ["encode", "reconstruct"])
def test_cli_writes_npy_outputs_batch_by_batch(make_ae, unit_data, tmp_path, monkeypatch, streamed, command):
    X = unit_data.astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    ae = make_ae().fit(X)
    ae.save(tmp_path / "m")
    monkeypatch.setattr(estimator_module, "PREDICT_BATCH", 7)
    written = []
    monkeypatch.setattr(estimator_module, "release_pages", lambda a: written.append(isinstance(a, np.memmap)))
    code, out, err = run(command, tmp_path / "m", tmp_path / "x.npy", "-o", tmp_path / "out.npy")
    assert code == 0, err
    assert "batch by batch" in out and sum(written) == 10  # one write per batch of 7 rows
    expected = ae.transform(X) if command == "encode" else ae.reconstruct(X)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-6)


def test_cli_output_failing_midway_keeps_the_old_file(make_ae, unit_data, tmp_path, monkeypatch, streamed):
    X = unit_data.astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    make_ae().fit(X).save(tmp_path / "m")
    np.save(tmp_path / "out.npy", np.arange(3))
    monkeypatch.setattr(estimator_module, "PREDICT_BATCH", 7)
    written = []

    def out_of_memory_after_two_batches(array):
        written.append(array)
        if len(written) == 3:
            raise MemoryError("Unable to allocate 7.45 GiB for an array")

    monkeypatch.setattr(estimator_module, "release_pages", out_of_memory_after_two_batches)
    code, out, err = run(
        "reconstruct", tmp_path / "m", tmp_path / "x.npy", "-o", tmp_path / "out.npy", "--force"
    )
    assert_one_line_error(code, out, err, "out of memory", ".npy file is memory-mapped")
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), np.arange(3))
    assert visible(tmp_path) == ["m", "out.npy", "x.npy"]  # no temporary left either


def test_cli_report_and_compare_use_a_stated_sample(tmp_path, unit_data, monkeypatch, streamed):
    monkeypatch.setattr(sources, "SAMPLE_ROWS", 20)
    np.save(tmp_path / "x.npy", unit_data.astype(np.float32))
    code, out, err = run(
        "fit", tmp_path / "x.npy", "--out", tmp_path / "m", "--report", tmp_path / "r", *FAST_FIT[:-1]
    )
    assert code == 0, err
    assert "20 rows drawn at random (seed 0) of 64" in out
    assert "20 rows drawn at random" in (tmp_path / "r" / "report.html").read_text()
    code, out, err = run("compare", tmp_path / "x.npy", "--code-sizes", "2", "--epochs", "1")
    assert code == 0, err
    assert "20 rows drawn at random (seed 0) of 64" in out


# -- bad files -----------------------------------------------------------------------------------


def truncated_npy(path):
    np.save(path, np.zeros((10, 4), np.float32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # the header still says (10, 4)
    return path


def test_truncated_npy_is_one_line(tmp_path):
    path = truncated_npy(tmp_path / "x.npy")
    with pytest.raises(DataFileError, match=r"'.*x\.npy' is 248 bytes but its header describes .* truncated"):
        load_data(path)
    assert_one_line_error(*run("fit", path, "--out", tmp_path / "m", *FAST_FIT), "truncated")
    assert visible(tmp_path) == ["x.npy"]


@pytest.mark.parametrize(
    "array, match",
    [
        (np.array([["a", "b"], ["c", "d"]]), r"has dtype <U1; expected numbers"),
        (np.ones((4, 2), np.complex64), r"has dtype complex64; expected numbers"),
    ],
)
def test_non_numeric_npy_is_one_line(tmp_path, streamed, array, match):
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(InvalidInputError, match=match):
        load_data(tmp_path / "x.npy")
    with pytest.raises(InvalidInputError, match=match):
        AutoEncoder(code_size=1).fit(np.load(tmp_path / "x.npy", mmap_mode="r"))
    assert_one_line_error(*run("fit", tmp_path / "x.npy", "--out", tmp_path / "m", *FAST_FIT), "dtype")
    assert visible(tmp_path) == ["x.npy"]


def test_fortran_order_is_read_in_memory_but_refused_when_streamed(tmp_path, unit_data, monkeypatch):
    X = np.asfortranarray(unit_data.astype(np.float32))
    np.save(tmp_path / "x.npy", X)
    np.testing.assert_array_equal(load_data(tmp_path / "x.npy").X, X)  # small: a C copy in memory
    monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 64)
    with pytest.raises(InvalidInputError, match=r"Fortran \(column\) order.*expected C \(row\) order"):
        load_data(tmp_path / "x.npy")
    assert_one_line_error(
        *run("fit", tmp_path / "x.npy", "--out", tmp_path / "m", *FAST_FIT), "Fortran", "np.ascontiguousarray"
    )
    assert visible(tmp_path) == ["x.npy"]


def test_memory_error_suggests_the_streaming_path(tmp_path, unit_data, monkeypatch):
    np.save(tmp_path / "x.npy", unit_data.astype(np.float32))

    def out_of_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 2.19 GiB for an array with shape (700000, 784)")

    monkeypatch.setattr(loading, "check_finite", out_of_memory)
    code, out, err = run("fit", tmp_path / "x.npy", "--out", tmp_path / "m", *FAST_FIT)
    assert_one_line_error(code, out, err, "out of memory (2.19 GiB asked for)", "streamed above 512 MiB")
    assert visible(tmp_path) == ["x.npy"]


def test_row_blocks_release_a_memory_maps_pages(tmp_path, monkeypatch):
    np.save(tmp_path / "x.npy", np.arange(40, dtype=np.float32).reshape(10, 4))
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    released = []
    monkeypatch.setattr(sources, "release_pages", released.append)
    blocks = [block for _, block in sources.row_blocks(np.asarray(mapped), 3)]
    assert len(released) == 4 and not any(isinstance(b, np.memmap) for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks), mapped)
    assert torch.from_numpy(blocks[0]).shape == (3, 4)  # own, writable copies


def test_a_reshaped_memory_map_is_still_read_from_its_file(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4))
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    source = sources.NpyFileSource.from_memmap(mapped[:, None])  # gray images gain a channel axis
    assert source.sample_shape == (1, 3, 4)
    np.testing.assert_array_equal(source.read(np.array([1])), mapped[1:, None])
    assert sources.NpyFileSource.from_memmap(mapped[1:]) is None  # part of the file: not it
