import ast
import gzip
import re
import struct

import numpy as np
import pandas as pd
import pytest

from hourglass.data import loading as data_module
from hourglass.data.loading import (
    BUILTIN_DATASETS,
    Dataset,
    load_data,
    read_idx,
    save_array,
    validate_finite_2d,
)
from hourglass.exceptions import DataFileError, InvalidInputError, OutputExistsError

RNG = np.random.default_rng(0)
TABLE = RNG.normal(size=(6, 3)).astype(np.float32)
IDX_CODES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}


def write_idx(path, array, gz=False):
    """Write ``array`` in the IDX format by hand, independently of the reader under test."""
    array = np.asarray(array)
    code = IDX_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@pytest.fixture(scope="module")
def digits():
    return load_data("digits")


@pytest.fixture
def idx_folder(tmp_path):
    images = RNG.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(5, dtype=np.uint8), gz=True)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images[:2])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(2, dtype=np.uint8))
    return tmp_path, images


# --- validate_finite_2d -------------------------------------------------------------------------


@pytest.mark.parametrize("X", [[[0, 1], [2, 3]], np.ones((3, 2), dtype=np.float64), np.eye(2, dtype=bool)])
def test_validate_finite_2d_returns_float32_c_contiguous(X):
    out = validate_finite_2d(X)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, np.asarray(X, dtype=np.float32))


def test_validate_finite_2d_keeps_float32_without_copy():
    X = np.ones((3, 2), dtype=np.float32)
    assert validate_finite_2d(X) is X


@pytest.mark.parametrize(
    "X, match",
    [
        (np.arange(10.0), r"shape \(10,\); expected 2-D data \(n_samples, n_features\)"),
        (np.zeros((2, 2, 2)), r"shape \(2, 2, 2\); expected 2-D"),
        (np.array([["a", "b"]]), r"dtype <U1; expected numbers"),
        (np.zeros((0, 3)), r"empty \(shape \(0, 3\)\)"),
        (
            np.array([[1.0, np.nan], [np.inf, 2.0]]),
            r"2 NaN or infinite value\(s\), the first at \(row 0, column 1\)",
        ),
        (
            np.array([[1.0, 1e300]]),
            r"1 value\(s\) that overflow float32 .*, the first at \(row 0, column 1\)",
        ),
    ],
)
def test_validate_finite_2d_rejects_bad_data(X, match):
    with pytest.raises(InvalidInputError, match=match):
        validate_finite_2d(X)


def test_validate_finite_2d_names_what():
    with pytest.raises(InvalidInputError, match=r"^X_train has shape"):
        validate_finite_2d(np.zeros(3), what="X_train")


# --- round-trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv"])
def test_save_array_load_data_round_trip(tmp_path, suffix):
    path = save_array(tmp_path / f"table{suffix}", TABLE)
    loaded = load_data(path)
    np.testing.assert_array_equal(loaded.X, TABLE)
    assert loaded.X.dtype == np.float32 and loaded.name == f"table{suffix}" and loaded.image_shape is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"table{suffix}"]  # no temporaries left


def test_save_array_csv_writes_header(tmp_path):
    save_array(tmp_path / "t.csv", TABLE)
    assert (tmp_path / "t.csv").read_text().splitlines()[0] == "c0,c1,c2"
    assert load_data(tmp_path / "t.csv").feature_names == ["c0", "c1", "c2"]


@pytest.mark.parametrize(
    "name, write",
    [
        ("t.csv", lambda df, p: df.to_csv(p, index=False)),
        ("t.tsv", lambda df, p: df.to_csv(p, sep="\t", index=False)),
        ("t.txt", lambda df, p: df.to_csv(p, sep="\t", index=False)),
        ("t.parquet", lambda df, p: df.to_parquet(p)),
    ],
)
def test_load_data_table_with_header(tmp_path, name, write):
    write(pd.DataFrame(TABLE, columns=["a", "b", "c"]), tmp_path / name)
    loaded = load_data(tmp_path / name)
    np.testing.assert_allclose(loaded.X, TABLE, rtol=1e-6)
    assert loaded.feature_names == ["a", "b", "c"]


