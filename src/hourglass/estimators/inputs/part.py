"""The contract of an input part and the registry of kinds of data.

See :mod:`hourglass.estimators.inputs` for what an input part is.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np

from hourglass.data.sources import ArraySource, NpyFileSource, TrainingSource, memory_map_of, streams
from hourglass.data.validation import warn_if_offset_loses_precision
from hourglass.estimators.part_kinds import PartKinds
from hourglass.exceptions import InvalidInputError


class InputPart:
    """The contract of a kind of data.

    Every method takes the estimator that holds the part. A kind must say how its data are read,
    checked and turned into a network (:meth:`training_source`, :meth:`validate`,
    :meth:`check_streamed`, :meth:`architecture`); the other methods default to a flat code,
    no parameters of its own and nothing saved. Subclasses register themselves with
    :func:`register_input`.

    Examples
    --------
    >>> @register_input                                        # doctest: +SKIP
    ... class Graphs(InputPart):
    ...     kind = "graph"
    ...     def training_source(self, est, X): ...
    >>> class GraphAutoEncoder(hourglass.AutoEncoder):         # doctest: +SKIP
    ...     input_kind = "graph"
    """

    kind: ClassVar[str] = ""
    #: The axis of ``X`` the scaler keeps statistics per, shared over the others (None: per feature).
    scaler_channel_axis: ClassVar[int | None] = None

    def check_params(self, est: Any) -> None:
        """Refuse the estimator's parameters this data cannot honour (before any data is read)."""

    def training_source(self, est: Any, X: Any) -> TrainingSource:
        """``X`` as the source ``fit`` reads, validated; sets ``n_features_in_`` and ``input_shape_``."""
        raise NotImplementedError

    def validate(self, est: Any, X: Any, reset: bool) -> np.ndarray:
        """``X`` checked and as an array: fit's (``reset``, which sets the fitted shape) or predict's."""
        raise NotImplementedError

    def check_streamed(self, est: Any, X: np.ndarray, source: NpyFileSource) -> None:
        """Check a memory map that will be streamed (its shape; values are checked as read)."""
        raise NotImplementedError

    def array_source(self, est: Any, X: Any) -> TrainingSource:
        """An array in memory, or the ``.npy`` file behind a large memory map, streamed.

        A memory map whose float32 data fit in
        :data:`~hourglass.data.sources.IN_MEMORY_BYTES` is read into memory (the fast path)
        with ``pread``, so its pages do not stay mapped besides.
        """
        if memory_map_of(X) is not None:  # the map itself, or a view of it (np.asarray's)
            if X.dtype.kind not in "biuf":  # before any reader tries to convert it
                raise InvalidInputError(f"X has dtype {X.dtype}; expected numbers (int, float or bool)")
            streamed = NpyFileSource.from_memmap(X)
            if streamed is not None:
                # Read as float32 from here on: the check must see the file's own float64.
                warn_if_offset_loses_precision(X)
                if streams(X):
                    self.check_streamed(est, X, streamed)
                    return streamed
                X = streamed.read_all()
        return ArraySource(self.validate(est, X, reset=True))

    def load(self, est: Any, X: Any) -> Any:
        """What the estimator reads for ``X`` (a path, for grids); anything else as it is."""
        return X

    def overcomplete_allowed(self, est: Any) -> bool:
        """Whether a code at least as wide as the input is meaningful (cannot learn the identity)."""
        return est._bottleneck().overcomplete_allowed(est)

    def check_code_size(self, est: Any, head: np.ndarray) -> None:
        """Refuse a code size the first training items ``head`` make meaningless."""

    def architecture(self, est: Any, head: np.ndarray, output_activation: str) -> Any:
        """The network's config, sized from the first training items ``head``."""
        raise NotImplementedError

    def auto_learning_rate(self, est: Any) -> tuple[float, str]:
        """The learning rate ``learning_rate='auto'`` stands for, and the rule that gave it."""
        raise InvalidInputError(f"learning_rate='auto' is not available for {type(est).__name__}")

    def code_shape(self, est: Any) -> tuple[int, ...]:
        """One sample's code in the fitted module: the bottleneck part's, else flat."""
        return est._bottleneck().code_shape(est) or (int(est.architecture_.code_size),)

    def saved_attributes(self, est: Any) -> dict[str, Any]:
        """Fitted JSON values for ``config.json``'s ``fitted`` (names ending in ``_``)."""
        return {}

    def restore(self, est: Any, fitted: dict[str, Any]) -> None:
        """After loading: the fitted values this part set in ``fit`` (already set as attributes)."""


#: Kinds of data by name: an estimator's ``input_kind`` is looked up here.
INPUTS = PartKinds("input_kind")
register_input = INPUTS.register  # class decorator: make a part available under its ``kind``
input_part = INPUTS.part  # the part registered as a kind


def declared_default(est: Any, name: str) -> Any:
    """The default of ``est``'s parameter ``name``, from its class's signature: a setting left
    there is the user's silence, which a saved part's own setting may replace."""
    return inspect.signature(type(est).__init__).parameters[name].default


__all__ = ["INPUTS", "InputPart", "declared_default", "input_part", "register_input"]
