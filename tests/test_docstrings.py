"""The public methods users call most document every parameter and what they return (numpydoc)."""

from __future__ import annotations

import inspect
import re

import pytest

import hourglass

METHODS = {
    hourglass.AutoEncoder: [
        "fit", "partial_fit", "transform", "inverse_transform", "reconstruct", "reconstruction_error",
        "score", "score_samples", "layer_outputs", "save", "to_torch", "export_onnx",
    ],
    hourglass.AnomalyDetector: [
        "fit", "anomaly_score", "reconstruction_error", "score_samples", "decision_function", "predict",
        "predict_proba",
    ],
    hourglass.VariationalAutoEncoder: ["score_samples", "log_likelihood", "sample", "interpolate"],
}  # fmt: skip
SECTION = re.compile(
    r"^\s*(Parameters|Returns|Yields|Raises|Examples|Notes|See Also|Attributes)\n\s*-{3,}\s*$", re.M
)


def documented(doc: str, section: str) -> list[str] | None:
    """The names a numpydoc section lists (None: no such section)."""
    parts = SECTION.split(inspect.cleandoc(doc))
    for title, body in zip(parts[1::2], parts[2::2], strict=True):
        if title == section:
            names = re.findall(r"^(\w[\w, ]*?)(?: : |$)", body, re.M)
            return [name.strip() for group in names for name in group.split(",") if name.strip()]
    return None


@pytest.mark.parametrize(
    ("cls", "name"),
    [(cls, name) for cls, names in METHODS.items() for name in names],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_a_public_method_documents_its_parameters_and_result(cls, name):
    method = getattr(cls, name)
    doc = inspect.getdoc(method) or ""
    wanted = [p for p in inspect.signature(method).parameters if p not in ("self", "args", "kwargs")]
    listed = documented(doc, "Parameters")
    assert listed is not None or not wanted, f"{cls.__name__}.{name} has no Parameters section"
    assert set(wanted) <= set(listed or []), (
        f"{cls.__name__}.{name}: {set(wanted) - set(listed or [])} undocumented"
    )
    assert set(listed or []) <= set(wanted), f"{cls.__name__}.{name}: documents {set(listed) - set(wanted)}"
    assert documented(doc, "Returns") is not None, f"{cls.__name__}.{name} has no Returns section"


def test_the_detector_names_every_default_it_changes():
    # pca_path=False was left out of the list of the AutoEncoder defaults a detector changes.
    doc = inspect.getdoc(hourglass.AnomalyDetector)
    detector = inspect.signature(hourglass.AnomalyDetector).parameters
    autoencoder = inspect.signature(hourglass.AutoEncoder).parameters
    for name, parameter in detector.items():
        if name in autoencoder and parameter.default != autoencoder[name].default:
            assert f"``{name}=" in doc, name
