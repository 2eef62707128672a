"""Who wins, the autoencoder or PCA, in words: one rule for the verdict, the cards and the table.

A ratio of the autoencoder's error to PCA's within :data:`TIE_MARGIN` of 1 is a tie
(:func:`outcome`); :meth:`hourglass.uses.comparison.Comparison.verdict` says it in a sentence
(:func:`outcomes_text`), and the report's cards and table mark wins and losses by the same rule.
Where PCA wins everywhere the verdict adds why that may be: the data may be close to linear, or,
when a model's run ended at its epoch or time limit with its validation loss still falling
(:func:`still_learning`), the autoencoder may be undertrained; when its rows were too few to
hold any out for validation (:func:`unvalidated`), nothing tells, and the verdict says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from hourglass.data.units import UNITS_SHORT, UNITS_TEXT, ratio_text

#: :func:`outcome` calls a ratio within this share of 1 a tie.
TIE_MARGIN = 0.01

#: Why PCA may win everywhere, said only when no model may be undertrained.
LINEAR_HINT = ": the data may be close to linear, where PCA is the simpler model"


def outcome(ratio: float) -> str:
    """'win' (the autoencoder's error is lower), 'loss' or 'tie' (within :data:`TIE_MARGIN`; NaN too).

    Examples
    --------
    >>> outcome(0.92), outcome(1.005), outcome(2.4)
    ('win', 'tie', 'loss')
    """
    return "win" if ratio < 1 - TIE_MARGIN else "loss" if ratio > 1 + TIE_MARGIN else "tie"


def in_units(units: str) -> str:
    """'in standardized units', 'in the data's units': the units a verdict is in."""
    return UNITS_TEXT["data"] if units == "data" else f"in {UNITS_SHORT[units]}"


def still_learning(models: dict[int, dict[str, Any]]) -> tuple[list[int], bool]:
    """The code sizes whose autoencoder may be undertrained, and whether all trained with
    ``epochs='auto'``.

    A run is suspect when it ended at its epoch limit or time budget (not by early stopping nor a
    callback) with its best epoch its last: its validation loss was still falling. On digits at
    ``--epochs 2`` PCA won by 2.9x-6.2x and the verdict blamed the data's linearity.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from hourglass.train.history import History
    >>> ae = SimpleNamespace(epochs=2, history_=History(epoch=[1, 2], best_epoch=2))
    >>> still_learning({8: {"ae": ae}})
    ([8], False)
    """
    sizes = [k for k, pair in models.items() if _ended_falling(getattr(pair.get("ae"), "history_", None))]
    auto = all(getattr(pair.get("ae"), "epochs", None) == "auto" for pair in models.values())
    return sizes, auto


def _ended_falling(history: Any) -> bool:
    if history is None or not getattr(history, "epoch", None):
        return False
    if history.stopped_early or history.stopped_by_callback or _no_validation(history):
        return False
    return history.best_epoch == history.epoch[-1]


def _no_validation(history: Any) -> bool:
    """Whether the run held no rows out: every epoch's validation loss NaN (its best epoch then
    follows the training loss, which falls to the end on a handful of rows memorized)."""
    losses = getattr(history, "val_loss", None) or []
    return bool(losses) and not any(math.isfinite(v) for v in losses)


def unvalidated(models: dict[int, dict[str, Any]]) -> list[int]:
    """The code sizes whose autoencoder trained without a validation split (too few rows).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from hourglass.train.history import History
    >>> ae = SimpleNamespace(history_=History(epoch=[1, 2], val_loss=[float("nan")] * 2, best_epoch=2))
    >>> unvalidated({8: {"ae": ae}})
    [8]
    """
    return [k for k, pair in models.items() if _no_validation(getattr(pair.get("ae"), "history_", None))]


def outcomes_text(
    ratios: dict[int, float],
    n_sizes: int,
    hint: bool,
    undertrained: tuple[list[int], bool] = ([], False),
    no_split: Iterable[int] = (),
) -> str:
    """Who wins at the code sizes of ``ratios``, out of ``n_sizes`` compared in all.

    ``hint``: where PCA wins everywhere, say why it may (``undertrained``: what
    :func:`still_learning` found; ``no_split``: the code sizes trained without a validation split,
    :func:`unvalidated`, where too few rows leave training unjudged; else the data may be close
    to linear).

    Examples
    --------
    >>> outcomes_text({2: 0.47, 8: 0.995, 16: 1.12}, 3, hint=True)
    'the autoencoder beats PCA at code size 2 (0.47x its error); a tie at 8; PCA wins at 16 (1.12x)'
    >>> print(outcomes_text({8: 2.93, 16: 6.23}, 2, hint=True, undertrained=([8, 16], False)))
    ... # doctest: +NORMALIZE_WHITESPACE
    PCA wins at every code size (2.93x-6.23x): the autoencoder may be undertrained, its validation
    loss still falling when its run ended at its epoch or time limit (code sizes 8, 16); train it
    longer: more epochs or time, or epochs 'auto' (the default), which trains until learning
    stops gaining
    """
    by = {o: {k: r for k, r in ratios.items() if outcome(r) == o} for o in ("win", "tie", "loss")}
    wins, ties, losses = by["win"], by["tie"], by["loss"]
    parts = []
    if wins:
        every = "every code size" if len(wins) == n_sizes else sizes_text("code size", wins)
        parts.append(f"the autoencoder beats PCA at {every} ({span_text(wins)} its error)")
    if ties:
        parts.append(f"a tie at {sizes_text('', ties)}")
    if losses:
        every = "every code size" if len(losses) == n_sizes else sizes_text("", losses)
        why = ""
        if hint and not wins:
            no_split = list(no_split)
            why = (
                _undertrained_hint(*undertrained)
                if undertrained[0]
                else _no_split_hint(no_split)
                if no_split
                else LINEAR_HINT
            )
        parts.append(f"PCA wins at {every} ({span_text(losses)}){why}")
    return "; ".join(parts)


def _undertrained_hint(sizes: list[int], auto: bool) -> str:
    # An 'auto' run that hit its cap or budget needs more of either; a fixed count, more epochs
    # or 'auto', which goes on while learning gains.
    advice = (
        "more time, or more epochs than 'auto' allowed"
        if auto
        else "more epochs or time, or epochs 'auto' (the default), which trains until learning stops gaining"
    )
    return (
        ": the autoencoder may be undertrained, its validation loss still falling when its run ended at "
        f"its epoch or time limit ({sizes_text('code size', sizes)}); train it longer: {advice}"
    )


def _no_split_hint(sizes: list[int]) -> str:
    # With no rows held out, the run's best epoch follows the training loss, which a handful of
    # rows drive to ~0 (1.5e-07 on 4 wine rows): "still falling, train it longer" misled there.
    return (
        f": too few training rows to hold any out for validation ({sizes_text('code size', sizes)}), "
        "so nothing tells whether the autoencoder was undertrained or overfit, and the held-out "
        "error above is the only judge; give more samples"
    )


def sizes_text(label: str, sizes: Iterable[int]) -> str:
    """'code sizes 2, 8' (or '2, 8' without a label; 'code size 2' for one)."""
    sizes = list(sizes)
    named = f"{label}{'s' if len(sizes) > 1 else ''} " if label else ""
    return named + ", ".join(str(k) for k in sizes)


def span_text(ratios: dict) -> str:
    """'0.47x' or '0.47x-0.87x': the range of the ratios (:func:`~hourglass.data.units.ratio_text`)."""
    low, high = ratio_text(min(ratios.values())), ratio_text(max(ratios.values()))
    return low if low == high else f"{low}-{high}"


__all__ = [
    "LINEAR_HINT",
    "TIE_MARGIN",
    "in_units",
    "outcome",
    "outcomes_text",
    "sizes_text",
    "span_text",
    "still_learning",
    "unvalidated",
]
