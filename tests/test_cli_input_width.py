"""A dense model's CLI input of the wrong width: one line naming the file, not scikit-learn's "X"."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from helpers import assert_one_line_error, run
from hourglass import AutoEncoder


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    X = (load_digits().data / 16.0).astype(np.float32)
    folder = tmp_path_factory.mktemp("width")
    np.save(folder / "w10.npy", X[:20, :10])
    model = AutoEncoder(code_size=4, epochs=1, random_state=0, device="cpu", verbose=0).fit(X)
    return model.save(folder / "model"), folder / "w10.npy"


@pytest.mark.parametrize("command", ["encode", "score", "reconstruct"])
def test_wrong_width_names_the_file(digits_model, tmp_path, command):
    # It said "X has 10 features, but AutoEncoder is expecting 64 features as input."
    model, narrow = digits_model
    out = tmp_path / ("out.csv" if command == "score" else "out.npy")
    code, out_text, err = run(command, model, narrow, "-o", out)
    expected = f"{str(narrow)!r} has 10 features per row; this model was fitted on 64"
    assert_one_line_error(code, out_text, err, expected)
    assert "X has" not in err
    assert not out.exists()
