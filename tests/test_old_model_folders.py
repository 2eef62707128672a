"""Model folders saved by an earlier hourglass (main at 3558ede) still load and give the same outputs.

The folders in ``tests/saved_models`` were written by ``make_saved_models.py`` with that code;
the registry of kinds must keep reading their ``estimator`` and architecture tags.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import hourglass
from hourglass import registry
from hourglass.estimators import persistence

SAVED = Path(__file__).parent / "saved_models"
KINDS = ("dense", "conv", "vq", "vae", "anomaly")


@pytest.mark.parametrize("kind", KINDS)
def test_a_folder_saved_before_loads_and_gives_the_same_outputs(kind):
    model = hourglass.load(SAVED / kind)
    assert type(model).__name__ == registry.kind(kind).estimator
    expected = np.load(SAVED / f"{kind}.npz")
    output = model.score_samples(expected["X"]) if kind == "anomaly" else model.transform(expected["X"])
    np.testing.assert_allclose(output, expected["output"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_saved_tags_are_those_the_registry_declares(kind):
    config = json.loads((SAVED / kind / persistence.CONFIG_FILE).read_text())
    assert config["format"] == persistence.FORMAT and config["format_version"] == persistence.FORMAT_VERSION
    entry = registry.kind(kind)
    assert config["estimator"] == entry.estimator
    if entry.architectures:
        assert config["architecture"]["kind"] in entry.architectures