@pytest.mark.parametrize(
    "name, write",
    [
        ("t.csv", lambda p: np.savetxt(p, TABLE, delimiter=",")),
        ("t.tsv", lambda p: np.savetxt(p, TABLE, delimiter="\t")),
        ("t.txt", lambda p: np.savetxt(p, TABLE)),  # np.savetxt's default: spaces
        ("t.txt", lambda p: np.savetxt(p, TABLE, delimiter=",")),
    ],
)
def test_load_data_table_without_header_keeps_first_row(tmp_path, name, write):
    write(tmp_path / name)
    loaded = load_data(tmp_path / name)
    assert loaded.X.shape == TABLE.shape and loaded.feature_names is None
    np.testing.assert_allclose(loaded.X, TABLE, rtol=1e-6)


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("decimal", [",", "."])
def test_load_data_reads_a_semicolon_csv_as_spreadsheets_write_it(tmp_path, header, decimal):
    # Excel where the comma is the decimal mark writes ';' between cells and ',' in numbers.
    frame = pd.DataFrame(TABLE, columns=["a", "b", "c"])
    frame.to_csv(tmp_path / "t.csv", sep=";", decimal=decimal, index=False, header=header)
    loaded = load_data(tmp_path / "t.csv")
    np.testing.assert_allclose(loaded.X, TABLE, rtol=1e-6)
    assert loaded.feature_names == (["a", "b", "c"] if header else None)


def test_a_comma_csv_with_semicolons_in_its_names_stays_comma_separated(tmp_path):
    (tmp_path / "t.csv").write_text("a;1,b\n1.5,2\n3,4\n")
    loaded = load_data(tmp_path / "t.csv")
    assert loaded.feature_names == ["a;1", "b"] and loaded.X.tolist() == [[1.5, 2], [3, 4]]


@pytest.mark.parametrize(
    "name, compression", [("t.csv.gz", "gzip"), ("t.tsv.bz2", "bz2"), ("t.CSV.xz", "xz")]
)
def test_load_data_reads_a_compressed_text_table(tmp_path, name, compression):
    # Public data sets often come as data.csv.gz; pandas reads them, the sniffing must too.
    frame = pd.DataFrame(TABLE, columns=["a", "b", "c"])
    sep = "\t" if ".tsv" in name else ","
    frame.to_csv(tmp_path / name, sep=sep, index=False, compression=compression)
    loaded = load_data(tmp_path / name)
    np.testing.assert_allclose(loaded.X, TABLE, rtol=1e-6)
    assert loaded.feature_names == ["a", "b", "c"]


