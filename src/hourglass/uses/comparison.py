"""PCA side by side with the autoencoder, on the same split and at the same code size.

Tables of features go through :class:`hourglass.AutoEncoder`; images, series and video through
:class:`hourglass.ConvAutoEncoder`, against PCA on their flattened values.
"""

from __future__ import annotations

import math
import numbers
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from hourglass.data.duplicates import duplicate_groups, keep_together, repeats_note
from hourglass.data.table import column_labels, split_frame
from hourglass.data.units import UNITS_TEXT  # noqa: F401 (how Comparison.units reads; importers use it)
from hourglass.estimators.base import BaseAutoEncoder
from hourglass.estimators.code_width import default_code_sizes
from hourglass.estimators.dense import AutoEncoder
from hourglass.estimators.fitting import budget_shorter_than_an_epoch
from hourglass.exceptions import InvalidInputError, TimeBudgetWarning
from hourglass.train.budget import parse_duration
from hourglass.train.tasks import task_of
from hourglass.uses.dominance import (  # noqa: F401 (importable from here, where they were)
    DOMINANCE_SHARE,
    STANDARDIZED_DOMINANCE_SHARE,
    dominance_note,
)
from hourglass.uses.verdicts import (
    TIE_MARGIN,  # noqa: F401 (importable from here, where it was)
    in_units,
    outcome,
    outcomes_text,
    still_learning,
    unvalidated,
)


@dataclass
class Comparison:
    """The result of :func:`compare`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per code size: ``code_size, ae_mse, pca_mse, ratio, ae_mse_raw, pca_mse_raw,
        ratio_raw, ae_seconds, pca_seconds, ae_epochs, loss``. ``ae_mse`` and ``pca_mse`` are in
        :attr:`units`; the ``_raw`` columns are in the data's own units.
    models : dict
        The fitted autoencoders and PCAs by code size: ``{k: {'ae': ..., 'pca': ...}}``. Each
        PCA was fitted on the training rows as the autoencoder's scaler maps them, so
        ``pca.transform`` takes scaled rows (see :meth:`pca_reconstruct`).
    X_train, X_test : ndarray
        The split every model was fitted and scored on: rows ``(n, d)``, or samples
        ``(n, c, ...)`` for a convolutional autoencoder (PCA sees them flattened).
    test_index : ndarray
        Rows of the input that form ``X_test`` (to pick their labels, say).
    units : {'data', 'standardized'}
        ``'data'`` when every training value lies in [0, 1] (pixels, rates: their own units are
        comparable), ``'standardized'`` otherwise (per-feature z-scores from the training rows,
        so a column in thousands does not outweigh one in fractions).
    note : str or None
        A one-line warning when a few columns hold most of the raw-unit error, or, for a
        convolutional autoencoder with a spatial code, how many values that code has (the
        number of PCA components it is compared with).
    y_test : ndarray or None
        Labels of the held-out rows, when ``y`` was given.
    """

    table: pd.DataFrame
    models: dict[int, dict[str, Any]] = field(default_factory=dict)
    # The arrays stay out of the repr: printed, a result was hundreds of lines of data.
    X_train: np.ndarray | None = field(default=None, repr=False)
    X_test: np.ndarray | None = field(default=None, repr=False)
    test_index: np.ndarray | None = field(default=None, repr=False)
    units: str = "data"
    note: str | None = None
    y_test: np.ndarray | None = field(default=None, repr=False)

    def verdict(self) -> str:
        """One or two sentences on who wins: at which code sizes the autoencoder's held-out error
        is below PCA's and by how much (a ratio within 1 % of 1 is a tie), in which units, and
        where the data's raw units say otherwise.

        Standardized units judge every column alike; the raw units let the columns with the
        largest numbers decide (breast cancer's areas, wine's proline), so the two can disagree:
        where they differ at any code size, the whole raw-unit verdict follows, with its ratios.
        Where PCA wins at every code size, it says why that may be: a model whose run ended at its
        epoch or time limit with its validation loss still falling may be undertrained
        (:func:`~hourglass.uses.verdicts.still_learning`); a model trained on rows too few to hold
        any out for validation leaves that unjudged (:func:`~hourglass.uses.verdicts.unvalidated`);
        otherwise the data may be close to linear.

        Examples
        --------
        >>> table = pd.DataFrame({"code_size": [2, 8, 16], "ratio": [0.47, 0.995, 1.12]})
        >>> print(Comparison(table).verdict())  # doctest: +NORMALIZE_WHITESPACE
        in the data's units, the autoencoder beats PCA at code size 2 (0.47x its error); a tie at 8;
        PCA wins at 16 (1.12x)
        >>> table = pd.DataFrame({"code_size": [2, 8], "ratio": [0.92, 0.96], "ratio_raw": [2.4, 0.9]})
        >>> print(Comparison(table, units="standardized").verdict())  # doctest: +NORMALIZE_WHITESPACE
        in standardized units, the autoencoder beats PCA at every code size (0.92x-0.96x its error).
        In the data's raw units it differs: the autoencoder beats PCA at code size 8 (0.9x its error);
        PCA wins at 2 (2.4x)
        """
        table = self.table
        ratios = _ratios(table, "ratio")
        # A model stopped while still learning loses to PCA for that, not for the data's shape.
        undertrained = still_learning(self.models)
        verdict = outcomes_text(ratios, len(ratios), True, undertrained, unvalidated(self.models))
        text = f"{in_units(self.units)}, {verdict}"
        if self.units == "data" or "ratio_raw" not in table:
            return text  # in the data's own units the raw ratios are these ones
        raw = _ratios(table, "ratio_raw")
        differ = {k: r for k, r in raw.items() if outcome(r) != outcome(ratios[k])}
        if not differ:
            return f"{text}; the same in the data's raw units"
        # The whole raw-unit verdict: "it differs: the autoencoder beats PCA at 8" alone read as
        # if PCA won at the other sizes, where the autoencoder won in raw units too.
        return f"{text}. In the data's raw units it differs: {outcomes_text(raw, len(raw), hint=False)}"

    def shown_table(self) -> pd.DataFrame:
        """The table as people read it: without the raw-unit columns when they repeat the headline."""
        if self.units == "data":
            return self.table.drop(columns=["ae_mse_raw", "pca_mse_raw", "ratio_raw"])
        return self.table

    def pca_reconstruct(self, k: int, X: np.ndarray) -> np.ndarray:
        """PCA(k)'s reconstruction of rows ``X``, in the data's units (the same scaling as the AE)."""
        return pca_reconstruct(self.models[k]["pca"], self.models[k]["ae"].scaler_, X)


