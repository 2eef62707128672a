"""Sampling streams: ``iter_samples`` gives ``sample``'s values batch by batch, and
``hourglass sample -o x.npy`` writes them into the file as they come, so memory does not grow
with N; every other output is checked against the memory available before any sampling."""

import numpy as np
import pytest

from conftest import TINY
from helpers import assert_one_line_error, run
from hourglass import VariationalAutoEncoder
from hourglass.cli.app import out_of_memory_message
from hourglass.data.npy_stream import write_npy_batches
from hourglass.estimators import variational
from hourglass.exceptions import InvalidInputError

X = np.random.default_rng(0).random((48, 16))


@pytest.fixture(scope="module")
def vae(tmp_path_factory):
    model = VariationalAutoEncoder(**TINY).fit(X)
    return model, model.save(tmp_path_factory.mktemp("vae") / "vae")


@pytest.mark.parametrize("n, batch", [(1, 4), (7, 4), (8, 4), (9, 3)])
def test_iter_samples_gives_the_samples_of_sample_batch_by_batch(vae, monkeypatch, n, batch):
    monkeypatch.setattr(variational, "SAMPLE_BATCH", batch)
    batches = list(vae[0].iter_samples(n, random_state=5))
    assert [len(b) for b in batches] == [min(batch, n - s) for s in range(0, n, batch)]
    np.testing.assert_array_equal(np.concatenate(batches), vae[0].sample(n, random_state=5))


def test_cli_sample_to_npy_streams_without_building_all_samples(vae, monkeypatch, tmp_path):
    model, folder = vae
    monkeypatch.setattr(variational, "SAMPLE_BATCH", 16)

    def whole(*args, **kwargs):
        raise AssertionError("sample() builds every sample in memory; the .npy path must stream")

    monkeypatch.setattr(VariationalAutoEncoder, "sample", whole)
    code, _, err = run("sample", folder, "-n", 100, "--seed", 3, "-o", tmp_path / "s.npy")
    assert code == 0, err
    monkeypatch.undo()
    monkeypatch.setattr(variational, "SAMPLE_BATCH", 16)
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), model.sample(100, random_state=3))
    assert [p.name for p in tmp_path.iterdir()] == ["s.npy"]  # no temporary left beside it


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_cli_sample_of_n_begins_with_the_sample_of_fewer(vae, tmp_path, suffix):
    for n in (3, 10):
        code, _, err = run("sample", vae[1], "-n", n, "--seed", 4, "-o", tmp_path / f"s{n}{suffix}")
        assert code == 0, err
    read = np.load if suffix == ".npy" else lambda path: np.loadtxt(path, delimiter=",", skiprows=1)
    np.testing.assert_array_equal(read(tmp_path / f"s10{suffix}")[:3], read(tmp_path / f"s3{suffix}"))


@pytest.mark.parametrize("suffix", [".png", ".csv", ".npz"])
def test_cli_sample_too_many_for_memory_is_refused_before_sampling(vae, tmp_path, suffix):
    code, out, err = run("sample", vae[1], "-n", 10**12, "-o", tmp_path / f"s{suffix}")
    assert_one_line_error(code, out, err, "-n 1000000000000 samples", "TB of memory", ".npy")
    assert "--batch-size" not in err and not list(tmp_path.iterdir())


def test_out_of_memory_advice_names_only_the_commands_options():
    advice = out_of_memory_message(MemoryError("tried to allocate 5.4 GB"), frozenset({"n", "output"}))
    assert "--batch-size" not in advice and "-n" in advice and "(5.4 GB asked for)" in advice
    assert "--batch-size" in out_of_memory_message(MemoryError(), frozenset({"batch_size", "data"}))


@pytest.mark.parametrize(
    "batches, message",
    [([np.zeros((2, 3))], "hold 2 rows; expected 3"), ([np.zeros((4, 3))], "after 0 rows"),
     ([np.zeros((3, 2))], "after 0 rows")],
)  # fmt: skip
def test_write_npy_batches_refuses_batches_that_do_not_add_up_and_writes_nothing(tmp_path, batches, message):
    with pytest.raises(InvalidInputError, match=message):
        write_npy_batches(tmp_path / "a.npy", 3, (3,), batches)
    assert not list(tmp_path.iterdir())
