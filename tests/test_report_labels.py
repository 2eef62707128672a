"""A model report's figures say what they are computed on, and carry the end-of-fit line's caveat.

The fit report called every row of the file "training data", its validation rows among them
(wine: 0.3653 on all 178 rows where the 160 training rows give 0.3622); its held-out headline
dropped the line's raw-unit figure and its warning on few rows; and the reconstruction grid of
a dense model drew its originals and reconstructions on two colour scales.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits, load_linnerud, load_wine

from helpers import assert_one_line_error, run
from hourglass import AutoEncoder
from hourglass.estimators import fitting
from hourglass.report import build
from hourglass.report.build import model_report
from hourglass.report.html_tables import format_number

FAST = {"code_size": 2, "epochs": 3, "random_state": 0, "verbose": 0, "device": "cpu"}


def _card(html: str, label: str) -> str:
    """The value shown on the summary card ``label`` (escaped as the page writes it)."""
    label = label.replace("'", "&#x27;")
    match = re.search(r'<div class="value">([^<]*)</div><div class="label">' + re.escape(label) + "<", html)
    assert match, label
    return match[1]


@pytest.fixture(scope="module")
def wine():
    X = load_wine().data
    return AutoEncoder(**FAST).fit(X), X


def test_model_report_of_the_fitted_data_scores_its_training_rows_alone(wine):
    ae, X = wine
    train, _ = fitting.split(ae, len(X))  # wine has no repeated rows: the fit's own split
    html = model_report(ae, X, "wine").to_html()
    expected = ae.reconstruction_error(X[train], scaled=True).mean()
    label = f"mean reconstruction MSE ({len(train)} training samples, standardized units)"
    assert _card(html, label) == format_number(float(expected))
    assert "training data" not in html
    assert f"Each of the {len(train)} training samples placed by its code" in html


def test_model_report_of_other_samples_does_not_call_them_training_data(wine):
    ae, X = wine
    html = model_report(ae, X[::-1].copy(), "wine, reversed").to_html()
    assert "mean reconstruction MSE (178 samples given, standardized units)" in html
    assert "training samples" not in html and "training data" not in html


def test_fit_report_scores_the_training_rows_and_names_the_label_column(tmp_path):
    frame = load_wine(as_frame=True).frame
    frame.to_csv(tmp_path / "wine.csv", index=False)
    code, _, err = run(
        "fit", tmp_path / "wine.csv", "--label", "target", "-o", tmp_path / "m", "--epochs", "3",
        "--threads", "1", "--quiet", "--report", tmp_path / "r.html",
    )  # fmt: skip
    assert code == 0, err
    html = (tmp_path / "r.html").read_text()
    assert "mean reconstruction MSE (160 training samples, standardized units)" in html
    assert "mean reconstruction MSE (160 training samples, the data&#x27;s raw units)" in html
    assert "training data" not in html
    assert "colours are the &#x27;target&#x27; column" in html


def test_report_carries_the_fit_lines_caveat_and_raw_figure():
    from hourglass.cli.fitting import validation_text
    from hourglass.estimators.held_out import held_out_error

    X = load_linnerud().data  # 20 rows: 2 held out
    ae = AutoEncoder(**FAST).fit(X)
    line, html = validation_text(ae), model_report(ae, X, "linnerud").to_html()
    caveat = "on only 2 held-out rows that also chose the epoch kept (hourglass compare tests on unseen rows)"
    assert caveat in line and caveat in html
    raw = _card(html, "held-out MSE (2 validation rows, the data's raw units)")
    assert raw == format_number(held_out_error(ae).raw) and f"({ae.validation_mse_:.4g} in the data" in line


def test_dense_reconstruction_grid_draws_every_row_on_one_scale(monkeypatch):
    X = load_digits().data[:300]  # pixels 0..16: a reconstruction on its own scale turned grey
    ae = AutoEncoder(**FAST).fit(X)
    ranges = []
    grid = build.plots.reconstruction_grid

    def recorded(rows, shape, value_range=None):
        ranges.append(value_range)
        return grid(rows, shape, value_range=value_range)

    monkeypatch.setattr(build.plots, "reconstruction_grid", recorded)
    html = model_report(ae, X, "digits", (8, 8)).to_html()
    assert ranges == [(0.0, 16.0)]
    assert "rows top to bottom: original, reconstruction; all on one colour scale" in html
    assert re.search(r'alt="10 of the \d+ training samples, spread over them', html)


def test_model_report_refuses_an_unknown_data_role(wine):
    from hourglass.exceptions import InvalidInputError

    with pytest.raises(InvalidInputError, match="data_role='test'"):
        model_report(wine[0], wine[1], "wine", data_role="test")


def test_training_rows_are_none_for_another_table_of_the_same_length(wine):
    ae, X = wine
    assert fitting.training_rows(ae, X + 1.0) is None
    assert len(fitting.training_rows(ae, X)) == 160


def test_report_refuses_a_folder_where_its_file_goes_before_training(tmp_path):
    # The whole fit ran, then the write failed with "Is a directory".
    table = pd.DataFrame(np.random.default_rng(0).random((40, 4)), columns=["a", "b", "c", "d"])
    table.to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "r.html").mkdir()
    code, out, err = run(
        "fit", tmp_path / "t.csv", "-o", tmp_path / "m", "--epochs", "1", "--report", tmp_path / "r.html",
        "--force",
    )  # fmt: skip
    assert_one_line_error(code, out, err, "r.html", "is a folder")
    assert not (tmp_path / "m").exists() and (tmp_path / "r.html").is_dir()


def test_fit_report_of_streamed_data_keeps_the_training_rows_of_its_sample(tmp_path, monkeypatch):
    from hourglass.data import sources

    monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 1024)  # digits' .npy is streamed from disk
    monkeypatch.setattr(sources, "SAMPLE_ROWS", 300)
    np.save(tmp_path / "d.npy", load_digits().data[:600].astype(np.float32) / 16)
    code, out, err = run(
        "fit", tmp_path / "d.npy", "-o", tmp_path / "m", "--epochs", "1", "--threads", "1",
        "--report", tmp_path / "r.html",
    )  # fmt: skip
    assert code == 0, err
    kept = re.search(r"300 rows drawn at random \(seed 0\) of 600, the (\d+) of them the model trained", out)
    assert kept and 240 < int(kept[1]) < 300, out
    assert f"mean reconstruction MSE ({kept[1]} training samples)" in (tmp_path / "r.html").read_text()
