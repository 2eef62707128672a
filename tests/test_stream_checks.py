"""The checks a fit makes are the same whatever holds the data: an array in memory, a ``.npy``
file streamed from disk, a Dataset. Resume's data fingerprint, the refusal of NaN and infinite
values, the refusal of images given to a rows model; and the in-memory path adds no copy."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from hourglass import AutoEncoder
from hourglass.data import duplicates, sources
from hourglass.data.scaling import summarize
from hourglass.exceptions import CallbackError, InvalidInputError
from hourglass.train import checkpoint

RUN = dict(code_size=4, hidden_layers=(16,), epochs=4, random_state=0, device="cpu", threads=1, verbose=0)


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data[:300] / 16).astype(np.float32)


@pytest.fixture
def stream(monkeypatch):
    """Memory maps of more than 1 KiB are streamed from their file, as one too large would be."""
    monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 1024)


def _saved(tmp_path, X, name="x.npy"):
    np.save(tmp_path / name, X)
    return np.load(tmp_path / name, mmap_mode="r")


def _sources(X, tmp_path):
    """The same items as each kind of training source."""
    np.save(tmp_path / "f.npy", X)
    return {
        "array": sources.ArraySource(X),
        "file": sources.NpyFileSource.open(tmp_path / "f.npy"),
        "dataset": sources.DatasetSource(torch.utils.data.TensorDataset(torch.from_numpy(X))),
    }


# -- resume's data fingerprint -------------------------------------------------------------------
@pytest.mark.parametrize("whole_bytes", [64 * 2**20, 1000], ids=["whole", "sampled"])
def test_source_fingerprint_is_the_same_for_every_input_type(whole_bytes, digits, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "HASH_WHOLE_BYTES", whole_bytes)
    monkeypatch.setattr(checkpoint, "HASH_BLOCK_BYTES", 4096)  # several blocks
    prints = {name: checkpoint.source_fingerprint(s) for name, s in _sources(digits, tmp_path).items()}
    assert prints["file"] == prints["array"] and prints["dataset"] == prints["array"]
    # An array's is the one data_fingerprint gave it: its checkpoints stay resumable.
    assert prints["array"] == checkpoint.data_fingerprint(digits)


@pytest.mark.parametrize("kind", ["file", "dataset"])
def test_source_fingerprint_sees_every_item_up_to_the_bound(kind, digits, tmp_path):
    before = checkpoint.source_fingerprint(_sources(digits, tmp_path)[kind])
    changed = digits.copy()
    changed[3:7] = 1.0 - changed[3:7]  # rows between those a 256-row sample reads
    assert checkpoint.source_fingerprint(_sources(changed, tmp_path)[kind])["hash"] != before["hash"]


class _Interrupt:
    def on_epoch_end(self, est, epoch, logs):
        if epoch == 2:
            raise RuntimeError("interrupted")


def _interrupted(X, directory):
    with pytest.raises(CallbackError):
        AutoEncoder(checkpoint_dir=directory, callbacks=[_Interrupt()], **RUN).fit(X)


def test_a_dataset_run_refuses_to_resume_on_changed_items(tmp_path):
    X = (load_digits().data / 16).astype(np.float32)  # 1797 rows: 256 evenly spaced skip rows 3-6
    _interrupted(torch.utils.data.TensorDataset(torch.from_numpy(X)), tmp_path / "ck")
    changed = X.copy()
    changed[3:7] = 1.0 - changed[3:7]
    with pytest.raises(Exception, match="data differs: same shape 1797x64, other values"):
        AutoEncoder(checkpoint_dir=tmp_path / "ck", **RUN).fit(
            torch.utils.data.TensorDataset(torch.from_numpy(changed)), resume=True
        )


def test_a_run_on_a_streamed_file_resumes_on_the_same_array_in_memory(digits, tmp_path, stream):
    _interrupted(_saved(tmp_path, digits), tmp_path / "ck")
    resumed = AutoEncoder(checkpoint_dir=tmp_path / "ck", **RUN).fit(digits, resume=True)
    whole = AutoEncoder(**RUN).fit(digits)
    assert resumed.loss_curve_ == whole.loss_curve_


# -- NaN and infinite values ---------------------------------------------------------------------
def _message(fit, X):
    with pytest.raises(InvalidInputError) as caught:
        fit(X)
    return str(caught.value)


def _validation_rows(digits, tmp_path):
    fitted = AutoEncoder(**RUN).fit(_saved(tmp_path, digits, "clean.npy"))
    n, train = fitted._split_items
    return train, np.setdiff1d(np.arange(n), train)


def test_a_nan_in_a_streamed_validation_row_is_refused_as_in_memory(digits, tmp_path, stream):
    train, val = _validation_rows(digits, tmp_path)
    bad = digits.copy()
    bad[val[0], 5] = np.nan
    fit = AutoEncoder(**RUN).fit
    streamed = _message(fit, _saved(tmp_path, bad))
    assert streamed == _message(fit, bad)
    assert streamed == (
        f"X holds 1 NaN or infinite value(s), the first at (row {val[0]}, column 5); fill or drop them first"
    )


def test_a_streamed_file_counts_every_bad_value(digits, tmp_path, stream):
    train, val = _validation_rows(digits, tmp_path)
    bad = digits.copy()
    bad[train[:40], 5] = np.nan
    bad[val[:10], 3] = np.inf
    fit = AutoEncoder(**RUN).fit
    streamed = _message(fit, _saved(tmp_path, bad))
    assert streamed == _message(fit, bad)
    assert streamed.startswith("X holds 50 NaN or infinite value(s), the first at (row ")


def test_a_nan_in_a_validation_item_of_a_dataset_is_named_in_one_line(digits, tmp_path):
    train, val = _validation_rows(digits, tmp_path)
    bad = digits.copy()
    bad[val[1], 5] = np.nan
    bad[val[3], 2] = np.inf
    message = _message(AutoEncoder(**RUN).fit, torch.utils.data.TensorDataset(torch.from_numpy(bad)))
    assert message == (
        f"X holds 2 NaN or infinite value(s) in its {len(val)} validation items, the first at "
        f"(row {val[1]}, column 5); fill or drop them first"
    )


def test_summarize_counts_the_bad_values_of_every_block():
    blocks = [np.zeros((4, 3)), np.full((4, 3), np.nan), np.zeros((4, 3)), np.full((2, 3), np.inf)]
    with pytest.raises(InvalidInputError) as caught:
        summarize(iter(blocks), first_index=lambda k: 10 + k, what="the dataset")
    assert str(caught.value) == (
        "the dataset holds 18 NaN or infinite value(s) in the 14 items read, the first at "
        "(row 14, column 0); fill or drop them first"
    )


def test_a_float64_file_beyond_float32_is_refused_as_in_memory(digits, tmp_path, stream):
    big = digits.astype(np.float64)
    big[7, 2] = 1e300
    fit = AutoEncoder(**RUN).fit
    assert _message(fit, _saved(tmp_path, big)) == _message(fit, big)


def test_streamed_statistics_are_those_in_memory(digits, tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "BLOCK_VALUES", 64 * 7)  # blocks of 7 rows, around the validation rows
    train = np.setdiff1d(np.arange(len(digits)), np.arange(0, len(digits), 9))
    np.save(tmp_path / "f.npy", digits)
    a = sources.ArraySource(digits).statistics(train, None)
    b = sources.NpyFileSource.open(tmp_path / "f.npy").statistics(train, None)
    assert a.n_items == b.n_items == len(train)
    for name in ("mean", "var", "lo", "hi"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


# -- images given to a rows model ----------------------------------------------------------------
@pytest.mark.parametrize("shape", [(300, 8, 8), (300 * 64,)])
def test_a_streamed_array_of_another_rank_is_refused_as_in_memory(shape, digits, tmp_path, stream):
    X = digits.reshape(shape)
    fit = AutoEncoder(**RUN).fit
    streamed = _message(fit, _saved(tmp_path, X))
    assert streamed == _message(fit, X)
    if len(shape) == 3:
        assert "flatten each sample (X.reshape(len(X), -1)) or use ConvAutoEncoder" in streamed


# -- no copy of an array in memory ---------------------------------------------------------------
def test_duplicate_groups_makes_no_copy_of_the_array():
    X = np.random.default_rng(0).random((4000, 2048), dtype=np.float32)  # 32 MiB
    tracemalloc.start()
    try:
        duplicates.duplicate_groups(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 2


def test_duplicate_groups_folds_negative_zero_across_blocks(monkeypatch):
    monkeypatch.setattr(duplicates, "KEY_BLOCK_VALUES", 4, raising=False)
    X = np.zeros((6, 2))
    X[1:5] = np.arange(8).reshape(4, 2) + 1
    X[5] = -0.0
    groups = duplicates.duplicate_groups(X)
    assert groups[0] == groups[5] and len(set(groups.tolist())) == 5
