"""``hourglass compare --threads``: the thread count of its autoencoders, for the same figures run to run.

compare had no --threads: its autoencoders trained under threads='auto', which follows the
machine's load, so that the same --seed gave other figures on a busy machine, and the docs'
advice for bit-identical reruns (pass --threads N) could not be followed.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris

from helpers import assert_one_line_error, run
from hourglass.uses import comparison


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "iris.npy"
    np.save(path, load_iris().data.astype(np.float32))
    return path


@pytest.mark.parametrize(("given", "expected"), [([], "auto"), (["--threads", "1"], 1)])
def test_compare_trains_its_autoencoders_on_the_threads_asked_for(table, monkeypatch, given, expected):
    seen = []
    original = comparison.compare

    def recorded(X, code_sizes, estimator, **kwargs):
        seen.append(estimator.get_params()["threads"])
        return original(X, code_sizes, estimator, **kwargs)

    monkeypatch.setattr(comparison, "compare", recorded)
    code, out, err = run("compare", table, "--code-sizes", "2", "--epochs", "1", *given, "-q")
    assert code == 0, err
    assert seen == [expected]


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("0", "--threads 0; expected 'auto' or an integer from 1 to"),
        ("99999", "--threads 99999; expected 'auto' or an integer from 1 to"),
        ("1.5", "--threads '1.5': expected an integer or 'auto'"),
    ],
)
def test_compare_refuses_a_bad_thread_count_in_one_line(table, tmp_path, value, said):
    out = tmp_path / "table.csv"
    assert_one_line_error(*run("compare", table, "--threads", value, "-o", out), said)
    assert not out.exists()
