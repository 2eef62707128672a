"""Input parts: what an estimator's kind of data brings to fitting, predicting and saving.

An estimator holds an input part, named by its class attribute ``input_kind`` and looked up in
:data:`INPUTS` (see :meth:`~hourglass.estimators.base.BaseAutoEncoder._input`), beside its
bottleneck part (:mod:`hourglass.estimators.bottlenecks`). The input part knows everything that
differs between rows of a table (:class:`RowsPart`) and grids of values: series, images and
video (:class:`GridPart`): the parameters it refuses, how its data become a
:class:`~hourglass.data.sources.TrainingSource` (arrays, large ``.npy`` memory maps streamed,
torch Datasets, image and IDX folders), how prediction input is checked, the axis the scaler
keeps statistics per, the code sizes it allows, the network's config, what
``learning_rate='auto'`` stands for, one sample's code shape and the fitted shape it saves.
A new kind of data is one subclass of :class:`InputPart` plus :func:`register_input`.

Parts hold no state: every method reads the estimator it is given (its parameters and fitted
attributes) and writes its fitted attributes, so scikit-learn's ``clone`` and ``get_params``
see nothing new. :class:`~hourglass.VariationalAutoEncoder` takes rows or grids as its data
come (:func:`choose_arch`, :func:`arch_input`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from hourglass.estimators.inputs.grids import GridPart, is_path
from hourglass.estimators.inputs.part import INPUTS, InputPart, input_part, register_input
from hourglass.estimators.inputs.rows import RowsPart, auto_learning_rate, reject_non_numeric_columns

#: ``arch`` values and the input part each stands for.
ARCHES = {"dense": "rows", "conv": "grid"}


def choose_arch(arch: str, X: Any) -> str:
    """``arch``, or for ``'auto'`` 'dense' for 2-D arrays and Datasets of 1-D items, else 'conv'."""
    if arch != "auto":
        return arch
    if isinstance(X, torch.utils.data.DataLoader):
        X = X.dataset
    if isinstance(X, torch.utils.data.Dataset):
        item = X[0]
        item = item[0] if isinstance(item, (list, tuple)) else item
        return "dense" if np.ndim(item) == 1 else "conv"
    if is_path(X):
        return "conv"
    ndim = getattr(X, "ndim", None)
    if ndim is None:  # a list of rows, say: the dense model's checks name what is wrong with it
        try:
            ndim = np.asarray(X).ndim
        except (TypeError, ValueError):
            ndim = 2
    return "dense" if ndim == 2 else "conv"


def arch_input(arch: str | None) -> InputPart:
    """The input part of a model whose ``arch_`` is ``arch``: rows for 'dense', grids otherwise."""
    return input_part("rows" if arch == "dense" else "grid")


__all__ = [
    "ARCHES",
    "INPUTS",
    "GridPart",
    "InputPart",
    "RowsPart",
    "arch_input",
    "auto_learning_rate",
    "choose_arch",
    "input_part",
    "register_input",
    "reject_non_numeric_columns",
]
