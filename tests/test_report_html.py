import base64
import io
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from hourglass.exceptions import InvalidInputError, OutputExistsError
from hourglass.report import plots
from hourglass.report.html import Report, format_number

COMPARE = pd.DataFrame(
    {
        "code_size": [2, 8, 32],
        "ae_mse": [0.0374, 0.0218, 0.0030],
        "pca_mse": [0.0526, 0.0253, 0.0028],
        "fit_s": [11.2, 12.437, 15.0],
    }
)


@pytest.fixture(scope="module")
def digits_report():
    X = load_digits().data / 16.0
    report = Report("Digits report", "The autoencoder beats PCA at k=8.")
    report.add_metrics({"held-out MSE": 0.0218, "samples": len(X)}, heading="Headline")
    report.add_table(COMPARE, heading="Compare", highlight={"ae_mse": "min"})
    report.add_figure(
        plots.reconstruction_grid({"original": X[:5], "copy": X[5:10]}, (8, 8)), heading="Recon"
    )
    report.add_figure(plots.code_map(X[:100, :6]), heading="Codes", caption="first 100 digits")
    return report


def _cells(html, css_class):
    return re.findall(rf'<td class="[^"]*\b{css_class}\b[^"]*">([^<]*)</td>', html)


def _png_payloads(html):
    return re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)


@pytest.mark.parametrize(
    "text", ["Digits report", "The autoencoder beats PCA at k=8.", "Headline", "Compare", "Recon"]
)
def test_report_html_contains_title_and_headings(digits_report, text):
    assert text in digits_report.to_html()


def test_report_sections_appear_in_the_order_added(digits_report):
    html = digits_report.to_html()
    positions = [html.index(f"<h2>{heading}</h2>") for heading in ("Headline", "Compare", "Recon", "Codes")]
    assert positions == sorted(positions)


def test_report_embeds_one_decodable_png_per_figure(digits_report):
    payloads = _png_payloads(digits_report.to_html())
    assert len(payloads) == 2
    for payload in payloads:
        image = Image.open(io.BytesIO(base64.b64decode(payload)))
        image.verify()
        assert image.format == "PNG"


def test_report_is_self_contained(digits_report):
    html = digits_report.to_html()
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()


@pytest.mark.parametrize(
    "method", ["title", "subtitle", "add_text", "heading", "caption", "table", "metrics"]
)
def test_report_escapes_user_text(method):
    evil = "<script>alert('x')</script>"
    report = Report(evil if method == "title" else "t", evil if method == "subtitle" else "")
    if method == "add_text":
        report.add_text(evil)
    elif method == "heading":
        report.add_text("body", heading=evil)
    elif method == "caption":
        report.add_table(COMPARE, caption=evil)
    elif method == "table":
        report.add_table(pd.DataFrame({evil: [evil]}))
    elif method == "metrics":
        report.add_metrics({evil: evil})
    html = report.to_html()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_report_text_paragraphs_split_on_blank_lines():
    report = Report("t")
    report.add_text("one\nstill one\n\n  \ntwo")
    assert re.findall(r"<p>(.*?)</p>", report.to_html(), flags=re.S) == ["one\nstill one", "two"]


@pytest.mark.parametrize(
    ("highlight", "expected"),
    [
        ({"ae_mse": "min"}, ["0.003"]),
        ({"pca_mse": "max"}, ["0.0526"]),
        ({"ae_mse": "min", "fit_s": "min"}, ["0.003", "11.20"]),
    ],
)
def test_report_table_highlights_best_value(highlight, expected):
    report = Report("t")
    report.add_table(COMPARE, highlight=highlight)
    assert sorted(_cells(report.to_html(), "best")) == sorted(expected)


def test_report_table_highlights_every_tie():
    report = Report("t")
    report.add_table(pd.DataFrame({"mse": [0.1, 0.2, 0.1]}), highlight={"mse": "min"})
    assert len(_cells(report.to_html(), "best")) == 2


@pytest.mark.parametrize(
    ("highlight", "match"), [({"nope": "min"}, "nope"), ({"ae_mse": "lowest"}, "lowest")]
)
def test_report_table_rejects_bad_highlight(highlight, match):
    with pytest.raises(InvalidInputError, match=match):
        Report("t").add_table(COMPARE, highlight=highlight)