@pytest.mark.parametrize(
    "content, match",
    [
        (lambda raw: raw[: len(raw) // 2], "as a .csv table: Compressed file ended"),
        (lambda raw: b"a,b\n1,2\n", "as a .csv table: Not a gzipped file"),
        (lambda raw: gzip.compress(b""), "'.*t.csv.gz' is empty"),
    ],
    ids=["cut", "not-gzip", "empty"],
)
def test_a_damaged_compressed_table_is_one_data_file_error(tmp_path, content, match):
    raw = gzip.compress(pd.DataFrame(RNG.normal(size=(500, 3))).to_csv(index=False).encode())
    (tmp_path / "t.csv.gz").write_bytes(content(raw))
    with pytest.raises(DataFileError, match=match) as error:
        load_data(tmp_path / "t.csv.gz")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name", ["t.parquet.gz", "t.gz"])
def test_a_compression_suffix_on_anything_but_a_text_table_is_refused(tmp_path, name):
    (tmp_path / name).write_bytes(gzip.compress(b"1,2\n"))
    expected = r"unsupported file type '\.gz'.*compressed \(\.gz, \.bz2, \.xz\)"
    with pytest.raises(DataFileError, match=expected):
        load_data(tmp_path / name)


def test_load_data_reads_true_false_columns_beside_numbers_as_ones_and_zeros(tmp_path):
    frame = pd.DataFrame({"a": [0.5, 1.5, 2.5], "flag": [True, False, True], "n": [1, 2, 3]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    loaded = load_data(tmp_path / "t.csv")
    assert loaded.X.tolist() == [[0.5, 1, 1], [1.5, 0, 2], [2.5, 1, 3]]
    assert loaded.feature_names == ["a", "flag", "n"]


def test_load_data_header_needs_only_one_text_cell(tmp_path):
    (tmp_path / "t.csv").write_text("1,x,3\n4,5,6\n")
    loaded = load_data(tmp_path / "t.csv")
    assert loaded.feature_names == ["1", "x", "3"] and loaded.X.tolist() == [[4, 5, 6]]


@pytest.mark.parametrize("layout", ["csr", "csc", "coo"])
def test_load_data_reads_a_scipy_sparse_npz_as_dense_rows(tmp_path, layout):
    import scipy.sparse

    matrix = scipy.sparse.random(30, 7, density=0.3, format=layout, random_state=0, dtype=np.float64)
    scipy.sparse.save_npz(tmp_path / "m.npz", matrix)
    loaded = load_data(tmp_path / "m.npz")
    assert loaded.X.dtype == np.float32
    np.testing.assert_allclose(loaded.X, matrix.toarray(), rtol=1e-6)


def test_a_sparse_npz_too_large_to_densify_is_refused_naming_its_size(tmp_path):
    import scipy.sparse

    scipy.sparse.save_npz(tmp_path / "m.npz", scipy.sparse.csr_matrix((10**6, 10**6), dtype=np.float32))
    with pytest.raises(InvalidInputError, match=r"1000000 x 1000000\) as dense float32 would take 4 TB"):
        load_data(tmp_path / "m.npz")


def test_load_data_npz_picks_key(tmp_path):
    np.savez(tmp_path / "a.npz", first=TABLE, second=TABLE * 2)
    np.testing.assert_array_equal(load_data(tmp_path / "a.npz", key="second").X, TABLE * 2)


@pytest.mark.parametrize("flat, shape, image_shape", [(True, (4, 15), (3, 5)), (False, (4, 3, 5), (3, 5))])
def test_load_data_image_array(tmp_path, flat, shape, image_shape):
    # Not flat, a file keeps its stored axes: the conv model reads it as it reads the array
    # ((4, 3, 5): series of 3 channels by its rule; a file was made (4, 1, 3, 5) images).
    np.save(tmp_path / "im.npy", RNG.random((4, 3, 5)))
    loaded = load_data(tmp_path / "im.npy", flat=flat)
    assert loaded.X.shape == shape and loaded.image_shape == image_shape


def test_series_and_video_files_train_a_conv_model_as_their_arrays_do(tmp_path):
    # A 5-D file was refused, and a series file became a 2 x 37 gray image.
    from hourglass import ConvAutoEncoder

    settings = dict(channels=(4,), epochs=1, random_state=0, verbose=0, device="cpu")
    for shape in [(12, 2, 37), (6, 1, 5, 9, 11)]:
        np.save(tmp_path / "x.npy", RNG.random(shape).astype(np.float32))
        from_file = ConvAutoEncoder(**settings).fit(str(tmp_path / "x.npy"))
        assert from_file.input_shape_ == shape[1:]
        assert from_file.reconstruct(str(tmp_path / "x.npy")).shape == shape
        from_array = ConvAutoEncoder(**settings).fit(np.load(tmp_path / "x.npy"))
        assert from_array.input_shape_ == shape[1:]


def test_load_data_colour_image_array_flat(tmp_path):
    np.save(tmp_path / "im.npy", RNG.random((4, 3, 2, 5)))
    loaded = load_data(tmp_path / "im.npy")
    assert loaded.X.shape == (4, 30) and loaded.image_shape == (3, 2, 5)


# --- errors -------------------------------------------------------------------------------------


def test_load_data_missing_path(tmp_path):
    with pytest.raises(DataFileError, match=r"no such file or folder: '.*x\.csv'"):
        load_data(tmp_path / "x.csv")


def test_load_data_unknown_extension_lists_formats(tmp_path):
    (tmp_path / "x.xlsx").write_text("1")
    with pytest.raises(DataFileError, match=r"unsupported file type '\.xlsx'.*\.npy.*\.parquet.*digits"):
        load_data(tmp_path / "x.xlsx")


@pytest.mark.parametrize("name", ["e.csv", "e.tsv", "e.txt", "e.npy", "e.npz", "e.parquet"])
def test_load_data_empty_file(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(DataFileError, match=rf"'.*{name}' is empty"):
        load_data(tmp_path / name)


@pytest.mark.parametrize(
    "name, write",
    [
        ("h.csv", lambda p: p.write_text("a,b,c\n")),
        ("z.npy", lambda p: np.save(p, np.zeros((0, 3)))),
        ("z.parquet", lambda p: pd.DataFrame({"a": []}, dtype=float).to_parquet(p)),
    ],
)
def test_load_data_zero_rows(tmp_path, name, write):
    write(tmp_path / name)
    with pytest.raises(DataFileError, match=rf"'.*{name}' holds no rows"):
        load_data(tmp_path / name)


def test_load_data_1d_array(tmp_path):
    np.save(tmp_path / "v.npy", np.arange(10.0))
    with pytest.raises(InvalidInputError, match=r"'v\.npy' has shape \(10,\); expected 2-D data"):
        load_data(tmp_path / "v.npy")


@pytest.mark.parametrize(
    "text, match",
    [
        ("a,b\n1,2\n3,\n", r"'t\.csv' holds 1 NaN or infinite value\(s\), the first in column 'b' at row 1"),
        ("1,2\ninf,4\n5,nan\n", r"2 NaN or infinite value\(s\), the first in column 0 at row 1"),
    ],
)
def test_load_data_non_finite(tmp_path, text, match):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(InvalidInputError, match=match):
        load_data(tmp_path / "t.csv")


@pytest.mark.parametrize(
    "text, match",
    [
        (
            "x,species\n1,setosa\n2,virginica\n",
            r"column 'species' of 't\.csv' is not numeric \(e\.g\. 'setosa'\)",
        ),
        ("1,2\n3,oops\n", r"column 1 of 't\.csv' is not numeric \(e\.g\. 'oops'\)"),
        ("x,y\n1,2\n3,4 apples\n", r"column 'y' .*'4 apples'"),
    ],
)
def test_load_data_non_numeric_column_names_it(tmp_path, text, match):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(InvalidInputError, match=match):
        load_data(tmp_path / "t.csv")


def test_load_data_non_numeric_parquet_column(tmp_path):
    pd.DataFrame({"x": [1.0, 2.0], "label": ["cat", "dog"]}).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(
        InvalidInputError, match=r"column 'label' of 't\.parquet' is not numeric \(e\.g\. 'cat'\)"
    ):
        load_data(tmp_path / "t.parquet")


def test_load_data_npz_without_key_lists_keys(tmp_path):
    np.savez(tmp_path / "a.npz", first=TABLE, second=TABLE)
    with pytest.raises(DataFileError, match=r"holds arrays \['first', 'second'\]; choose one with key="):
        load_data(tmp_path / "a.npz")


def test_load_data_npz_wrong_key_names_keys(tmp_path):
    np.savez(tmp_path / "a.npz", first=TABLE)
    with pytest.raises(DataFileError, match=r"has no array 'nope'; it holds \['first'\]"):
        load_data(tmp_path / "a.npz", key="nope")


def test_load_data_key_only_for_npz(tmp_path):
    save_array(tmp_path / "a.npy", TABLE)
    with pytest.raises(InvalidInputError, match=r"key='data' only applies to \.npz files, not '.*a\.npy'"):
        load_data(tmp_path / "a.npy", key="data")


def test_load_data_refuses_pickled_npy(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataFileError, match=r"could not read '.*o\.npy'.*pickle"):
        load_data(tmp_path / "o.npy")


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("c.npy", b"not a numpy file at all", r"'.*c\.npy' is not a NumPy \.npy file"),
        ("c.npy", b"\x93NUMPY garbage", r"could not read '.*c\.npy' as a NumPy \.npy file"),
        ("c.npz", b"PK\x03\x04 broken zip", r"could not read '.*c\.npz' as a NumPy \.npz file"),
        ("c.parquet", b"PAR1 not really parquet PAR1", r"could not read '.*c\.parquet' as a \.parquet table"),
        ("c.csv", b"1,2\n3,4,5,6\n", r"could not read '.*c\.csv' as a \.csv table: .*Expected 2 fields"),
        ("c.csv", b"\xff\xfe\x00garbage\x00,\n", r"could not read '.*c\.csv' as a \.csv table: .*decode"),
    ],
)
def test_load_data_corrupt_file_names_it(tmp_path, name, content, match):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataFileError, match=match) as info:
        load_data(tmp_path / name)
    assert "\n" not in str(info.value)


# --- IDX ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", list(IDX_CODES))
def test_read_idx_round_trip(tmp_path, dtype, gz):
    array = (RNG.random((3, 4, 2)) * 100).astype(dtype)
    out = read_idx(write_idx(tmp_path / "a-idx3-ubyte", array, gz=gz))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative and out.flags.writeable
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize(
    "mangle, match",
    [
        (lambda raw: raw[:-1], r"holds 23 data bytes; its header \(shape \(3, 4, 2\), uint8\) says 24"),
        (lambda raw: raw + b"\0", r"holds 25 data bytes"),
        (lambda raw: raw[:10], r"truncated inside its header"),
        (lambda raw: b"\x01\x02" + raw[2:], r"not an IDX file \(bad magic number '0102"),
        (lambda raw: raw[:2] + b"\x07" + raw[3:], r"not an IDX file"),
    ],
)
def test_read_idx_bad_file(tmp_path, mangle, match):
    path = write_idx(tmp_path / "a-idx3-ubyte", np.zeros((3, 4, 2), dtype=np.uint8))
    path.write_bytes(mangle(path.read_bytes()))
    with pytest.raises(DataFileError, match=match):
        read_idx(path)


def test_read_idx_truncated_gzip(tmp_path):
    path = write_idx(tmp_path / "a-idx3-ubyte.gz", np.zeros((3, 4, 2), dtype=np.uint8), gz=True)
    path.write_bytes(path.read_bytes()[:-6])
    with pytest.raises(DataFileError, match=r"could not read IDX file '.*a-idx3-ubyte\.gz'"):
        read_idx(path)


@pytest.mark.parametrize(
    "flat, shape, image_shape", [(True, (5, 12), (4, 3)), (False, (5, 1, 4, 3), (1, 4, 3))]
)
def test_load_data_idx_folder_takes_training_split(idx_folder, flat, shape, image_shape):
    folder, images = idx_folder
    loaded = load_data(folder, flat=flat)
    assert loaded.X.shape == shape and loaded.image_shape == image_shape
    np.testing.assert_allclose(loaded.X.reshape(images.shape), images / 255, rtol=1e-6)
    assert loaded.y.tolist() == [0, 1, 2, 3, 4]


def test_load_data_idx_file_path(idx_folder):
    folder, _ = idx_folder
    loaded = load_data(folder / "t10k-images-idx3-ubyte")
    assert loaded.X.shape == (2, 12) and loaded.y.tolist() == [0, 1]


def test_load_data_idx_label_count_mismatch(idx_folder):
    folder, _ = idx_folder
    write_idx(folder / "t10k-labels-idx1-ubyte", np.arange(3, dtype=np.uint8))
    with pytest.raises(DataFileError, match=r"t10k-labels-idx1-ubyte' holds 3 labels for 2 images"):
        load_data(folder / "t10k-images-idx3-ubyte")


def test_load_data_folder_without_idx(tmp_path):
    (tmp_path / "readme.md").write_text("hi")
    with pytest.raises(DataFileError, match=r"folder '.*' holds no IDX files"):
        load_data(tmp_path)


# --- built-in sets ------------------------------------------------------------------------------


def test_builtin_datasets_lists_names():
    assert set(BUILTIN_DATASETS) == {"digits", "fashion-mnist", "fashion-mnist:test"}
    assert all(isinstance(text, str) and "\n" not in text for text in BUILTIN_DATASETS.values())


def test_load_data_digits(digits):
    assert isinstance(digits, Dataset)
    assert digits.X.shape == (1797, 64) and digits.X.dtype == np.float32
    assert digits.X.min() == 0 and digits.X.max() == 1
    assert digits.image_shape == (8, 8) and digits.name == "digits"
    assert sorted(set(digits.y.tolist())) == list(range(10)) and len(digits.y) == 1797


def test_load_data_digits_not_flat(digits):
    images = load_data("digits", flat=False)
    assert images.X.shape == (1797, 1, 8, 8) and images.image_shape == (1, 8, 8)
    np.testing.assert_array_equal(images.X.reshape(1797, 64), digits.X)


def test_load_data_fashion_mnist_missing_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(data_module, "FASHION_MNIST_DIR", tmp_path / "absent")
    with pytest.raises(DataFileError, match=r"'fashion-mnist'.*apt-get install dataset-fashion-mnist"):
        load_data("fashion-mnist")


@pytest.mark.parametrize("name, n", [("fashion-mnist", 5), ("fashion-mnist:test", 2)])
def test_load_data_fashion_mnist_splits(monkeypatch, idx_folder, name, n):
    monkeypatch.setattr(data_module, "FASHION_MNIST_DIR", idx_folder[0])
    loaded = load_data(name)
    assert loaded.X.shape == (n, 12) and len(loaded.y) == n and loaded.name == name


@pytest.mark.skipif(not data_module.FASHION_MNIST_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_load_data_fashion_mnist_installed():
    loaded = load_data("fashion-mnist:test")
    assert loaded.X.shape == (10000, 784) and loaded.image_shape == (28, 28)
    assert loaded.X.min() == 0 and loaded.X.max() == 1
    assert sorted(set(loaded.y.tolist())) == list(range(10))


# --- save_array ---------------------------------------------------------------------------------


def test_save_array_refuses_overwrite_without_force(tmp_path):
    path = save_array(tmp_path / "a.npy", TABLE)
    with pytest.raises(OutputExistsError, match=r"'.*a\.npy' exists already"):
        save_array(path, TABLE * 2)
    save_array(path, TABLE * 2, force=True)
    np.testing.assert_array_equal(np.load(path), TABLE * 2)


def test_save_array_failure_leaves_old_file(tmp_path, monkeypatch):
    path = save_array(tmp_path / "a.npy", TABLE)

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_array(path, TABLE * 2, force=True)
    np.testing.assert_array_equal(np.load(path), TABLE)
    assert [p.name for p in tmp_path.iterdir()] == ["a.npy"]


def test_save_array_npz_uses_key_data(tmp_path):
    save_array(tmp_path / "a.npz", TABLE)
    with np.load(tmp_path / "a.npz") as archive:
        assert archive.files == ["data"]


@pytest.mark.parametrize(
    "name, array, match",
    [
        ("a.json", TABLE, r"unsupported suffix '\.json'"),
        ("a.csv", np.zeros((2, 2, 2)), r"a \.csv needs 2-D data; got shape \(2, 2, 2\)"),
    ],
)
def test_save_array_rejects_bad_request(tmp_path, name, array, match):
    with pytest.raises(InvalidInputError, match=match):
        save_array(tmp_path / name, array)
    assert not (tmp_path / name).exists()


def test_npy_files_are_memory_mapped_not_read_whole(tmp_path):
    X = np.random.default_rng(0).random((50, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    data = load_data(tmp_path / "x.npy")
    assert isinstance(data.X, np.memmap) or isinstance(data.X.base, np.memmap)
    np.testing.assert_array_equal(data.X, X)


def test_finite_check_names_the_first_bad_row_across_blocks(monkeypatch):

    monkeypatch.setattr(data_module, "FINITE_CHECK_VALUES", 8)  # two rows of 4 per block
    X = np.zeros((10, 4), np.float32)
    X[7, 2] = np.nan
    X[9, 0] = np.inf
    with pytest.raises(
        InvalidInputError, match=r"2 NaN or infinite value\(s\), the first at \(row 7, column 2\)"
    ):
        data_module.check_finite(X, "X")


def test_estimator_streams_a_memory_map_batch_by_batch(make_ae, unit_data, tmp_path, monkeypatch):
    from hourglass.estimators import predicting as estimator_module

    ae = make_ae().fit(unit_data)
    np.save(tmp_path / "x.npy", unit_data.astype(np.float32))
    mapped = load_data(tmp_path / "x.npy").X
    in_memory = unit_data.astype(np.float32)
    monkeypatch.setattr(estimator_module, "PREDICT_BATCH", 7)  # many batches, a short last one
    np.testing.assert_allclose(ae.transform(mapped), ae.transform(in_memory), rtol=1e-6)
    np.testing.assert_allclose(ae.reconstruct(mapped), ae.reconstruct(in_memory), rtol=1e-6)
    errors = np.mean((ae.reconstruct(in_memory).astype(np.float64) - in_memory) ** 2, axis=1)
    np.testing.assert_allclose(ae.reconstruction_error(mapped), errors, rtol=1e-6)


def test_non_numeric_columns_are_all_named_with_the_drop_that_loads_the_rest(tmp_path):
    (tmp_path / "t.csv").write_text("id,x,city,y\nA1,1,Oslo,2\nB2,3,Rome,4\nC3,5,Oslo,7\n")
    with pytest.raises(InvalidInputError) as caught:
        load_data(tmp_path / "t.csv")
    message = str(caught.value)
    assert "\n" not in message and "the 2 that are not" in message
    assert "--drop id,city on the command line" in message
    suggested = re.search(r"drop=(\[.*?\]) in load_data", message).group(1)
    assert suggested == "['id', 'city']"
    assert load_data(tmp_path / "t.csv", drop=ast.literal_eval(suggested)).X.tolist() == [
        [1, 2],
        [3, 4],
        [5, 7],
    ]


def test_a_column_name_with_a_space_is_quoted_for_the_shell(tmp_path):
    (tmp_path / "t.csv").write_text("first name,x,y\nann,1,2\nbob,3,4\n")
    with pytest.raises(InvalidInputError, match=r"--drop 'first name' on the command line"):
        load_data(tmp_path / "t.csv")


@pytest.mark.parametrize("drop", [[1], 1, ["1"], "1", [np.int64(1)], np.int64(1)])
def test_drop_takes_a_position_as_an_int_or_text_alone_or_in_a_list(tmp_path, drop):
    (tmp_path / "t.csv").write_text("1,2\n3,oops\n4,5\n")
    assert load_data(tmp_path / "t.csv", drop=drop).X.ravel().tolist() == [1, 3, 4]


def test_drop_and_label_take_one_name_given_alone(tmp_path):
    (tmp_path / "t.csv").write_text("x,city,y,kind\n1,Oslo,2,a\n3,Rome,4,b\n")
    data = load_data(tmp_path / "t.csv", drop="city", label=3)
    assert data.X.tolist() == [[1, 2], [3, 4]] and list(data.y) == ["a", "b"]


@pytest.mark.parametrize("drop", [[1.5], [True], [None]])
def test_drop_of_neither_a_name_nor_a_position_is_one_line(tmp_path, drop):
    (tmp_path / "t.csv").write_text("x,y\n1,2\n3,4\n")
    with pytest.raises(InvalidInputError, match=r"^drop=.*; expected a column name or a 0-based position"):
        load_data(tmp_path / "t.csv", drop=drop)


def test_an_address_is_named_as_one_not_as_a_missing_file():
    with pytest.raises(
        DataFileError, match=r"^'https://example\.com/x\.csv' is an address; .*download it first$"
    ):
        load_data("https://example.com/x.csv")


def test_a_folder_without_idx_files_points_images_to_the_convolutional_model(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataFileError, match=r"holds no IDX files.*--arch conv.*a table is one file"):
        load_data(tmp_path)
