"""Edges of ``cluster`` and ``compare``: labels that cannot score a clustering (one class, continuous
values, a 2-D array), a comparison trained without a validation split or on one row, and a path
given where data belong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine
from typer.testing import CliRunner

import hourglass
from hourglass import AutoEncoder
from hourglass.cli import app
from hourglass.exceptions import InvalidInputError


def _tiny(**params) -> AutoEncoder:
    settings = {"hidden_layers": (8,), "epochs": 3, "random_state": 0, "verbose": 0, "device": "cpu"}
    return AutoEncoder(**{**settings, **params})


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def wine_ae(wine):
    return _tiny(code_size=2).fit(wine[0])


def run(args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


# --- cluster: labels that cannot score a clustering ----------------------------------------------


def test_cluster_refuses_labels_of_one_class_naming_it(wine, wine_ae):
    # One cultivar alone scored NMI, ARI and accuracy 1.0000 for codes, PCA and raw data.
    X, y = wine
    with pytest.raises(InvalidInputError, match=r"one class \(1\) for all 71 samples") as info:
        hourglass.cluster(wine_ae, X[y == 1], labels=y[y == 1])
    assert "at least 2 classes" in str(info.value) and "\n" not in str(info.value)


def test_cluster_refuses_continuous_labels_without_speaking_of_n_clusters(wine, wine_ae):
    # Said "n_clusters=40 must be smaller than the 40 samples", a parameter the user never set.
    with pytest.raises(InvalidInputError, match=r"continuous values \(40 distinct for 40 samples") as info:
        hourglass.cluster(wine_ae, wine[0][:40], labels=np.linspace(0, 1, 40))
    assert "n_clusters" not in str(info.value)


def test_cluster_says_how_many_distinct_labels_when_every_sample_has_its_own(wine, wine_ae):
    with pytest.raises(InvalidInputError, match="labels hold 40 distinct values for 40 samples") as info:
        hourglass.cluster(wine_ae, wine[0][:40], labels=np.arange(40))
    assert "n_clusters" not in str(info.value)


def test_cluster_names_the_shape_of_2d_labels(wine, wine_ae):
    # Said "labels have 80 entries for 40 samples".
    with pytest.raises(InvalidInputError, match=r"labels have shape \(40, 2\); expected .* shape \(40,\)"):
        hourglass.cluster(wine_ae, wine[0][:40], labels=np.zeros((40, 2)))


def test_cluster_still_takes_a_column_of_labels(wine, wine_ae):
    X, y = wine
    result = hourglass.cluster(wine_ae, X, labels=y[:, None], manifold=None)
    assert list(result.metrics["representation"]) == ["hourglass codes", "PCA codes", "raw data"]
    assert result.metrics["NMI"].max() < 1.0


@pytest.fixture(scope="module")
def one_cultivar(tmp_path_factory, wine):
    """A model fitted with a label column, and five rows of one cultivar (as wine5.csv)."""
    X, y = wine
    folder = tmp_path_factory.mktemp("cultivar")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["cultivar"] = np.array(["barolo", "grignolino", "barbera"])[y]
    _tiny(code_size=2).fit(frame, y="cultivar").save(folder / "model")
    frame.head(5).to_csv(folder / "wine5.csv", index=False)
    return folder


def test_cli_cluster_of_one_class_asked_for_exits_2(one_cultivar):
    folder = one_cultivar
    code, out, err = run(["cluster", folder / "model", folder / "wine5.csv", "--labels", "cultivar"])
    assert code == 2 and "one class ('barolo')" in err and "Traceback" not in err
    assert "1.0000" not in out


def test_cli_cluster_of_one_class_nobody_asked_for_clusters_without_metrics(one_cultivar):
    # The model's own label column, one cultivar in DATA: no perfect 1.0000 table, and says why.
    folder = one_cultivar
    code, out, err = run(["cluster", folder / "model", folder / "wine5.csv"])
    assert code == 0, err
    assert "1.0000" not in out and "NMI" not in out
    assert "one class (barolo): clustering without metrics" in out


# --- compare: a verdict without a validation split, one training row, a path ---------------------


def test_compare_without_a_validation_split_does_not_blame_a_falling_validation_loss(wine):
    # Six rows leave four to train on and none to validate: the run ended at its epoch limit with
    # its training loss still falling, and the verdict said "its validation loss still falling ...
    # train it longer" though no validation loss exists and the rows were memorized.
    X, _ = wine
    result = hourglass.compare(X[:6], code_sizes=[1, 2], estimator=_tiny(validation_fraction=0.1))
    history = result.models[1]["ae"].history_
    assert not np.isfinite(history.val_loss).any()  # no split indeed
    assert history.best_epoch == history.epoch[-1]  # the training loss still falling at the end
    result.table["ratio"] = [2.24, 1.58]  # PCA wins everywhere, as it did on the six wine rows
    verdict = result.verdict()
    assert "too few training rows to hold any out for validation (code sizes 1, 2)" in verdict
    assert "validation loss" not in verdict and "train it longer" not in verdict


def test_the_no_split_hint_replaces_the_undertrained_one():
    from types import SimpleNamespace

    from hourglass.train.history import History
    from hourglass.uses.comparison import Comparison

    history = History(epoch=[1, 2, 3], val_loss=[float("nan")] * 3, best_epoch=3)
    models = {1: {"ae": SimpleNamespace(history_=history, epochs=3), "pca": None}}
    verdict = Comparison(pd.DataFrame({"code_size": [1], "ratio": [2.2]}), models=models).verdict()
    assert "may be undertrained" not in verdict and "close to linear" not in verdict
    assert "too few training rows to hold any out for validation (code size 1)" in verdict


@pytest.mark.parametrize(("n", "test_size"), [(2, 0.2), (3, 0.5)])
def test_compare_refuses_a_single_training_row(wine, n, test_size):
    # Two rows trained on one: "standardized units" with no spread to standardize by, and numpy's
    # "invalid value encountered in divide" leaked.
    with pytest.raises(InvalidInputError, match=f"X has {n} sample.*at least 2 to train on"):
        hourglass.compare(wine[0][:n], code_sizes=[1], estimator=_tiny(), test_size=test_size)


def test_cli_compare_refuses_two_rows(tmp_path, wine):
    X, y = wine
    frame = pd.DataFrame(X[:2], columns=[f"f{i}" for i in range(X.shape[1])]).assign(target=y[:2])
    frame.to_csv(tmp_path / "two.csv", index=False)
    code, out, err = run(["compare", tmp_path / "two.csv", "--label", "target", "--code-sizes", "1", "-q"])
    assert code == 2 and "at least 2 to train on" in err and "Traceback" not in err
    assert "standardized units" not in out


def test_compare_with_three_rows_still_runs(wine):
    result = hourglass.compare(wine[0][:3], code_sizes=[1], estimator=_tiny(epochs=1))
    assert len(result.X_train) == 2 and len(result.X_test) == 1


@pytest.mark.parametrize("kind", ["folder", "file", "path"])
def test_compare_given_a_path_says_to_load_it(tmp_path, wine, kind):
    # Said "X has shape (); expected 2-D data".
    np.savetxt(tmp_path / "table.csv", wine[0][:20], delimiter=",")
    table = tmp_path / "table.csv"
    X = {"folder": str(tmp_path), "file": str(table), "path": Path(table)}[kind]
    with pytest.raises(InvalidInputError) as info:
        hourglass.compare(X, code_sizes=[2])
    message = str(info.value)
    assert "shape ()" not in message and "\n" not in message
    assert f"hourglass.load_data({str(X)!r}).X" in message
    assert ("estimator=ConvAutoEncoder()" in message) is (kind == "folder")