def _ratios(table: pd.DataFrame, column: str) -> dict[int, float]:
    return dict(zip(table["code_size"].astype(int), table[column].astype(float), strict=True))


def pca_reconstruct(pca: PCA, scaler, X: np.ndarray) -> np.ndarray:
    """Reconstruct ``X`` with a PCA fitted on ``scaler``-mapped data, back in the data's units.

    ``X`` is rows ``(n, d)`` or samples ``(n, c, ...)``, which the PCA sees flattened; the
    result has the shape of ``X``.

    Examples
    --------
    >>> from hourglass.data.scaling import fit_scaler
    >>> X = np.random.default_rng(0).normal(size=(50, 4)) * [1, 10, 100, 1000]
    >>> scaler = fit_scaler(X, "standard")
    >>> pca = PCA(4).fit(scaler.transform(X))
    >>> bool(np.allclose(pca_reconstruct(pca, scaler, X), X, rtol=1e-4, atol=1e-2))
    True
    """
    scaled = scaler.transform(np.asarray(X, dtype=np.float32))
    flat = scaled.reshape(len(scaled), -1)
    return scaler.inverse_transform(pca.inverse_transform(pca.transform(flat)).reshape(scaled.shape))


def _is_conv(estimator: Any) -> bool:
    from hourglass.estimators.conv import ConvAutoEncoder

    return isinstance(estimator, ConvAutoEncoder)


