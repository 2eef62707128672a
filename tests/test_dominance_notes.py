"""The note beside an error averaged over columns: which columns hold most of it, checked in the
raw and in the model's scaled units before either is claimed (the model report, calibrate)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

from helpers import run
from hourglass import AnomalyDetector, AutoEncoder
from hourglass.cli.analysis import _dominance
from hourglass.report.build import _error_summary

FAST = dict(code_size=2, hidden_layers=(16,), epochs=5, random_state=0, device="cpu", verbose=0)


@pytest.fixture(scope="module")
def wine_with_a_flag():
    """Wine (proline holds most of the raw-unit error), with a column constant but in a few rows:
    rows where it is set hold most of the standardized error, as digits' border pixels did."""
    frame = load_wine(as_frame=True).data.copy()
    frame["flag"] = 0.0
    frame.loc[frame.index[::40], "flag"] = 1.0  # 5 rows of 178: scale about 0.17
    return frame


def test_the_model_report_checks_the_standardized_columns_before_saying_they_judge_alike(wine_with_a_flag):
    # It said "the standardized columns judge every feature alike" without looking at them.
    ae = AutoEncoder(**FAST).fit(wine_with_a_flag)
    flagged = wine_with_a_flag[wine_with_a_flag["flag"] == 1.0]
    _, note = _error_summary({}, ae, flagged.to_numpy(), "flagged rows")
    assert note.startswith("raw-unit MSE is dominated by column 'proline'")
    assert "standardized MSE is dominated by column 'flag'" in note and "near-constant" in note
    assert "judge every feature alike" not in note
    _, plain = _error_summary(
        {}, ae, wine_with_a_flag.drop(columns="flag").assign(flag=0.0).to_numpy(), "rows"
    )
    assert plain.endswith("the standardized columns judge every feature alike")


def test_calibrate_names_the_near_constant_column_that_holds_the_standardized_error(
    wine_with_a_flag, tmp_path
):
    table = tmp_path / "wine.csv"
    wine_with_a_flag.to_csv(table, index=False)
    code, _, err = run("fit", table, "-o", tmp_path / "ae", "--epochs", "5", "--code-size", "2", "-q")
    assert code == 0, err
    flagged = tmp_path / "flagged.csv"
    wine_with_a_flag[wine_with_a_flag["flag"] == 1.0].to_csv(flagged, index=False)
    args = ("calibrate", tmp_path / "ae", flagged, "-o", tmp_path / "det", "--score", "reconstruction")
    code, out, err = run(*args)
    assert code == 0, err
    assert "standardized MSE is dominated by column 'flag'" in out
    assert "judge every feature alike" not in out


def test_a_detector_on_a_model_of_raw_units_claims_nothing_of_scaled_columns():
    # Its combined score is in medians of normal rows, its model reads raw units: the note said
    # "the standardized columns judge every feature alike" of columns nothing standardized.
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(size=(200, 6)), columns=list("abcdef"))
    X["a"] *= 50.0  # raw units: 'a' holds the error
    detector = AnomalyDetector(AutoEncoder(**FAST, scaling="none")).fit(X)
    note = _dominance(detector, X)
    assert note.startswith("raw-unit MSE is dominated by column 'a' (")
    assert "judge every feature alike" not in note
