"""The package as the public index would ship it: sdist, wheel, metadata, and a fresh install."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import hourglass

ROOT = Path(__file__).resolve().parents[1]
#: The CPU build the README pins; an unpinned torch would pull a multi-gigabyte CUDA build.
TORCH = "torch==2.13.0"


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The sdist, and the wheel built from it (so the sdist is proven complete)."""
    out = tmp_path_factory.mktemp("dist")
    build = "from setuptools import build_meta as b; import sys; print(b.build_sdist(sys.argv[1]))"
    subprocess.run([sys.executable, "-c", build, str(out)], cwd=ROOT, check=True, capture_output=True)
    sdist = next(out.glob("*.tar.gz"))
    with tarfile.open(sdist) as archive:
        archive.extractall(out / "src", filter="data")
    tree = next((out / "src").iterdir())
    wheel = "from setuptools import build_meta as b; import sys; print(b.build_wheel(sys.argv[1]))"
    subprocess.run([sys.executable, "-c", wheel, str(out)], cwd=tree, check=True, capture_output=True)
    return sdist, next(out.glob("*.whl"))


def test_distribution_is_named_hourglass_ae(dist):
    sdist, wheel = dist
    assert sdist.name == f"hourglass_ae-{hourglass.__version__}.tar.gz"
    assert wheel.name.startswith(f"hourglass_ae-{hourglass.__version__}-py3-none-any")


def test_wheel_holds_license_typing_marker_and_metadata(dist):
    with zipfile.ZipFile(dist[1]) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "hourglass/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.endswith(".onnx") for n in names)
    for line in ("Name: hourglass-ae", "License-Expression: BSD-3-Clause", "Project-URL: Changelog"):
        assert line in metadata, line
    assert "Classifier: Typing :: Typed" in metadata


def test_sdist_holds_license_and_changelog(dist):
    with tarfile.open(dist[0]) as archive:
        names = {Path(n).name for n in archive.getnames()}
    assert {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "py.typed"} <= names


def test_sdist_holds_what_its_tests_import(dist):
    # Without them 54 of 93 test modules failed to collect in the unpacked sdist.
    with tarfile.open(dist[0]) as archive:
        paths = {"/".join(Path(n).parts[1:]) for n in archive.getnames()}
    for needed in (
        "tests/conftest.py",
        "tests/helpers.py",
        "tests/fuzzing.py",
        "mkdocs.yml",
        "benchmarks/common.py",
    ):
        assert needed in paths, needed
    assert any(p.startswith("tests/data/") for p in paths)
    assert any(p.startswith("tests/saved_models/") for p in paths)
    assert not any("__pycache__" in p for p in paths)


def test_torch_bound_covers_the_apis_the_code_calls():
    # The CPU step clips with get_total_norm / clip_grads_with_norm_ (torch 2.6); the bound said 2.2.
    text = (ROOT / "pyproject.toml").read_text()
    bound = text.split('"torch>=', 1)[1].split('"', 1)[0]
    assert tuple(int(part) for part in bound.split(".")[:2]) >= (2, 6)
    assert "get_total_norm" in (ROOT / "src/hourglass/train/optimizer.py").read_text()


@pytest.mark.slow
def test_wheel_installs_in_a_fresh_venv_and_fits(dist, tmp_path):
    """Not editable, no source tree on the path: what `pip install hourglass-ae` gives a user."""
    # Nothing of this checkout on the path: a PYTHONPATH=src would make pip see it as installed.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["OMP_NUM_THREADS"] = "1"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, TORCH], check=True, env=env, cwd=tmp_path)
    subprocess.run([*pip, str(dist[1])], check=True, env=env, cwd=tmp_path)
    cli = str(venv / "bin" / "hourglass")
    version = subprocess.run([cli, "--version"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert version.returncode == 0 and hourglass.__version__ in version.stdout, version
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import hourglass; print(hourglass.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert str(venv) in where.stdout, where  # the installed copy, not this checkout
    fit = subprocess.run(
        [cli, "fit", "digits", "-o", "model", "--epochs", "2", "--hidden-layers", "16", "-q"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert fit.returncode == 0, fit.stderr
    assert (tmp_path / "model" / "config.json").exists()