def _conv_code_size(estimator: BaseAutoEncoder, sample_shape: tuple[int, ...]) -> int | None:
    """The conv estimator's own code for samples of ``sample_shape`` ('auto' resolved; None: spatial)."""
    return estimator._input().code_size(estimator, tuple(sample_shape))


def _conv_samples(X: Any, estimator: BaseAutoEncoder) -> np.ndarray:
    """``X`` as the samples ``(n, c, ...)`` a convolutional autoencoder reads, or a one-line error."""
    from hourglass.data.loading import check_finite

    if task_of(estimator).restoration:
        raise InvalidInputError(
            f"compare needs an autoencoder that reconstructs its input; task={estimator.task!r} restores "
            "images instead (its baselines are in the task's report, not PCA)"
        )
    data = np.asarray(estimator._input().load(estimator, X.to_numpy() if hasattr(X, "to_numpy") else X))
    if data.ndim == 3 and (estimator.color_mode == "L" or data.shape[1] > 16):
        data = data[:, None]  # gray images (n, h, w) -> (n, 1, h, w)
    if data.ndim not in (3, 4, 5):
        what = "a flat table of rows" if data.ndim == 2 else f"{data.ndim}-D data"
        raise InvalidInputError(
            f"X has shape {data.shape} ({what}); a convolutional autoencoder compares on images "
            "(n, c, h, w) or (n, h, w), series (n, c, L) or video (n, c, t, h, w); for tables use the "
            "dense AutoEncoder (--arch dense)"
        )
    return check_finite(data.astype(np.float32, copy=False), "X")


def _check_estimator(estimator: Any) -> None:
    """A one-line error unless ``estimator`` is None or an autoencoder that ``compare`` can clone."""
    if estimator is None or isinstance(estimator, BaseAutoEncoder):
        return
    hint = (
        "; to compare a detector's autoencoder, pass AutoEncoder() with its settings"
        if type(estimator).__name__ == "AnomalyDetector"
        else ""
    )
    raise InvalidInputError(
        f"estimator={estimator!r}; expected an hourglass AutoEncoder, "
        f"VariationalAutoEncoder or ConvAutoEncoder, or None{hint}"
    )


def _code_sizes(code_sizes: Any) -> list[int | None]:
    """``code_sizes`` as a list, each a whole number (or None: a conv model's spatial code)."""
    if isinstance(code_sizes, str) or not np.iterable(code_sizes):
        if isinstance(code_sizes, numbers.Integral) and not isinstance(code_sizes, bool):
            return [int(code_sizes)]  # one code size given alone
        raise InvalidInputError(
            f"code_sizes={code_sizes!r}; expected a list of whole numbers such as [2, 8, 16]"
        )
    sizes = list(code_sizes)
    bad = [k for k in sizes if k is not None and (isinstance(k, bool) or not isinstance(k, numbers.Integral))]
    if bad:
        raise InvalidInputError(
            f"code sizes {bad} are not whole numbers; expected a list of whole numbers such as [2, 8, 16]"
        )
    # Each size once, smallest first: '8,2,2' trained 2 twice and ordered the table as typed.
    whole = sorted({int(k) for k in sizes if k is not None})
    return [None] * (None in sizes) + whole


def _path_given(X: str | os.PathLike) -> str:
    """Why a path is no data for the dense autoencoder, and what to pass instead."""
    if Path(X).is_dir():
        return (
            f"X={str(X)!r} is a folder, not data; a folder of images trains a convolutional model: "
            "pass estimator=ConvAutoEncoder() (as hourglass compare --arch conv); a folder of IDX files "
            f"loads as rows with hourglass.load_data({str(X)!r}).X"
        )
    return (
        f"X={str(X)!r} is a file or data set name, not data; expected an array or DataFrame: load it first, "
        f"hourglass.load_data({str(X)!r}).X"
    )


def _too_few(n: int, test_size: float, n_train: int | None = None) -> str:
    left = "" if n_train is None else f" (the split leaves {n_train} to train on, copies kept together)"
    return (
        f"X has {n} sample(s){left}; comparing needs at least 2 to train on and 1 to test on "
        f"(test_size={test_size}): give more samples or a smaller test_size"
    )


