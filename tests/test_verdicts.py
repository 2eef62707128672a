"""The cards, the table and the verdict of a comparison judge a ratio alike, and the verdict does
not blame the data's linearity on an autoencoder that stopped while still learning."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pandas as pd
import pytest

from hourglass.report.build import ratio_cards
from hourglass.train.history import History
from hourglass.uses.comparison import Comparison

WORDS = {"win": "the autoencoder wins", "loss": "PCA wins", "tie": "a tie"}


@pytest.mark.parametrize(
    ("ratio", "judged", "shown"),
    [(0.985, "win", "0.985x"), (0.995, "tie", "0.995x"), (1.004, "tie", "1.004x"), (1.015, "loss", "1.015x")],
)
def test_a_card_says_what_the_verdict_says_of_its_ratio(ratio, judged, shown):
    # 0.995 read "the autoencoder wins" in green, 1.004 "1x PCA" with "PCA wins" in red, beside a
    # verdict of a tie at both.
    table = pd.DataFrame({"code_size": [8], "ratio": [ratio], "ae_mse": [ratio], "pca_mse": [1.0]})
    cards, tones = ratio_cards(table)
    (label, value), verdict = next(iter(cards.items())), Comparison(table).verdict()
    assert WORDS[judged] in label and value == f"{shown} PCA"
    assert tones.get(label) == (None if judged == "tie" else judged)
    assert ("a tie at 8" in verdict) == (judged == "tie")


@pytest.mark.parametrize(("ratio", "marked"), [(0.995, False), (0.985, True)])
def test_the_table_marks_the_lowest_ratio_only_where_the_verdict_calls_it_a_win(digits, ratio, marked):
    from hourglass import AutoEncoder
    from hourglass.report.build import comparison_report
    from hourglass.uses.comparison import compare

    ae = AutoEncoder(epochs=1, hidden_layers=(16,), random_state=0, verbose=0, device="cpu")
    comparison = compare(digits[0][:120], code_sizes=[2], estimator=ae)
    comparison.table["ratio"] = ratio
    html = comparison_report(comparison, "digits").to_html()
    cell = re.search(rf'<td class="num( best)?">{ratio}</td>', html)
    assert cell and bool(cell[1]) is marked


@pytest.mark.parametrize(
    ("value", "text"), [(0.7864, "0.786x"), (1.0, "1x"), (1.004, "1.004x"), (1.18, "1.18x"), (2.418, "2.42x")]
)
def test_ratio_text_shows_the_third_decimal_near_one(value, text):
    from hourglass.data.units import ratio_text

    assert ratio_text(value) == text


def _model(epochs, best, **ended):
    history = History(epoch=list(range(1, epochs + 1)), best_epoch=best, **ended)
    return {"ae": SimpleNamespace(history_=history, epochs=epochs), "pca": None}


@pytest.mark.parametrize(
    ("models", "undertrained"),
    [
        ({8: _model(2, 2), 16: _model(2, 2)}, True),  # digits at --epochs 2: still falling at the end
        ({8: _model(40, 40), 16: _model(40, 12, stopped_early=True)}, True),  # one capped is enough
        ({8: _model(40, 31), 16: _model(40, 12, stopped_early=True)}, False),  # both past their best
        ({8: _model(40, 40, stopped_by_callback=True)}, False),
        ({}, False),  # a table alone: nothing known of training
    ],
)
def test_the_verdict_says_undertrained_not_linear_when_a_run_ended_still_learning(models, undertrained):
    table = pd.DataFrame({"code_size": list(models) or [8], "ratio": [2.93, 6.23][: max(1, len(models))]})
    verdict = Comparison(table, models=models).verdict()
    assert ("may be undertrained" in verdict) is undertrained
    assert ("close to linear" in verdict) is not undertrained
    if undertrained:
        assert "more epochs or time" in verdict and "epochs 'auto'" in verdict


def test_a_real_two_epoch_comparison_is_called_undertrained(digits):
    from hourglass import AutoEncoder
    from hourglass.uses.comparison import compare

    ae = AutoEncoder(epochs=2, hidden_layers=(32,), random_state=0, verbose=0, device="cpu")
    result = compare(digits[0][:400], code_sizes=[8], estimator=ae)
    assert result.table["ratio"].iloc[0] > 1.01  # PCA wins after 2 epochs
    assert "may be undertrained" in result.verdict() and "close to linear" not in result.verdict()


def test_the_error_figure_labels_a_tie_as_one_in_grey():
    from hourglass.report import plots

    table = pd.DataFrame({"code_size": [2, 8], "ae_mse": [0.995, 0.5], "pca_mse": [1.0, 1.0]})
    texts = {t.get_text(): t.get_color() for t in plots.error_vs_code_size(table).axes[0].texts}
    assert texts == {"0.995×": "#4b5563", "0.50×": "#15803d"}  # 0.995 was green "0.99×"
