"""Repeated rows never sit on both sides of a split: held-out errors stay held out."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

import hourglass
from hourglass.data.duplicates import duplicate_groups, repeated_rows, split_rows
from hourglass.estimators.outlier_scores import calibration_split


def _wine_three_times() -> pd.DataFrame:
    wine = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    return pd.concat([wine] * 3, ignore_index=True)


def _shared_rows(a: np.ndarray, b: np.ndarray) -> set:
    return {row.tobytes() for row in np.asarray(a)} & {row.tobytes() for row in np.asarray(b)}


def test_groups_join_identical_rows_of_arrays_and_frames():
    X = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0], [-0.0, 1.0], [0.0, 1.0]])
    groups = duplicate_groups(X)
    assert groups[0] == groups[2] and groups[3] == groups[4] and len(set(groups.tolist())) == 3
    assert repeated_rows(groups) == 2
    frame = pd.DataFrame({"a": [1, 1, 2], "b": ["x", "x", "y"]})
    first, second, third = duplicate_groups(frame).tolist()
    assert first == second != third
    assert duplicate_groups(np.arange(6.0).reshape(3, 2)) is None  # unique rows: a plain split


@pytest.mark.parametrize("seed", range(5))
def test_split_keeps_groups_together(seed):
    groups = np.unique(np.random.default_rng(seed).integers(0, 40, size=300), return_inverse=True)[1]
    kept, held = split_rows(300, 60, np.random.default_rng(seed), groups)
    assert not set(groups[kept]) & set(groups[held])
    assert sorted([*kept, *held]) == list(range(300))
    assert len(kept) and len(held)


def test_split_moves_only_the_repeated_rows():
    # 200 rows, 10 of them copies of others: every other row stays where the plain split put it.
    groups = np.arange(200)
    groups[190:] = np.arange(10)
    groups = np.unique(groups, return_inverse=True)[1]
    plain_held = set(split_rows(200, 20, np.random.default_rng(3))[1])
    held = set(split_rows(200, 20, np.random.default_rng(3), groups)[1])
    repeated = set(range(10)) | set(range(190, 200))
    assert plain_held - repeated == held - repeated


def test_split_holds_out_the_share_on_average():
    groups = np.repeat(np.arange(100), 3)
    sizes = [len(split_rows(300, 30, np.random.default_rng(seed), groups)[1]) for seed in range(300)]
    assert np.mean(sizes) == pytest.approx(30, rel=0.05)


def test_groups_are_the_same_in_every_process():
    # Python's hash of bytes is salted per process: a seeded split must not depend on it.
    code = (
        "import numpy as np; from hourglass.data.duplicates import duplicate_groups; "
        "X = np.repeat(np.arange(40.0).reshape(20, 2), 2, axis=0); print(duplicate_groups(X).tolist())"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(runs) == 1


def test_split_without_repeats_is_the_plain_shuffled_split():
    kept, held = split_rows(10, 3, np.random.default_rng(7))
    order = np.random.default_rng(7).permutation(10)
    assert held.tolist() == sorted(order[:3]) and kept.tolist() == sorted(order[3:])


def test_compare_holds_out_no_copy_of_a_training_row():
    result = hourglass.compare(
        _wine_three_times(), code_sizes=[2], y="cultivar", estimator=hourglass.AutoEncoder(epochs=1)
    )
    assert not _shared_rows(result.X_train, result.X_test)
    assert "356 of 534 samples repeat another" in result.note
    assert 0.1 * 534 < len(result.X_test) < 0.3 * 534


def test_fit_validates_on_rows_it_did_not_train_on():
    from hourglass.data.sources import ArraySource
    from hourglass.estimators import fitting

    X = _wine_three_times().drop(columns="cultivar").to_numpy(np.float32)
    ae = hourglass.AutoEncoder(code_size=2, epochs=1, random_state=0).fit(X)
    assert ae.history_.recipe["repeated_rows"].startswith("356 of 534 items repeat another")
    assert "356 of 534 items" in ae.history_.recipe_summary()
    train, val, _ = fitting.split_source(ae, ArraySource(X))
    assert 20 < len(val) < 90
    assert not _shared_rows(X[train], X[val])


def test_fit_on_unique_rows_records_no_repeats():
    X = load_wine().data.astype(np.float32)
    ae = hourglass.AutoEncoder(code_size=2, epochs=1, random_state=0).fit(X)
    assert "repeated_rows" not in ae.history_.recipe


def test_detector_calibrates_on_rows_it_did_not_train_on():
    X = _wine_three_times().drop(columns="cultivar").to_numpy()
    train, calibration = calibration_split(len(X), 0.25, 0, duplicate_groups(X))
    assert not _shared_rows(X[train], X[calibration])
    detector = hourglass.AnomalyDetector(random_state=0, epochs=1).fit(X)
    assert np.isfinite(detector.threshold_)
