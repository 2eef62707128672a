"""Running a fitted estimator's network over data: in batches, scaled in and unscaled out.

Every method of a fitted estimator that reads data (``transform``, ``reconstruct``,
``reconstruction_error``, sampling, the reports, the bottleneck parts' statistics) goes through
:func:`run_batches`, so that only one batch at a time exists in the network's scaled units and a
memory map larger than RAM is read, and written, a batch at a time, and so that every one runs on
the estimator's ``threads`` (:func:`call_threads`), as training does, the caller's setting given
back after: under torch's default of one thread per core, a prediction on a machine whose other
processes kept the cores busy ran many times slower than on one thread.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse
import torch

from hourglass.data.memory import dense_rows
from hourglass.data.sources import release_pages, row_blocks
from hourglass.exceptions import InvalidInputError
from hourglass.runtime.threads import call_threads, thread_limit
from hourglass.train.precision import forward_flops

#: Rows the network sees at once when predicting.
PREDICT_BATCH = 4096

#: Forward FLOPs of one row, by module and by the function run on it (see :func:`_row_flops`).
_ROW_FLOPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

#: Every batch the network sees holds a multiple of this many rows (short ones are padded with
#: copies of their last row). The CPU's matrix kernels sum in another order for a tail of rows
#: that does not fill their block: a row's result moved by about 1e-7 with the rows beside it
#: (batches of 1 to 3 rows on AMD's Zen, 10 of 20 on Intel's Xeon with MKL). Padded to 16, a
#: row's result does not depend on the rows beside it, or on how the data were split into calls
#: (scikit-learn's check_methods_subset_invariance), on one thread; a 4,096-row batch costs at
#: most 15 rows more.
ROW_MULTIPLE = 16


def pad_rows(inputs: np.ndarray) -> np.ndarray:
    """``inputs`` with copies of its last row appended up to a multiple of :data:`ROW_MULTIPLE`.

    Examples
    --------
    >>> pad_rows(np.zeros((20, 3))).shape
    (32, 3)
    """
    rows = len(inputs)
    short = -rows % ROW_MULTIPLE
    if not rows or not short:
        return inputs
    return np.concatenate([inputs, np.repeat(inputs[-1:], short, axis=0)])


def device_of(est: Any) -> torch.device:
    """Where the fitted ``module_`` lives (inputs go there)."""
    return next(est.module_.parameters()).device


def reconstruction(module: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``module``'s reconstruction of a batch, as :func:`run_batches` takes a function."""
    return lambda batch: module(batch)["reconstruction"]