def _table_features(X: pd.DataFrame, label: str | None) -> pd.DataFrame:
    """A DataFrame's feature columns (``label`` left out), refused as ``fit`` refuses them: a
    column that is not numeric, or a NaN, named by column and index label."""
    from hourglass.estimators.inputs.rows import name_non_finite, reject_non_numeric_columns

    X, _ = split_frame(X, label)
    X = reject_non_numeric_columns(X)  # numbers stored as text read as numbers
    name_non_finite(X)
    return X


def _warn_if_budget_short(models: dict) -> None:
    """One :class:`~hourglass.exceptions.TimeBudgetWarning` for the code sizes whose time budget was
    shorter than one epoch, which each still trained whole: a 30,000-image conv comparison given 2 s
    took 106 s without a word."""
    short = {k: m["ae"] for k, m in models.items() if budget_shorter_than_an_epoch(m["ae"])}
    if not short:
        return
    budget = parse_duration(next(iter(short.values())).max_time)  # '2s' and 2 alike
    epochs = [ae.history_.seconds[0] for ae in short.values()]
    spans = f"{min(epochs):.3g}" + (f"-{max(epochs):.3g}" if max(epochs) > min(epochs) else "")
    sizes = ", ".join(str(k) for k in short)
    warnings.warn(
        f"the time budget of {budget:g} s per code size is shorter than one epoch ({spans} s) at "
        f"code size{'s' if len(short) > 1 else ''} {sizes}: each trained one whole epoch, "
        f"{sum(ae.fit_seconds_ for ae in short.values()):.3g} s in all",
        TimeBudgetWarning,
        stacklevel=3,
    )


