"""Where ``export_onnx`` writes: a ``.onnx`` file, from Python as from the CLI, and never a folder."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from helpers import assert_one_line_error, run
from hourglass import AutoEncoder
from hourglass.exceptions import InvalidInputError

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.fixture(scope="module")
def digits_ae() -> AutoEncoder:
    X = (load_digits().data / 16.0).astype(np.float32)
    return AutoEncoder(code_size=4, epochs=1, random_state=0, device="cpu", verbose=0).fit(X)


@pytest.mark.parametrize(("name", "suffix"), [("model.txt", ".txt"), ("model", "")])
def test_python_export_refuses_a_name_without_onnx_suffix(digits_ae, tmp_path, name, suffix):
    # It wrote an ONNX graph to model.txt (and to model), which the CLI refuses.
    with pytest.raises(InvalidInputError, match=rf"unsupported suffix '{suffix}'; expected \.onnx") as info:
        digits_ae.export_onnx(tmp_path / name, force=True)
    assert len(str(info.value).splitlines()) == 1
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("force", [False, True])
def test_python_export_to_a_folder_says_it_is_a_folder(digits_ae, tmp_path, force):
    # It said "'...' refused a new file: Is a directory" after the whole export.
    folder = tmp_path / "onnx"
    folder.mkdir()
    with pytest.raises(InvalidInputError, match="is a folder; expected a .onnx file path"):
        digits_ae.export_onnx(folder, force=force)
    assert list(folder.iterdir()) == []


def test_python_export_writes_an_onnx_file(digits_ae, tmp_path):
    result = digits_ae.export_onnx(tmp_path / "model.ONNX")
    assert result.path.is_file()


def test_cli_export_to_a_folder_says_it_is_a_folder(digits_ae, tmp_path):
    model = digits_ae.save(tmp_path / "model")
    folder = tmp_path / "out"
    folder.mkdir()
    assert_one_line_error(*run("export", model, "-o", folder, "--force"), "is a folder; expected a .onnx")
    assert_one_line_error(*run("export", model, "-o", tmp_path / "m.txt"), "unsupported suffix '.txt'")
