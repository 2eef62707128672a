"""Labels from any file a person would keep them in: one place reads them all."""

from __future__ import annotations

import numpy as np
import pytest

from hourglass import InvalidInputError
from hourglass.data.labels import read_labels
from hourglass.exceptions import DataFileError


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("labels.txt", "0\n1\n2\n", [0, 1, 2]),
        ("labels.txt", "red\nblue, dark\nred\n", ["red", "blue, dark", "red"]),
        ("labels.txt", "0.5\n1.5\n2.5\n\n", [0.5, 1.5, 2.5]),
        ("labels.csv", "kind\n0\n1\n2\n", [0, 1, 2]),
        ("labels.csv", "0\n1\n2\n", [0, 1, 2]),
        ("labels.csv", "kind\na\nb\na\n", ["a", "b", "a"]),
        ("labels.tsv", "kind\n3\n4\n5\n", [3, 4, 5]),
    ],
)
def test_read_labels_takes_text_and_one_column_tables(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    assert read_labels(path, 3).tolist() == expected


def test_read_labels_takes_npy(tmp_path):
    np.save(tmp_path / "y.npy", np.array([[1], [0], [1]]))
    assert read_labels(tmp_path / "y.npy", 3).tolist() == [1, 0, 1]


@pytest.mark.parametrize(
    ("name", "content", "error", "message"),
    [
        ("labels.txt", "0\n1\n", InvalidInputError, "holds 2 labels for the 3 samples"),
        ("labels.csv", "a,b\n1,2\n3,4\n5,6\n", DataFileError, "has 2 columns"),
        ("labels.csv", "kind\n0\nnan\n2\n", InvalidInputError, "no label on line 2"),
        ("labels.json", "[0, 1, 2]", DataFileError, "expected .npy, .txt"),
    ],
)
def test_read_labels_refuses_in_one_line(tmp_path, name, content, error, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(error, match=message):
        read_labels(path, 3)


def test_read_labels_names_a_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="no such labels file"):
        read_labels(tmp_path / "nope.txt", 3)
