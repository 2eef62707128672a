"""Hostile names never reach a report as markup: every report kind, written through the CLI.

Column names, label values, data file names, photo file names and model folder names are what a
user (or whoever sent them the file) controls; each report shows some of them. The names below
carry a script tag, an attribute break-out with an event handler, and matplotlib's math markup
(which must not crash the figures either).
"""

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from helpers import run
from hourglass.data.images import save_image

#: In a column name or a label anything goes; a file name cannot hold "/".
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>$\\frac{1}{0}$'
HOSTILE_FILE = "<script>alert(1)<script>'><svg onload=alert(3)>$x$"


class _Markup(HTMLParser):
    """The tags and attribute names a browser would see in a page."""

    def __init__(self):
        super().__init__()
        self.tags, self.attributes = set(), set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)


def assert_escaped(page: str) -> None:
    """No script tag, no event-handler attribute (on...=) in ``page``, and the names did reach it."""
    markup = _Markup()
    markup.feed(page)
    assert "script" not in markup.tags and "svg" not in markup.tags
    assert not [name for name in markup.attributes if name.startswith("on")], markup.attributes
    assert "&lt;script&gt;" in page, "the hostile names never reached the report"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A table with hostile column names and labels, in a hostile file name; a model fitted on it."""
    folder = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.random((90, 6)), columns=[f"{HOSTILE}{i}" for i in range(6)])
    table["kind"] = np.array([f"{HOSTILE}a", f"{HOSTILE}b", f"{HOSTILE}c"])[np.arange(90) % 3]
    data = folder / f"{HOSTILE_FILE}.csv"
    table.to_csv(data, index=False)
    table[["kind"]].to_csv(folder / "labels.csv", index=False)
    table.drop(columns="kind").to_csv(folder / "numbers.csv", index=False)
    model = folder / f"model {HOSTILE_FILE}"
    fast = ["--code-size", "2", "--hidden", "8", "--epochs", "2", "--device", "cpu", "--quiet"]
    code, _, err = run("fit", data, "--label", "kind", "-o", model, *fast, "--report", folder / "fit.html")
    assert code == 0, err
    return folder, data, model


def test_fit_report_escapes_columns_labels_and_names(hostile):
    folder, *_ = hostile
    assert_escaped((folder / "fit.html").read_text())


def test_compare_report_escapes_columns_labels_and_names(hostile, tmp_path):
    _, data, _ = hostile
    code, _, err = run("compare", data, "--label", "kind", "--code-sizes", "2", "--epochs", "1", "--quiet",
                       "--report", tmp_path / "compare.html")  # fmt: skip
    assert code == 0, err
    assert_escaped((tmp_path / "compare.html").read_text())


def test_cluster_report_escapes_labels_and_model_name(hostile, tmp_path):
    folder, _, model = hostile
    code, _, err = run("cluster", model, folder / "numbers.csv", "--labels", folder / "labels.csv",
                       "--method", "gmm", "--quiet", "--report", tmp_path / "cluster.html")  # fmt: skip
    assert code == 0, err
    assert_escaped((tmp_path / "cluster.html").read_text())


def test_score_report_escapes_data_and_model_names(hostile, tmp_path):
    folder, _, model = hostile
    normal = tmp_path / f"{HOSTILE_FILE}.csv"
    pd.read_csv(folder / "numbers.csv").to_csv(normal, index=False)
    detector = tmp_path / f"detector {HOSTILE_FILE}"
    assert run("calibrate", model, folder / "numbers.csv", "-o", detector, "--quiet")[0] == 0
    code, _, err = run("score", detector, normal, "-o", tmp_path / "s.csv", "--quiet",
                       "--report", tmp_path / "score.html")  # fmt: skip
    assert code == 0, err
    assert_escaped((tmp_path / "score.html").read_text())


def test_image_report_escapes_photo_and_folder_names(tmp_path):
    photos = tmp_path / f"photos {HOSTILE_FILE}"
    rng = np.random.default_rng(0)
    for i in range(3):
        save_image(photos / f"{HOSTILE_FILE}{i}.png", rng.random((3, 24, 24)))
    model = tmp_path / f"m {HOSTILE_FILE}"
    conv = ["--arch", "conv", "--task", "denoise", "--noise", "0.1", "--channels", "4", "--image-size", "16"]
    code, _, err = run("fit", photos, "-o", model, *conv, "--epochs", "1", "--quiet",
                       "--report", tmp_path / "photos.html")  # fmt: skip
    assert code == 0, err
    assert_escaped((tmp_path / "photos.html").read_text())


@pytest.mark.parametrize(
    "name, written", [("r.html", "r.html"), ("r.HTML", "r.HTML"), ("r", "r/report.html")]
)
def test_report_path_names_the_file_or_the_folder(hostile, tmp_path, name, written):
    folder, _, model = hostile
    code, _, err = run("cluster", model, folder / "numbers.csv", "--method", "gmm", "--n-clusters", "2",
                       "--quiet", "--report", tmp_path / name)  # fmt: skip
    assert code == 0, err
    assert (tmp_path / written).is_file()


@pytest.mark.parametrize("raw", [HOSTILE, HOSTILE_FILE, "<p onclick=alert(1)>&lt;script&gt;</p>"])
def test_the_check_catches_markup_left_raw(raw):
    with pytest.raises(AssertionError):
        assert_escaped(f"<html><body>&lt;script&gt;{raw}</body></html>")
