"""The score report's histogram names the detector's score, and ``hourglass compare --time``."""

import numpy as np
import pandas as pd
import pytest

import hourglass.uses.comparison as comparison
from hourglass import AnomalyDetector, AutoEncoder
from hourglass.report.anomaly import anomaly_report_section
from tests.helpers import assert_one_line_error, run


class _Recorder:
    """Stands in for a Report: keeps the figures the section adds, open, to be read."""

    def __init__(self):
        self.figures = []

    def add_figure(self, fig, **kwargs):
        self.figures.append(fig)

    def add_metrics(self, *args, **kwargs):
        pass

    def add_text(self, *args, **kwargs):
        pass


@pytest.fixture(scope="module")
def rows():
    """(200, 6) rows far from [0, 1], so a reconstruction score is in standardized units."""
    rng = np.random.default_rng(0)
    return 100.0 + 10.0 * rng.normal(size=(200, 2)) @ rng.normal(size=(2, 6)) + rng.normal(size=(200, 6))


def _histogram_axes(kind, rows):
    ae = AutoEncoder(code_size=2, hidden_layers=(8,), epochs=2, random_state=0, verbose=0, device="cpu")
    detector = AnomalyDetector(ae, score_kind=kind, random_state=0).fit(rows)
    report = _Recorder()
    anomaly_report_section(report, detector, rows)
    return report.figures[0].axes[0]


@pytest.mark.parametrize(
    "kind, label",
    [
        ("combined", "anomaly score (reconstruction error + code distance), in medians of normal rows"),
        ("reconstruction", "reconstruction error (MSE), in standardized units"),
    ],
)
def test_score_histogram_axis_names_the_detectors_score_and_units(rows, kind, label):
    assert _histogram_axes(kind, rows).get_xlabel().removesuffix(" (log scale)") == label


def test_score_histogram_shows_the_quantile_under_the_threshold(rows):
    ax = _histogram_axes("combined", rows)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    # The threshold is the 99 % quantile: one entry says so, none draws it unseen on its own.
    assert any(text.startswith("threshold") and text.endswith("= calibration 99%") for text in labels)
    assert not any(text.startswith("calibration 99%") for text in labels)
    threshold = next(line for line in ax.lines if line.get_linestyle() == "--")
    under = [
        line for line in ax.lines if line is not threshold and line.get_xdata()[0] == threshold.get_xdata()[0]
    ]
    assert under and all(line.get_linewidth() > 2 * threshold.get_linewidth() for line in under)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("compare") / "tiny.csv"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 5)), columns=list("abcde"))
    frame.insert(0, "id", range(60))
    frame.to_csv(path, index=False)
    return path


def test_compare_time_splits_the_budget_among_the_code_sizes(table, monkeypatch):
    results = []
    real = comparison.compare

    def recording(*args, **kwargs):
        results.append(real(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(comparison, "compare", recording)
    code, out, err = run(
        "compare", table, "--drop", "id", "--code-sizes", "2,3", "--epochs", 2, "--time", "4s"
    )
    assert code == 0, err
    assert "at most 4 s in all, 2 s per code size" in out
    models = results[0].models
    assert sorted(models) == [2, 3]
    assert all(model["ae"].max_time == pytest.approx(2.0) for model in models.values())


@pytest.mark.parametrize("bad", ["0", "abc"])
def test_compare_bad_time_is_fits_one_line_error(table, tmp_path, bad):
    code, out, err = run("compare", table, "--drop", "id", "--time", bad)
    assert_one_line_error(code, out, err, f"--time {bad!r}", "expected a positive number of seconds")
    assert err == run("fit", table, "--drop", "id", "--time", bad, "-o", tmp_path / "model")[2]
