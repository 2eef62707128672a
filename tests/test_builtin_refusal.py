"""A built-in set whose files are not installed is refused as the command line is read.

``hourglass fit fashion-mnist`` without the Debian package imported torch, scikit-learn and the
estimators (seconds) before the loader said the files were missing; the check now runs with the
other checks of DATA, before any heavy import.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from hourglass.cli.inputs import existing_source
from hourglass.data import builtin

NEEDS = "'apt-get install dataset-fashion-mnist', or pass the path of a folder of IDX files"

# The command as the installed script starts it (sys.argv[0] 'hourglass': import hourglass then
# loads no estimator), with Fashion-MNIST looked for in a folder given on the command line.
PROBE = """
import pathlib, sys
folder, out = sys.argv[1:]
sys.argv = ["hourglass"]
import hourglass.data.builtin as builtin
builtin.FASHION_MNIST_DIR = pathlib.Path(folder)
from hourglass.cli import main
code = main(["fit", "fashion-mnist", "-o", out])
print(code, sorted({m.split(".")[0] for m in sys.modules} & {"torch", "sklearn", "pandas"}))
"""


def test_fit_refuses_missing_fashion_mnist_before_importing_torch(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(empty), str(tmp_path / "m")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.stdout.split("\n")[0] == "2 []", (done.stdout, done.stderr[-2000:])
    said = f"hourglass: error: 'fashion-mnist' needs the IDX files in {str(empty)!r}: run {NEEDS}"
    assert done.stderr.strip() == said
    assert not (tmp_path / "m").exists()


def test_installed_split_passes_and_the_missing_split_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(builtin, "FASHION_MNIST_DIR", tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")  # only the training split installed
    assert existing_source("fashion-mnist") == "fashion-mnist"
    assert existing_source("digits") == "digits"
    assert builtin.missing_builtin("fashion-mnist:test") == (
        f"'fashion-mnist:test' needs the IDX files in {str(tmp_path)!r}: run {NEEDS}"
    )
    with pytest.raises(typer.Exit) as refused:
        existing_source("fashion-mnist:test")
    assert refused.value.exit_code == 2
