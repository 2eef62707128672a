"""The benchmarks as one suite: every module is listed, runnable by name, and writes its JSON."""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path

import numpy as np
import pytest

import benchmarks
from benchmarks import BENCHMARKS, HELPERS, description, load
from benchmarks.__main__ import main as run_benchmarks
from benchmarks.common import RESULTS, output_path, pca_reconstruction, sse_per_image

FOLDER = Path(benchmarks.__file__).parent


def test_every_module_of_the_folder_is_listed_once():
    modules = {path.stem for path in FOLDER.glob("*.py")} - set(HELPERS)
    assert sorted(BENCHMARKS) == sorted(modules)
    assert len(set(BENCHMARKS)) == len(BENCHMARKS)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_has_a_description_and_main_taking_argv(name):
    assert len(description(name)) > 20, name
    main = load(name).main
    assert list(inspect.signature(main).parameters) == ["argv"], name


def test_runner_lists_every_benchmark_with_its_description(capsys):
    assert run_benchmarks([]) == 0
    out = capsys.readouterr().out
    for name in BENCHMARKS:
        line = next(line for line in out.splitlines() if line.strip().startswith(name + " "))
        assert description(name) in line


def test_runner_refuses_an_unknown_name(capsys):
    assert run_benchmarks(["no_such_benchmark"]) == 2
    assert "no benchmark 'no_such_benchmark'" in capsys.readouterr().err


def test_runner_runs_one_benchmark_and_writes_its_json(tmp_path, capsys):
    out = tmp_path / "small.json"
    # The smallest benchmark there is: the README's small sets, CPU only, one epoch.
    code = run_benchmarks(["small-problems-device", "--devices", "cpu", "--epochs", "1", "--out", str(out)])
    assert code == 0
    written = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert json.loads(printed[printed.index('{\n  "benchmark"') :]) == written
    assert written["benchmark"] == "small_problems_device"
    rows = written["rows"]["cpu"]
    assert {(r["set"], r["code_size"]) for r in rows} == {
        ("digits_16", 2),
        ("digits_16", 16),
        ("breast_cancer", 2),
        ("iris", 2),
    }
    assert all(r["epochs_run"] == 1 and r["ratio_to_pca"] > 0 for r in rows)


@pytest.mark.parametrize(
    ("out", "quick", "expected"),
    [
        (None, False, RESULTS / "suite.json"),
        (None, True, None),
        ("-", False, None),
        ("elsewhere.json", True, Path("elsewhere.json")),
    ],
)
def test_output_path_keeps_smoke_runs_out_of_the_results(out, quick, expected):
    assert output_path(argparse.Namespace(out=out, quick=quick), "suite") == expected


def test_pca_reconstruction_is_exact_at_full_rank_and_sse_sums_over_pixels():
    X = np.random.default_rng(0).random((20, 5))
    np.testing.assert_allclose(pca_reconstruction(X, X, 5), X, atol=1e-12)
    images = np.zeros((2, 1, 2, 2))
    assert sse_per_image(images, images + 0.5) == pytest.approx(4 * 0.25)
