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

import hourglass
from hourglass import AnomalyDetector, AutoEncoder, ConvAutoEncoder, VariationalAutoEncoder, VQAutoEncoder

X = np.zeros((10, 4))
ae = AutoEncoder(code_size=2, hidden_layers=(8,), epochs=3, learning_rate=1e-3, random_state=0).fit(X)
codes = ae.transform(X)
ae.partial_fit(X)
again = hourglass.load("model")
conv = ConvAutoEncoder(channels=(4, 8), task="denoise", batch_size=32)
vae = VariationalAutoEncoder(code_size=4, beta=2.0)
vq = VQAutoEncoder(codebook_size=64, quantizer="fsq")
detector = AnomalyDetector(code_size=4, epochs=5, quantile=0.95).fit(X)
labels = detector.predict(X)
size: int | None = ae.code_size
"""

BAD = {
    "AutoEncoder(code_sze=8)": 'Unexpected keyword argument "code_sze" for "AutoEncoder"',
    'AutoEncoder(code_size="8")': 'Argument "code_size" to "AutoEncoder" has incompatible type "str"',
    "ConvAutoEncoder(hidden_layers=(8,))": 'Unexpected keyword argument "hidden_layers"',
    # A str, as the first keyword-only parameter (score_kind) takes: only the count is wrong.
    "AnomalyDetector(None, 'quantile', 0.9, 0.1, 0.2, 0, 'combined')": "Too many positional arguments",
}


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory) -> str:
    """One mypy run (a few seconds of CPU) over a right use of the API and over BAD's calls."""
    tmp = tmp_path_factory.mktemp("mypy")
    (tmp / "good.py").write_text(GOOD)
    bad = "from hourglass import AnomalyDetector, AutoEncoder, ConvAutoEncoder\n\n" + "\n".join(BAD) + "\n"
    (tmp / "bad.py").write_text(bad)
    src = Path(hourglass.__file__).resolve().parents[1]
    installed = {Path(p).resolve() for p in site.getsitepackages()}
    # The tree under test: mypy does not read PYTHONPATH, and an editable install may point elsewhere.
    path = "" if src in installed else f"mypy_path = {src}\n"
    (tmp / "mypy.ini").write_text(
        "[mypy]\nstrict = True\nfollow_imports = skip\n"
        + path
        + "[mypy-hourglass.*]\nfollow_imports = silent\n"
    )
    config, cache = str(tmp / "mypy.ini"), str(tmp / "cache")
    stdout, stderr, _ = api.run(
        ["--config-file", config, "--cache-dir", cache, str(tmp / "good.py"), str(tmp / "bad.py")]
    )
    return stdout + stderr


def test_mypy_strict_accepts_the_public_api_used_rightly(mypy_output):
    assert "good.py" not in mypy_output, mypy_output
    assert f"Found {len(BAD)} errors in 1 file" in mypy_output, mypy_output  # bad.py's, no other


def test_mypy_reports_a_misspelt_or_mistyped_parameter(mypy_output):
    for line, (call, message) in enumerate(BAD.items(), start=3):
        assert f"bad.py:{line}: error: {message}" in mypy_output, (call, mypy_output)


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