def test_report_table_formats_numbers_and_right_aligns_them():
    report = Report("t")
    report.add_table(COMPARE)
    numbers = _cells(report.to_html(), "num")
    assert numbers[:4] == ["2", "0.0374", "0.0526", "11.20"]
    assert "12.44" in numbers  # seconds: two decimals


def test_report_table_keeps_ints_as_ints_next_to_missing_values():
    report = Report("t")
    report.add_table(pd.DataFrame({"epochs": [10, np.nan, 12000]}))
    assert _cells(report.to_html(), "num") == ["10", "—", "12,000"]


def test_report_table_prints_huge_errors_in_scientific_notation():
    # Floats past 2**52 are all whole; a raw MSE of 4.8e63 printed as 64 digits.
    report = Report("t")
    report.add_table(pd.DataFrame({"mse_raw": [4.832e63, 4.603e63], "inf": [np.inf, 1.0]}))
    assert _cells(report.to_html(), "num") == ["4.832e+63", "∞", "4.603e+63", "1"]


@pytest.mark.parametrize(
    ("value", "seconds", "text"),
    [
        (3, False, "3"),
        (np.int64(1234567), False, "1,234,567"),
        (0.0123456, False, "0.01235"),
        (123.456, False, "123.5"),
        (2.5e-6, False, "2.500e-06"),
        (4.0, False, "4"),
        (61.234, True, "61.23"),
        (0.003904, True, "0.0039"),  # PCA's fit read "0.00" seconds
        (0.0, True, "0.00"),
        (float("nan"), False, "—"),
        ("AE", False, "AE"),
    ],
)
def test_format_number_is_readable(value, seconds, text):
    assert format_number(value, seconds=seconds) == text


def test_report_metrics_make_one_card_each():
    report = Report("t")
    report.add_metrics({"held-out MSE": 0.012345, "fit time (s)": 3.14159, "model": "AE"})
    html = report.to_html()
    assert re.findall(r'<div class="value">([^<]*)</div>', html) == ["0.01235", "3.14", "AE"]
    assert html.count('<div class="stat">') == 3


def test_report_add_figure_closes_the_figure():
    fig = plots.histogram(np.arange(10.0), "t", "x")
    Report("t").add_figure(fig)
    assert not fig.axes


def test_report_save_refuses_existing_path_without_force(tmp_path):
    path = tmp_path / "report.html"
    path.write_text("old")
    with pytest.raises(OutputExistsError):
        Report("new").save(path)
    assert path.read_text() == "old"


@pytest.mark.parametrize("exists", [False, True])
def test_report_save_writes_with_force(tmp_path, exists):
    path = tmp_path / "sub" / "report.html"
    if exists:
        path.parent.mkdir()
        path.write_text("old")
    written = Report("new").save(str(path), force=True)
    assert written == path
    assert "<h1>new</h1>" in path.read_text(encoding="utf-8")


def test_report_content_without_heading_joins_the_section_above():
    report = Report("t")
    report.add_text("intro", heading="Scores")
    report.add_figure(plots.histogram(np.arange(10.0), "ten", "value"))
    html = report.to_html()
    assert html.count("<section") == 1
    assert 'alt="Scores"' in html  # the section's heading stands in for a missing caption


def test_report_figure_alt_text_prefers_explicit_then_caption():
    report = Report("t")
    report.add_figure(plots.histogram(np.arange(10.0), "ten", "value"), heading="H", caption="C", alt="A")
    report.add_figure(plots.histogram(np.arange(10.0), "ten", "value"), heading="H2", caption="C2")
    html = report.to_html()
    assert 'alt="A"' in html and 'alt="C2"' in html


@pytest.mark.parametrize(("ratios", "marked"), [([1.4, 1.1], []), ([1.4, 0.8], ["0.8"])])
def test_report_table_marks_a_best_value_only_past_the_bound(ratios, marked):
    report = Report("t")
    report.add_table(
        pd.DataFrame({"k": [2, 8], "ratio": ratios}), highlight={"ratio": "min"}, better_than={"ratio": 1.0}
    )
    assert _cells(report.to_html(), "best") == marked


def test_report_table_better_than_needs_a_highlighted_column():
    with pytest.raises(InvalidInputError, match="better_than names column 'k'"):
        Report("t").add_table(pd.DataFrame({"k": [1]}), better_than={"k": 1.0})
