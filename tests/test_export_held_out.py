"""ONNX export parity on rows the model never saw, where scaling and clipping are tested hardest.

``test_export.py`` checks every kind on rows it trained on; held-out rows of the breast-cancer
table reach past the training range (the min-max scaling then leaves [0, 1] and the clip of the
output acts), so the folded-in scaling and clip must match the estimator's there too. Criterion
as there, at most 1e-4 relative to ``max(1, |value|)``, but for values in the data's units
relative to the column's magnitude as well: a reconstruction near 0 in a column of values near
1000 is the difference of float32 numbers of that size, and both sides round it at 6e-5 steps
(measured: 5e-4 apart at 0.47 in ``worst area``, 1.8e-4 relative to the value). A missing
scaling or clip is off by the column's own scale, thousands of times more.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from hourglass import AnomalyDetector, AutoEncoder

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

pytestmark = pytest.mark.slow

TOLERANCE = 1e-4
DENSE = {
    "code_size": 4,
    "hidden_layers": (64, 32),
    "epochs": 5,
    "verbose": 0,
    "random_state": 0,
    "device": "cpu",
}
KINDS = {
    "standard": {"scaling": "standard"},
    "minmax (clip output)": {"scaling": "minmax"},
    "none": {"scaling": "none"},
    "topk": {"scaling": "standard", "code_size": 16, "topk": 4},
}


@pytest.fixture(scope="module")
def magnitude(split) -> np.ndarray:
    """Each column's largest training value: the size of the numbers a reconstruction is made of."""
    return np.abs(split[0]).max(axis=0)


@pytest.fixture(scope="module")
def split() -> tuple[np.ndarray, np.ndarray]:
    """80 % of the table's rows to train on and the other 20 % held out, in random order."""
    X = load_breast_cancer().data
    order = np.random.default_rng(0).permutation(len(X))
    cut = int(0.8 * len(X))
    return X[order[:cut]], X[order[cut:]].astype(np.float32)


def onnx_outputs(path, feed: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {session.get_inputs()[0].name: feed}), strict=True))


def relative_difference(got, want, magnitude=1.0) -> float:
    """The largest ``|got - want|`` relative to ``max(1, |want|, magnitude)`` (per column)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want) / np.maximum(np.maximum(1.0, magnitude), np.abs(want))))


def test_held_out_rows_leave_the_training_range(split):
    train, held_out = split
    assert (held_out > train.max(axis=0)).any() and (held_out < train.min(axis=0)).any()


@pytest.mark.parametrize("kind", KINDS)
def test_dense_export_matches_the_estimator_on_held_out_rows(kind, split, magnitude, tmp_path):
    train, held_out = split
    ae = AutoEncoder(**{**DENSE, **KINDS[kind]}).fit(train)
    for part in ("autoencoder", "encoder", "decoder"):
        ae.export_onnx(tmp_path / f"{part}.onnx", part=part)
    whole = onnx_outputs(tmp_path / "autoencoder.onnx", held_out)
    codes = ae.transform(held_out).astype(np.float32)
    assert relative_difference(whole["reconstruction"], ae.reconstruct(held_out), magnitude) <= TOLERANCE
    assert relative_difference(whole["code"], codes) <= TOLERANCE
    assert relative_difference(onnx_outputs(tmp_path / "encoder.onnx", held_out)["code"], codes) <= TOLERANCE
    decoded = onnx_outputs(tmp_path / "decoder.onnx", codes)["reconstruction"]
    assert relative_difference(decoded, ae.inverse_transform(codes), magnitude) <= TOLERANCE


def test_detector_export_scores_held_out_rows_as_the_detector(split, magnitude, tmp_path):
    train, held_out = split
    detector = AnomalyDetector(AutoEncoder(**DENSE), random_state=0).fit(train)
    detector.export_onnx(tmp_path / "detector.onnx")
    out = onnx_outputs(tmp_path / "detector.onnx", held_out)
    assert relative_difference(out["score"], detector.anomaly_score(held_out)) <= TOLERANCE
    assert relative_difference(out["reconstruction"], detector.reconstruct(held_out), magnitude) <= TOLERANCE
