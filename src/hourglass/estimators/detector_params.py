"""The parameters of :class:`~hourglass.estimators.anomaly.AnomalyDetector` and its ``__init__``.

A detector takes its own parameters (the threshold rule, the calibration share, the seed) and,
keyword-only, every setting of the default AutoEncoder it builds when given no estimator. They are
declared in one signature so that ``get_params``, ``clone`` and persistence see them all.
"""

from __future__ import annotations

import inspect
from typing import Any

from hourglass.estimators import params as declared

# The detector's own parameters, in their positional order, with defaults and types.
_OWN: tuple[tuple[str, Any, Any], ...] = (
    ("estimator", None, Any),
    ("threshold", "quantile", str | float),
    ("quantile", 0.99, float),
    ("contamination", 0.01, float),
    ("calibration_fraction", 0.2, float),
    ("random_state", None, Any),
)


def _forwarded_defaults() -> dict[str, Any]:
    """The default AutoEncoder's settings a detector accepts, with the detector's defaults."""
    settings = {name: value for name, value in declared.defaults("dense").items() if name != "random_state"}
    # The seed is the detector's own (it also draws the calibration split); the code size is
    # chosen from the input's width unless given; a detector trains quietly, like scikit-learn's.
    # A short run (epochs='auto' is resolved for detection by detection_epochs): AUROC stops
    # gaining long before reconstruction does. One hidden layer of 128: a detector should not
    # reconstruct everything well, and it costs two thirds of the time of 256-128 for the same
    # AUROC. Features keep the AutoEncoder's scaling: standardizing them won 1.5 points on
    # Fashion-MNIST's classes but lost 1.5 on digits' (99.54 -> 98.08 mean AUROC).
    settings.update(code_size=None, verbose=0, hidden_layers=(128,))
    return settings


_FORWARDED = _forwarded_defaults()


def _make_init():
    """An ``__init__`` storing the detector's parameters and the forwarded AutoEncoder settings.

    The settings are keyword-only and declared in the signature (not ``**kwargs``), so that
    ``get_params``, ``clone`` and persistence see them as ordinary parameters.
    """
    kind = inspect.Parameter
    own = [
        kind(name, kind.POSITIONAL_OR_KEYWORD, default=default, annotation=hint)
        for name, default, hint in _OWN
    ]
    forwarded = [
        kind(name, kind.KEYWORD_ONLY, default=default, annotation=declared.BY_NAME[name].type)
        for name, default in _FORWARDED.items()
    ]
    signature = inspect.Signature([kind("self", kind.POSITIONAL_OR_KEYWORD), *own, *forwarded])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"AnomalyDetector: {exc}") from None
        bound.apply_defaults()
        for name, value in bound.arguments.items():
            if name != "self":
                setattr(self, name, value)

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    __init__.__annotations__ = {p.name: p.annotation for p in [*own, *forwarded]} | {"return": None}
    __init__.__doc__ = "Store the parameters and the AutoEncoder settings (see the class docstring)."
    return __init__


def _same(value: Any, default: Any) -> bool:
    try:
        return value is default or bool(value == default)
    except (TypeError, ValueError):  # e.g. an array, which has no single truth value
        return False
