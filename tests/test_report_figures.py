"""Every report kind, written by the CLI and read back as HTML: each figure has alt text and a heading.

A figure without a heading leaves the reader guessing what it shows, and one without alt text is
lost to a screen reader; both used to happen (the demo's PCA map, the score report's error maps).
"""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pytest

from helpers import assert_one_line_error, run
from hourglass.data.loading import load_data

TINY = ["--code-size", "2", "--hidden-layers", "16", "--epochs", "2", "--device", "cpu"]


class _Figures(HTMLParser):
    """Each ``<img>``'s alt text and the ``<h2>`` of the section it sits in (None: no heading above it)."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[tuple[str | None, str | None]] = []
        self._heading: str | None = None
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self._heading = None
        elif tag == "h2":
            self._in_h2, self._heading = True, ""
        elif tag == "img":
            self.images.append((dict(attrs).get("alt"), self._heading))

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False
        elif tag == "section":
            self._heading = None

    def handle_data(self, data):
        if self._in_h2:
            self._heading += data


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """150 digits as images and rows, their labels, and 0/1 labels (zeros as the abnormal class)."""
    folder = tmp_path_factory.mktemp("reports")
    digits = load_data("digits")
    X, y = digits.X[:150], digits.y[:150]
    np.save(folder / "images.npy", X.reshape(-1, 8, 8))
    np.save(folder / "rows.npy", X)
    np.save(folder / "labels.npy", y)
    np.save(folder / "abnormal.npy", (y == 0).astype(int))
    return folder


@pytest.fixture(scope="module")
def reports(folder) -> dict[str, str]:
    """The HTML of every report kind, made from tiny models on 150 digits."""
    commands = {
        # A sparsity guard adds the estimator's own sections (metrics, unit histogram, atoms).
        "fit": ["fit", folder / "images.npy", "-o", folder / "model", *TINY, "--l1-penalty", "0.001"],
        "compare": ["compare", folder / "images.npy", "--code-sizes", "2,4", "--epochs", "2"],
        "cluster": ["cluster", folder / "model", folder / "images.npy", "--labels", folder / "labels.npy"],
        "score": ["score", folder / "model", folder / "images.npy", "-o", folder / "s.csv", "--normal"],
        "score with labels": ["score", folder / "model", folder / "images.npy", "-o", folder / "t.csv"],
        "demo": ["demo", "--epochs", "2", "--code-sizes", "2", "-o", folder / "demo"],
    }
    commands["score"] += [folder / "rows.npy"]
    commands["score with labels"] += ["--normal", folder / "rows.npy", "--labels", folder / "abnormal.npy"]
    pages = {}
    for kind, args in commands.items():
        out = folder / kind.replace(" ", "-")
        report = ["--report", out] if kind != "demo" else []
        code, stdout, stderr = run(*args, *report, "-q")
        assert code == 0, (kind, stdout, stderr)
        pages[kind] = ((folder / "demo" if kind == "demo" else out) / "report.html").read_text()
    return pages


@pytest.mark.parametrize("kind", ["fit", "compare", "cluster", "score", "score with labels", "demo"])
def test_every_report_figure_has_alt_text_and_a_heading(reports, kind):
    parser = _Figures()
    parser.feed(reports[kind])
    assert parser.images, f"the {kind} report has no figures"
    for alt, heading in parser.images:
        assert alt and alt.strip() and alt != "figure", (kind, heading)
        assert heading and heading.strip(), (kind, alt)


@pytest.mark.parametrize(("kind", "has_auroc"), [("score", False), ("score with labels", True)])
def test_score_report_shows_auroc_only_with_labels(reports, kind, has_auroc):
    html = reports[kind]
    assert ("AUROC" in html) is has_auroc
    assert "Anomaly score (reconstruction error + code distance) against the calibration data" in html
    assert "Most abnormal samples of images" in html
    assert "%</div>" in html  # shares as percentages


@pytest.mark.parametrize("kind", ["compare", "demo"])
def test_comparison_reports_put_both_code_maps_in_one_card(reports, kind):
    html = reports[kind]
    card = html[html.index("<h2>Map of the codes</h2>") :]
    card = card[: card.index("</section>")]
    assert card.count("<img") == 1 and "autoencoder left and PCA right" in card


def test_score_refuses_labels_other_than_0_and_1(reports, folder, tmp_path):
    code, _, err = run(
        "score",
        folder / "model",
        folder / "images.npy",
        "-o",
        tmp_path / "s.csv",
        "--labels",
        folder / "labels.npy",
    )
    assert_one_line_error(code, "", err, "--labels", "expected 0 (normal) or 1 (abnormal)")
    assert not (tmp_path / "s.csv").exists()  # refused before anything was written
