"""Type checkers read the public API: mypy --strict accepts its right use and names a misspelling.

mypy analyses hourglass (silently: the package itself is not held to --strict here) and skips
every other library, which it then sees as ``Any``: the test is about hourglass's signatures,
and a cold run over PyTorch's stubs would take minutes.
"""

import ast
import importlib.util
import inspect
import site
from pathlib import Path

import pytest

import hourglass

api = pytest.importorskip("mypy.api")

GOOD = """
import numpy as np

from hourglass import AnomalyDetector, AutoEncoder, ConvAutoEncoder, VariationalAutoEncoder, VQAutoEncoder

X = np.zeros((10, 4))
ae = AutoEncoder(code_size=2, hidden_layers=(8,), epochs=3, learning_rate=1e-3, random_state=0)
conv = ConvAutoEncoder(channels=(4, 8), task="denoise", batch_size=32)
vae = VariationalAutoEncoder(code_size=4, beta=2.0)
vq = VQAutoEncoder(codebook_size=64, quantizer="fsq")
detector = AnomalyDetector(code_size=4, epochs=5, quantile=0.95)
size: int | None = ae.code_size
"""

BAD = {
    "AutoEncoder(code_sze=8)": 'Unexpected keyword argument "code_sze" for "AutoEncoder"',
    'AutoEncoder(code_size="8")': 'Argument "code_size" to "AutoEncoder" has incompatible type "str"',
    "ConvAutoEncoder(hidden_layers=(8,))": 'Unexpected keyword argument "hidden_layers"',
    "AnomalyDetector(None, 'quantile', 0.9, 0.1, 0.2, 0, 8)": "Too many positional arguments",
}


def _mypy(tmp_path: Path, source: str) -> tuple[str, int]:
    (tmp_path / "snippet.py").write_text(source)
    src = Path(hourglass.__file__).resolve().parents[1]
    installed = {Path(p).resolve() for p in site.getsitepackages()}
    # The tree under test: mypy does not read PYTHONPATH, and an editable install may point elsewhere.
    path = "" if src in installed else f"mypy_path = {src}\n"
    (tmp_path / "mypy.ini").write_text(
        "[mypy]\nstrict = True\nfollow_imports = skip\n"
        + path
        + "[mypy-hourglass.*]\nfollow_imports = silent\n"
    )
    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(tmp_path / "mypy.ini"),
            "--cache-dir",
            str(tmp_path / "cache"),
            str(tmp_path / "snippet.py"),
        ]
    )
    return stdout + stderr, status


def test_mypy_strict_accepts_the_public_api_used_rightly(tmp_path):
    out, status = _mypy(tmp_path, GOOD)
    assert status == 0, out


def test_mypy_reports_a_misspelt_or_mistyped_parameter(tmp_path):
    source = "from hourglass import AnomalyDetector, AutoEncoder, ConvAutoEncoder\n\n" + "\n".join(BAD) + "\n"
    out, status = _mypy(tmp_path, source)
    assert status == 1
    for line, (call, message) in enumerate(BAD.items(), start=3):
        assert f"snippet.py:{line}: error: {message}" in out, (call, out)


def test_every_lazy_public_name_is_imported_for_type_checkers():
    """``hourglass.__getattr__`` gives a type checker ``Any``; the TYPE_CHECKING imports do not."""
    tree = ast.parse(inspect.getsource(hourglass))
    guarded = next(
        node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    imported = {
        alias.name: node.module
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == hourglass._LAZY


def test_the_package_is_marked_typed():
    assert (Path(importlib.util.find_spec("hourglass").origin).parent / "py.typed").is_file()
