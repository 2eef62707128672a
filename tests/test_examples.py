"""Every script in examples/ runs to the end and prints its result (slow: each trains a model)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(script: str, *args: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def test_examples_folder_holds_the_tested_scripts():
    tested = {"tabular_vs_pca.py", "image_denoising.py", "anomaly_scores.py", "streaming_and_partial_fit.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


@pytest.mark.slow
def test_tabular_vs_pca_prints_the_table():
    out = _run("tabular_vs_pca.py")
    assert "held-out MSE in standardized units" in out
    assert re.search(r"^\s+2\s+[\d.]+\s+[\d.]+\s+[\d.]+", out, re.M), out
    assert re.search(r"^\s+5\s+[\d.]+", out, re.M), out


@pytest.mark.slow
def test_image_denoising_improves_on_the_noisy_input():
    out = _run("image_denoising.py", "2")  # 2 epochs: the run, not the figure, is under test
    noisy = float(re.search(r"noisy input\s+([\d.]+) dB", out).group(1))
    model = float(re.search(r"ConvAutoEncoder\s+([\d.]+) dB", out).group(1))
    assert "non-local means" in out
    assert model > noisy + 3, out


@pytest.mark.slow
def test_anomaly_scores_separate_digits_from_photo_patches():
    out = _run("anomaly_scores.py")
    assert "threshold_" in out and "labels_" in out
    assert float(re.search(r"AUROC digits vs photo patches: ([\d.]+)", out).group(1)) > 0.9, out
    assert "mean P(abnormal)" in out


@pytest.mark.slow
def test_streaming_and_partial_fit_train_from_the_file():
    out = _run("streaming_and_partial_fit.py")
    assert "fit on the memory map:" in out
    assert re.search(r"partial_fit: 80 chunks", out), out
    assert "PCA" in out