class _Call(torch.nn.Module):
    """``fn`` as a module holding ``module``, so that :func:`forward_flops` hooks its layers."""

    def __init__(self, module: torch.nn.Module, fn: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.module, self.fn = module, fn

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.fn(batch)


def _row_flops(est: Any, fn: Callable[[torch.Tensor], torch.Tensor], row: torch.Tensor) -> float | None:
    """Forward FLOPs of ``fn`` on one row, counted once per module, function and row shape.

    A method is new at every access and :func:`reconstruction` makes a new function at every
    call: the function's code names it (a lambda over another module does the same work).
    """
    kind = getattr(fn, "__func__", None) or getattr(fn, "__code__", None) or type(fn)
    key = (kind, tuple(row.shape[1:]), row.dtype)
    known = _ROW_FLOPS.setdefault(est.module_, {})
    if key not in known:
        with torch.random.fork_rng(devices=[]):  # whatever fn draws, the caller's stream stays
            known[key] = forward_flops(_Call(est.module_, fn).eval(), row)
    return known[key]


def batch_threads(est: Any, fn: Callable[[torch.Tensor], torch.Tensor], data: Any, scale: bool) -> int:
    """The threads ``est`` predicts ``data`` on, a batch at a time (:func:`call_threads`)."""
    threads = getattr(est, "threads", "auto")
    if threads != "auto" or not len(data) or device_of(est).type != "cpu":
        # On an accelerator the CPU threads carry no matrix work: no forward pass to count it.
        return call_threads(threads, None)
    first = np.ascontiguousarray(data[:1], dtype=np.float32)
    first = est.scaler_.transform(first) if scale else first
    per_row = _row_flops(est, fn, torch.from_numpy(np.array(first)).to(device_of(est)))
    rows = min(len(data), PREDICT_BATCH) + (-min(len(data), PREDICT_BATCH) % ROW_MULTIPLE)
    return call_threads(threads, None if per_row is None else per_row * rows)


def run_batches(
    est: Any,
    fn: Callable[[torch.Tensor], torch.Tensor],
    data: np.ndarray,
    scale: bool = False,
    unscale: bool = False,
    post: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Apply ``fn`` (tensor -> tensor) to ``data`` in batches; return float32 numpy.

    ``scale`` maps each input batch through the estimator's fitted scaler and ``unscale`` each
    output batch back, and ``post(output, input)`` reduces each batch (a per-row error, say), so
    that only one batch at a time exists in scaled units. A memory-mapped ``data`` is read a
    batch at a time and its pages released as it goes (:func:`row_blocks`), and with ``out``
    (an array of the result's shape: a memory map of an ``.npy`` being written, say) each
    batch's result is written there instead of being gathered: neither the input nor the output
    of a file larger than RAM is ever held whole. Returns ``out`` when given.

    Examples
    --------
    >>> codes = run_batches(ae, ae.module_.encode, X, scale=True)  # doctest: +SKIP
    """
    est.module_.eval()
    with torch.no_grad(), thread_limit(batch_threads(est, fn, data, scale)):
        return _run_batches(est, fn, data, scale, unscale, post, out)


def _run_batches(est, fn, data, scale, unscale, post, out) -> np.ndarray:
    device = device_of(est)
    parts = []
    for i, batch in row_blocks(data, PREDICT_BATCH):
        # float32 per batch: a streamed memory map keeps its own dtype (uint8 pixels, say).
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        inputs = est.scaler_.transform(batch) if scale else batch
        if not inputs.flags.writeable:  # a read-only memory map: torch wants its own copy
            inputs = inputs.copy()
        rows = len(inputs)
        result = fn(torch.from_numpy(pad_rows(inputs)).to(device))[:rows].float().cpu().numpy()
        result = est.scaler_.inverse_transform(result) if unscale else result
        result = post(result, batch) if post is not None else result
        if out is None:
            parts.append(result)
            continue
        out[i : i + len(result)] = result.reshape(len(result), *out.shape[1:])
        release_pages(out)  # written pages go to the page cache, not this process's memory
    if out is not None:
        return out
    if not parts:
        return np.zeros((0,), np.float32)
    return np.concatenate(parts)


def check_out(out: np.ndarray | None, shape: tuple[int, ...], dtype: Any) -> None:
    """Refuse an ``out`` array that cannot receive the result."""
    if out is None:
        return
    if not isinstance(out, np.ndarray) or tuple(out.shape) != tuple(shape):
        raise InvalidInputError(
            f"out has shape {getattr(out, 'shape', None)}; expected an array of shape {tuple(shape)}"
        )
    if out.dtype != np.dtype(dtype):
        raise InvalidInputError(f"out has dtype {out.dtype}; expected {np.dtype(dtype)}")


def output_dtype(X: Any) -> type[np.floating]:
    """The dtype of a result for input ``X``: float32 in, float32 out; anything else float64.

    As scikit-learn's transformers do: a DataFrame whose columns are all float32 counts as
    float32 input.

    Examples
    --------
    >>> import pandas as pd
    >>> output_dtype(pd.DataFrame({"a": np.zeros(2, np.float32)})).__name__
    'float32'
    """
    if not hasattr(X, "dtype") and hasattr(X, "dtypes") and hasattr(X, "columns"):  # a DataFrame
        dtypes = list(X.dtypes)
        return np.float32 if dtypes and all(d == np.float32 for d in dtypes) else np.float64
    return np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64


def code_array(X: Any) -> np.ndarray:
    """Codes given to ``inverse_transform`` as an array: a SciPy sparse matrix made dense (as
    ``fit`` and ``transform`` take one), anything but numbers refused in one line."""
    if scipy.sparse.issparse(X):
        return dense_rows(X, "codes")
    codes = np.asarray(X) if hasattr(X, "dtype") else np.asarray(X, dtype=object)
    if codes.dtype.kind == "O":  # a list, or numbers held as objects
        try:
            codes = codes.astype(np.float32)
        except (TypeError, ValueError):
            pass
    if codes.dtype.kind not in "biuf":
        raise InvalidInputError(f"codes of dtype {codes.dtype} are not numbers; expected a numeric array")
    return codes


__all__ = [
    "PREDICT_BATCH",
    "batch_threads",
    "check_out",
    "code_array",
    "device_of",
    "output_dtype",
    "reconstruction",
    "run_batches",
]