def compare(
    X: Any,
    code_sizes: list[int] | tuple[int, ...] | None = None,
    estimator: BaseAutoEncoder | None = None,
    test_size: float = 0.2,
    random_state: int = 0,
    verbose: int = 0,
    y: Any = None,
) -> Comparison:
    """Fit PCA and the autoencoder at each code size on one split; score both on held-out data.

    PCA and the autoencoder see the same data: PCA is fitted on the training rows as the
    autoencoder's scaler maps them (standardized for data outside [0, 1]) and its reconstruction
    is mapped back the same way. Both are scored on the held-out rows in one set of units:
    the data's own when every training value lies in [0, 1], per-feature z-scores from the
    training rows otherwise (where the raw-unit error, also reported, is decided by whichever
    column has the largest numbers).

    With a :class:`~hourglass.ConvAutoEncoder` the data are images ``(n, c, h, w)`` or
    ``(n, h, w)`` (or series, video, or a path the estimator reads: an image or IDX folder)
    and PCA works on their flattened pixels. Each code size is the conv model's flat
    ``code_size``; with ``code_sizes=None`` the model keeps its own (``'auto'``: a quarter of a
    sample's values, at most 16), and where that is its spatial code (``code_size=None``), PCA
    gets as many components as that code has values (``note`` says how many).
    Outside [0, 1], errors are standardized per channel, as the conv model's scaler does.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples, c, ...)
        The data: rows for the dense autoencoder, samples ``(n, c, ...)`` for a conv one.
    code_sizes : list of int, int or None, default=None
        Code sizes to compare (each smaller than the values of one sample). None: those of
        (2, 8, 16) below the number of features for the dense autoencoder; the conv
        estimator's own ``code_size`` ('auto' resolved for the data; its spatial code when that
        is None).
    estimator : AutoEncoder or ConvAutoEncoder, optional
        The autoencoder to clone at each code size (its ``code_size`` is overridden);
        ``AutoEncoder(random_state=random_state)`` by default. Its ``max_time`` bounds each
        fit: for a budget of the whole comparison, give it that over ``len(code_sizes)``, as
        ``hourglass compare --time`` does.
    test_size : float, default=0.2
        Share of the samples held out for scoring.
    random_state : int, default=0
        Seeds the split (and the default autoencoder).
    verbose : int, default=0
        Passed to the default autoencoder (1 shows progress bars).
    y : array-like of shape (n_samples,) or str, optional
        Labels, never used for fitting: they colour the code maps of the report. A string
        names a column of the DataFrame ``X``, which is then no feature.

    Returns
    -------
    Comparison
        ``.table`` holds held-out MSE in ``.units``, the AE/PCA ratio (below 1: the autoencoder
        wins), the same in raw units, and fit seconds per code size; ``.note`` warns when a few
        columns dominate the raw-unit error.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> result = compare(load_digits().data / 16, code_sizes=[2, 8])  # doctest: +SKIP
    >>> result.table[["code_size", "ae_mse", "pca_mse", "ratio"]]        # doctest: +SKIP
    >>> images = (load_digits().data / 16).reshape(-1, 1, 8, 8)
    >>> conv = ConvAutoEncoder(channels=(8,), epochs=1)                  # doctest: +SKIP
    >>> compare(images, code_sizes=[8], estimator=conv).table            # doctest: +SKIP
    """
    from hourglass.data.loading import validate_finite_2d
    from hourglass.data.scaling import fit_scaler, in_unit_interval

    _check_estimator(estimator)
    conv = _is_conv(estimator)
    if not conv and isinstance(X, (str, os.PathLike)):
        raise InvalidInputError(_path_given(X))
    y_column = y if isinstance(y, str) else None
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real) or not 0.0 < test_size < 1.0:
        raise InvalidInputError(f"test_size={test_size!r}; expected a share of the samples in (0, 1)")
    y = column_labels(X, y, "y")
    if isinstance(X, pd.DataFrame) and not conv:
        X = _table_features(X, y_column)
    names = [str(c) for c in X.columns] if hasattr(X, "columns") and not conv else None
    if conv:
        X = _conv_samples(X, estimator)
    else:
        X = validate_finite_2d(np.asarray(X) if not hasattr(X, "to_numpy") else X.to_numpy(), "X", names)
    n_values = int(np.prod(X.shape[1:]))
    if n_values < 2:  # said here: the default code sizes' check would name sizes nobody gave
        what = "value per sample" if conv else "feature"
        raise InvalidInputError(
            f"X has 1 {what} (shape {X.shape}); compare needs at least 2, since a code must be narrower "
            "than the data it compresses"
        )
    own = _conv_code_size(estimator, X.shape[1:]) if conv else None
    spatial = conv and code_sizes is None and own is None
    if code_sizes is None:
        code_sizes = [own] if conv else default_code_sizes(n_values)  # None: the conv model's spatial code
    sizes = _code_sizes(code_sizes)
    if not sizes:
        raise InvalidInputError("code_sizes is empty; expected at least one code size")
    too_wide = [k for k in sizes if k is not None and not 1 <= k < n_values]
    if too_wide:
        what = "values of one sample" if conv else "number of features"
        raise InvalidInputError(
            f"code sizes {too_wide} are not between 1 and the {what} minus one ({n_values - 1})"
        )
    if y is not None:
        y = np.asarray(y).ravel()
        if len(y) != len(X):
            raise InvalidInputError(f"y has {len(y)} labels for {len(X)} samples; expected one per sample")
    # Two training rows at least: one has no spread, so nothing can be standardized by it (the
    # table read "standardized units" in raw ones, and numpy warned of a division by zero).
    if len(X) < 3 or math.floor((1 - test_size) * len(X)) < 2:
        raise InvalidInputError(_too_few(len(X), test_size))
    train_index, test_index = train_test_split(
        np.arange(len(X)), test_size=test_size, random_state=random_state
    )
    groups = duplicate_groups(X)
    if groups is not None:  # identical rows on one side: a held-out row's copy must not be a training row
        train_index, test_index = keep_together(train_index, test_index, groups)
    if len(train_index) < 2 or len(test_index) < 1:  # copies kept on one side can leave too few
        raise InvalidInputError(_too_few(len(X), test_size, len(train_index)))
    X_train, X_test = X[train_index], X[test_index]
    too_few = [k for k in sizes if k is not None and k > len(X_train)]
    if too_few:
        raise InvalidInputError(
            f"code sizes {too_few} exceed the {len(X_train)} training samples the split leaves "
            f"(test_size={test_size}), so PCA cannot have as many components; give smaller code sizes "
            "or more samples"
        )
    units = "data" if in_unit_interval(X_train) else "standardized"
    # z-scores from the training rows (per feature; per channel for conv data, as its scaler).
    std = 1.0
    if units == "standardized":
        std = fit_scaler(X_train, "standard", channel_axis=1 if conv else None).scale
    base = estimator if estimator is not None else AutoEncoder(random_state=random_state, verbose=verbose)
    rows, models, column_errors, column_z, note = [], {}, None, None, None
    for k in sizes:
        ae = clone(base) if k is None else clone(base).set_params(code_size=k)
        tic = time.perf_counter()
        with warnings.catch_warnings():  # said once for all the code sizes, below
            warnings.filterwarnings("ignore", category=TimeBudgetWarning)
            ae.fit(X_train)
        ae_seconds = time.perf_counter() - tic
        if k is None:  # a spatial code: PCA with as many components as it has values
            k = ae._n_features_out
            limit = min(len(X_train), n_values)
            if k >= n_values:
                raise InvalidInputError(
                    f"the conv code is a map of {k} values, not fewer than the {n_values} of one sample, "
                    "so PCA with as many components would be exact; give code_sizes or fewer channels"
                )
            if k > limit:
                raise InvalidInputError(
                    f"the conv code is a map of {k} values, more than the {len(X_train)} training samples "
                    f"allow PCA components; give code_sizes (at most {limit}) or more samples"
                )
            note = (
                f"the conv code is a spatial map of {k} values ({' x '.join(map(str, ae._code_shape()))}); "
                f"PCA has {k} components"
            )
        tic = time.perf_counter()
        pca = PCA(n_components=k, svd_solver="full").fit(
            ae.scaler_.transform(X_train).reshape(len(X_train), -1)
        )
        pca_seconds = time.perf_counter() - tic
        models[k] = {"ae": ae, "pca": pca}
        ae_rec = ae.reconstruct(X_test).astype(np.float64)
        pca_rec = pca_reconstruct(pca, ae.scaler_, X_test).astype(np.float64)
        ae_mse, pca_mse = (float(np.mean(((rec - X_test) / std) ** 2)) for rec in (ae_rec, pca_rec))
        ae_raw, pca_raw = (float(np.mean((rec - X_test) ** 2)) for rec in (ae_rec, pca_rec))
        if column_errors is None and not conv:
            column_errors = np.mean((pca_rec - X_test) ** 2, axis=0)
            # The headline's units: a few near-constant columns can hold most of these.
            column_z = np.mean(((pca_rec - X_test) / std) ** 2, axis=0)
        rows.append(
            {
                "code_size": k,
                "ae_mse": ae_mse,
                "pca_mse": pca_mse,
                "ratio": ae_mse / pca_mse if pca_mse > 0 else float("nan"),
                "ae_mse_raw": ae_raw,
                "pca_mse_raw": pca_raw,
                "ratio_raw": ae_raw / pca_raw if pca_raw > 0 else float("nan"),
                "ae_seconds": ae_seconds,
                "pca_seconds": pca_seconds,
                "ae_epochs": ae.n_epochs_,
                "loss": ae.loss_,
            }
        )
    _warn_if_budget_short(models)
    if units == "standardized" and not conv:
        note = dominance_note(column_errors, names, column_z, np.broadcast_to(std, column_z.shape))
    elif not spatial:
        note = None
    repeats = repeats_note(groups, "samples", "the split")
    if repeats is not None:
        note = repeats if note is None else f"{note}; {repeats}"
    return Comparison(
        pd.DataFrame(rows),
        models,
        X_train,
        X_test,
        test_index,
        units=units,
        note=note,
        y_test=None if y is None else y[test_index],
    )
