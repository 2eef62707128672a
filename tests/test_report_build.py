import re

import pandas as pd
import pytest

from hourglass import AutoEncoder
from hourglass.report.build import comparison_report, model_report
from hourglass.uses.comparison import compare

TINY = {
    "hidden_layers": (16,),
    "epochs": 3,
    "batch_size": 32,
    "verbose": 0,
    "random_state": 0,
    "device": "cpu",
}
COMPARISON_SECTIONS = [
    "Summary",
    "Held-out reconstruction error",
    "Error against code size",
    "Training curves",
]
MODEL_SECTIONS = ["Summary", "Training curves", "Map of the codes", "Reconstruction error"]


def _headings(html: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", html)


def _pngs(html: str) -> int:
    return html.count('src="data:image/png;base64,')


@pytest.fixture(scope="module")
def comparison(digits):
    return compare(digits[0][:200], code_sizes=[2, 4], estimator=AutoEncoder(**TINY))


@pytest.fixture(scope="module")
def comparison_html(comparison, digits, tmp_path_factory):
    """The comparison report of image-like data with labels, saved and read back."""
    labels = digits[1][:200][comparison.test_index]
    report = comparison_report(comparison, "digits", (8, 8), labels)
    return report.save(tmp_path_factory.mktemp("report") / "report.html").read_text()


@pytest.fixture(scope="module")
def fitted(digits):
    X = digits[0][:120]
    return AutoEncoder(code_size=2, **TINY).fit(X), X, digits[1][:120]


def test_comparison_report_sections(comparison_html):
    headings = _headings(comparison_html)
    assert [h for h in headings if h in COMPARISON_SECTIONS] == COMPARISON_SECTIONS
    assert "Reconstructions at k=2" in headings and "Reconstructions at k=4" in headings
    assert headings.count("Map of the codes") == 1
    assert "Autoencoder vs PCA on digits" in comparison_html
    # error vs k, curves, two reconstruction grids, AE and PCA code maps in one figure
    assert _pngs(comparison_html) == 5


def test_comparison_report_table_shows_every_code_size(comparison_html):
    table = comparison_html[comparison_html.index("Held-out reconstruction error") :]
    for column in ["code size", "AE MSE", "PCA MSE", "AE / PCA"]:
        assert column in table


def test_comparison_report_is_self_contained(comparison_html):
    assert comparison_html.lstrip().lower().startswith("<!doctype html>")
    assert "<script" not in comparison_html
    assert not re.search(r"""(src|href)=["']https?://""", comparison_html)


def test_comparison_report_without_images_has_no_reconstructions(comparison):
    headings = _headings(comparison_report(comparison, "table").to_html())
    assert [h for h in headings if h in COMPARISON_SECTIONS] == COMPARISON_SECTIONS
    assert not any(h.startswith("Reconstructions") for h in headings)


@pytest.mark.parametrize("image_shape", [(8, 8), None])
def test_model_report_sections(fitted, image_shape):
    ae, X, y = fitted
    html = model_report(ae, X, "digits", image_shape, y).to_html()
    headings = _headings(html)
    assert [h for h in headings if h in MODEL_SECTIONS] == MODEL_SECTIONS
    assert ("Reconstructions" in headings) is (image_shape is not None)
    assert "AutoEncoder on digits" in html
    assert "mean reconstruction MSE" in html
    assert _pngs(html) == 3 + (image_shape is not None)


@pytest.mark.parametrize(
    ("ratios", "tones"),
    [([0.79, 1.18], ["win", "loss"]), ([1.2], ["loss"]), ([0.5, 0.6, 0.7], ["win", "win", "win"])],
)
def test_comparison_headline_shows_every_code_size_with_win_or_loss(ratios, tones):
    from hourglass.report.build import ratio_cards

    sizes = [2, 8, 16][: len(ratios)]
    table = pd.DataFrame(
        {"code_size": sizes, "ratio": ratios, "ae_mse": ratios, "pca_mse": [1.0] * len(ratios)}
    )
    cards, marked = ratio_cards(table)
    assert len(cards) == len(sizes) and list(marked.values()) == tones
    assert all(f"code size {k}:" in label for k, label in zip(sizes, cards, strict=True))
    assert all(("PCA wins" in label) == (tone == "loss") for label, tone in marked.items())


@pytest.mark.parametrize(
    ("units", "raw", "expected"),
    [
        ("standardized", [2.418, 1.5], ["in standardized units", "PCA wins in the data's raw units (2.42x)"]),
        ("standardized", [0.5, 1.2], ["in standardized units"]),
        ("data", [0.79, 1.18], []),
    ],
)
def test_comparison_cards_name_their_units_and_a_raw_unit_verdict_that_differs(units, raw, expected):
    # The cards said "the autoencoder wins" in z-scores alone, on breast cancer at 2.4x PCA's raw error.
    from hourglass.report.build import ratio_cards

    table = pd.DataFrame(
        {"code_size": [2, 8], "ratio": [0.79, 1.18], "ratio_raw": raw, "ae_mse": [0.79, 1.18], "pca_mse": 1.0}
    )
    cards, tones = ratio_cards(table, units)
    first, second = cards
    assert all(part in first for part in expected)
    assert ("raw units" in first) == (len(expected) == 2) and "raw units" not in second
    assert ("in data units" not in first) and list(tones.values()) == ["win", "loss"]


def test_report_marks_a_losing_card_with_its_word():
    from hourglass.report.html import Report

    page = Report("t")
    page.add_metrics({"code size 8": "1.18x PCA"}, tones={"code size 8": "loss"})
    assert 'class="stat loss"' in page.to_html() and ">loss</span>" in page.to_html()


def test_model_report_leads_with_the_held_out_error_and_pcas(fitted):
    # It showed the training error alone: a model at 20x PCA's held-out error looked fine.
    ae, X, y = fitted
    html = model_report(ae, X, "digits", None, y).to_html()
    ratio = ae.validation_mse_scaled_ / ae.validation_pca_mse_
    assert "held-out MSE (12 validation rows, data units)" in html
    assert "PCA&#x27;s held-out MSE (code size 2, same rows)" in html
    assert f"{ratio:.3g}x" in html
    assert html.index("held-out MSE") < html.index("mean reconstruction MSE")


def test_a_vae_report_says_its_loss_curve_is_per_value(digits):
    from hourglass import VariationalAutoEncoder

    vae = VariationalAutoEncoder(code_size=2, **TINY).fit(digits[0][:120])
    html = model_report(vae, digits[0][:120], "digits", None).to_html()
    assert "negative ELBO per value" in html and "about -64 times it" in html


def test_a_gaussian_vaes_report_does_not_scale_its_loss_into_the_elbo():
    # "-13 times the loss" read -13 nats on wine, where the card's ELBO said -22.6: the Gaussian
    # loss is an MSE with a weighted KL, without the likelihood's constant.
    from sklearn.datasets import load_wine

    from hourglass import VariationalAutoEncoder

    X = load_wine().data
    vae = VariationalAutoEncoder(code_size=2, **TINY).fit(X)
    assert vae.module_.likelihood != "bernoulli"
    html = model_report(vae, X, "wine", None).to_html()
    assert "times it" not in html and "normalizing constant" in html
