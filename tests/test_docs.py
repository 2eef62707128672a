"""The API reference builds from the docstrings with warnings as errors, as the README says."""

import html
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_docs_build_strict_shows_parameters_defaults_and_cli_help(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(ROOT / "mkdocs.yml"),
            "-d",
            str(site),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    estimators = _text(site / "estimators" / "index.html")
    # The estimators' written-out signatures, with each estimator's defaults.
    assert "code_size=2," in estimators and "epochs=100," in estimators
    assert ":class:" not in estimators  # Sphinx roles are rendered as code
    cli = _text(site / "cli" / "index.html")
    assert "hourglass fit --help" in cli and "--code-size" in cli


def _text(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
