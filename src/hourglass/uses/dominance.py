"""Whether a few columns hold most of a reconstruction error: the note beside an average over columns.

An average over columns reads as the whole table's, but a column in thousands can hold nearly all
of a raw-unit error, and a near-constant column (digits' border pixels) nearly all of a
standardized one. :func:`dominance_note` names such columns, in the raw units and in the model's
scaled units, for ``compare``, the model report and ``hourglass score``.
"""

from __future__ import annotations

import numpy as np

from hourglass.data.units import units_of

#: Share of the raw-unit error that a few columns must hold before the comparison warns.
DOMINANCE_SHARE = 0.8
#: ... and of the standardized error, where each column would hold about 1/d of it: half of it in
#: a few columns makes the headline theirs (digits, one split: 3 near-constant pixels of 64 held
#: 69 % of PCA's held-out error, and the autoencoder's 0.46x PCA's read 0.78x without them).
STANDARDIZED_DOMINANCE_SHARE = 0.5
#: How the errors of each kind of scaled units are named in the note.
SCALED_WORDS = {"standardized": "standardized", "shrunk": "shrunk standardized", "range": "range-scaled"}


def _dominant(errors: np.ndarray, needed: float = DOMINANCE_SHARE) -> tuple[np.ndarray, float] | None:
    """The few columns (a tenth at most, 1 to 3) that hold ``needed`` of ``errors`` and that
    share; None where they do not."""
    total = errors.sum()
    if errors.size < 2 or not total > 0:
        return None
    few = int(min(3, max(1, errors.size // 10)))
    top = np.argsort(-errors)[:few]
    share = float(errors[top].sum() / total)
    return (top, share) if share >= needed else None


def dominance_note(
    errors: np.ndarray,
    names: list[str] | None = None,
    standardized: np.ndarray | None = None,
    scale: np.ndarray | None = None,
    units: str = "standardized",
) -> str | None:
    """A note when at most a tenth of the columns (at least one, at most 3) hold most of the error
    (:data:`DOMINANCE_SHARE` of the raw one, :data:`STANDARDIZED_DOMINANCE_SHARE` of the standardized one).

    Parameters
    ----------
    errors : ndarray of shape (n_features,)
        Mean squared error of each column, in raw units.
    names : list of str, optional
        Column names for the message (positions otherwise).
    standardized : ndarray of shape (n_features,), optional
        The same errors in standardized units, where the comparison's headline is in them: a
        near-constant column (digits' border pixels) can hold most of those too, and the note
        then says so rather than that the standardized columns judge every feature alike.
        Without them the note says nothing of the scaled columns.
    scale : ndarray of shape (n_features,), optional
        The columns' standardization scales, named for the columns that dominate ``standardized``.
    units : {'standardized', 'shrunk', 'range'}, default='standardized'
        The scaled units ``standardized`` is in (:func:`hourglass.data.units.units_of`), as the
        note names them.

    Examples
    --------
    >>> dominance_note(np.array([100.0, 0.1, 0.1, 0.2]), standardized=np.ones(4))
    'raw-unit MSE is dominated by column 0 (99.6% of it); the standardized columns judge every feature alike'
    >>> dominance_note(np.array([100.0, 0.1, 0.1, 0.2]))
    'raw-unit MSE is dominated by column 0 (99.6% of it)'
    >>> dominance_note(np.array([1.0, 1.0, 1.0, 1.0]), standardized=np.array([0.1, 9.0, 0.1, 0.1]),
    ...                scale=np.array([1.0, 0.05, 1.0, 1.0]))
    'standardized MSE is dominated by column 1 (96.8% of it; scale 0.05: a near-constant column)'
    """
    errors = np.asarray(errors, dtype=np.float64)
    scaled = SCALED_WORDS.get(units, units)
    label = lambda top: ", ".join(repr(names[i]) if names else str(int(i)) for i in top)  # noqa: E731
    word = lambda top: "column" if len(top) == 1 else "columns"  # noqa: E731
    parts = []
    raw = _dominant(errors)
    if raw is not None:
        top, share = raw
        parts.append(f"raw-unit MSE is dominated by {word(top)} {label(top)} ({100 * share:.1f}% of it)")
    std = None
    if standardized is not None:
        std = _dominant(np.asarray(standardized, dtype=np.float64), STANDARDIZED_DOMINANCE_SHARE)
    if std is not None:
        top, share = std
        why = ""
        if scale is not None:
            scales = np.asarray(scale, dtype=np.float64).reshape(-1)[top]
            # Small errors of a nearly constant column are large z-scores: say that is the cause.
            shown = f"{scales.min():.2g}" if len(top) == 1 else f"{scales.min():.2g}-{scales.max():.2g}"
            if scales.max() < np.median(np.asarray(scale, dtype=np.float64)):
                kind = "a near-constant column" if len(top) == 1 else "near-constant columns"
                why = f"; scale {shown}: {kind}"
        parts.append(f"{scaled} MSE is dominated by {word(top)} {label(top)} ({100 * share:.1f}% of it{why})")
    elif raw is not None and standardized is not None:
        # Said only where checked: a score's errors came without theirs, and the claim stood unread.
        parts.append(f"the {scaled} columns judge every feature alike")
    return "; ".join(parts) if parts else None


def scaled_dominance_note(errors: np.ndarray, names: list[str] | None, scaler) -> str | None:
    """:func:`dominance_note` of a table model's raw per-column ``errors``, checked also in the
    units its ``scaler`` maps them to (the report's headline and ``calibrate``'s note).

    A column's scaled error is its raw one over its scale squared; a model that reads raw units
    has no scaled columns to speak of.
    """
    errors = np.asarray(errors, dtype=np.float64)
    units = units_of(scaler)
    if units == "data":
        return dominance_note(errors, names)
    scale = np.broadcast_to(np.asarray(scaler.scale, dtype=np.float64).reshape(-1), errors.shape)
    return dominance_note(errors, names, errors / scale**2, scale, units)
