"""What every benchmark shares: data sets, pinning, timing, the PCA baseline and the JSON result.

Light on purpose: torch and hourglass are imported inside the functions that need them, so that
``python -m benchmarks`` lists the benchmarks at once and ``memory.py``'s parent process, whose
resident memory every child it measures starts from, never loads them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Where each benchmark writes its JSON (``NAME.json``) and the figures it is asked for.
RESULTS = Path(__file__).resolve().parent / "results"


# -- the machine ------------------------------------------------------------------------------
def pin(core: int | None = None, threads: int | None = None) -> None:
    """Run this process on one ``core`` and/or with ``threads`` torch threads.

    Examples
    --------
    >>> pin(threads=1)  # tiny matmuls: a second thread only adds sync cost
    """
    if core is not None:
        os.sched_setaffinity(0, {core})
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def cpu_name() -> str:
    """The processor as Python's ``platform`` names it (an architecture where it cannot)."""
    return platform.processor() or platform.machine()


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), or ``"unknown"``."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown"
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown")


def machine() -> dict:
    """``{"cpu": ..., "model": ..., "cores": ...}``: the record of where a run took place.

    ``platform`` names only the architecture on many Linux machines ("x86_64"), and the same
    benchmark differs several-fold between CPUs of one architecture: the model name says which.
    """
    return {"cpu": cpu_name(), "model": cpu_model(), "cores": os.cpu_count()}


# -- timing -----------------------------------------------------------------------------------
@dataclass
class Stopwatch:
    """Wall-clock and CPU seconds of a ``with`` block (CPU time is the budget on a shared machine).

    Examples
    --------
    >>> with Stopwatch() as clock:
    ...     _ = sum(range(1000))
    >>> clock.seconds >= 0 and clock.cpu_seconds >= 0
    True
    """

    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = time.process_time() - self._cpu


def warm_up(X: np.ndarray, device: str = "auto", epochs: int = 1) -> None:
    """One short fit on ``X``: a process's first fit pays once-per-process costs.

    The first optimizer a process builds imports ``torch._dynamo`` (seconds), and on a GPU CUDA
    starts; neither is training time, so a benchmark fits once before it starts its clocks.
    """
    from hourglass import AutoEncoder

    AutoEncoder(code_size=2, epochs=epochs, verbose=0, device=device).fit(X)


# -- data ---------------------------------------------------------------------------------------
def digits_01() -> np.ndarray:
    """scikit-learn's 1,797 digits with pixels in [0, 1] (float64, ``(n, 64)``)."""
    from sklearn.datasets import load_digits

    return load_digits().data / 16.0


def fashion_mnist(flat: bool = True):
    """Fashion-MNIST's training and test splits (:class:`hourglass.data.loading.Dataset` each).

    Needs Debian's ``dataset-fashion-mnist`` (IDX files in ``/usr/share/datasets/fashion-mnist``).
    """
    from hourglass.data.loading import load_data

    return load_data("fashion-mnist", flat=flat), load_data("fashion-mnist:test", flat=flat)


def fashion_or_noise(n: int) -> tuple[np.ndarray, str]:
    """The first ``n`` Fashion-MNIST training images, or uniform float32 noise of that shape.

    For benchmarks that time training, where the values matter less than the shape: they run
    where the Debian package is absent too, and say which data they had.
    """
    try:
        from hourglass.data.loading import load_data

        return load_data("fashion-mnist").X[:n], "fashion-mnist"
    except Exception:  # noqa: BLE001 - any failure means the package is absent: use noise
        return np.random.default_rng(0).random((n, 784), dtype=np.float32), "uniform noise"


# -- baselines and errors -------------------------------------------------------------------------
def pca_reconstruction(X_fit: np.ndarray, X: np.ndarray, k: int, **params) -> np.ndarray:
    """``X`` through ``PCA(k, **params)`` fitted on ``X_fit``: the linear baseline of the same width.

    Examples
    --------
    >>> X = np.random.default_rng(0).random((50, 6))
    >>> pca_reconstruction(X, X, 6).shape
    (50, 6)
    """
    from sklearn.decomposition import PCA

    pca = PCA(k, **params).fit(X_fit)
    return pca.inverse_transform(pca.transform(X))


def sse_per_image(truth: np.ndarray, recon: np.ndarray) -> float:
    """Squared error summed over an image's pixels, mean over images (Hinton and Salakhutdinov's).

    Computed in float64; images may be rows or ``(n, c, h, w)``.
    """
    diff = truth.reshape(len(truth), -1).astype(np.float64) - np.asarray(recon).reshape(len(recon), -1)
    return float(np.mean(np.sum(diff**2, axis=1)))


# -- the JSON result ------------------------------------------------------------------------------
def output_path(args: argparse.Namespace, name: str) -> Path | None:
    """Where the JSON goes: ``--out``, else ``results/NAME.json``; a smoke run (``--quick``) or
    ``--out -`` writes no file, so that it never replaces a full run's figures."""
    if args.out == "-":
        return None
    if args.out is not None:
        return Path(args.out)
    return None if getattr(args, "quick", False) else RESULTS / f"{name}.json"


def settings(args: argparse.Namespace, *leave_out: str) -> dict:
    """The options a run used, for its JSON: all but ``--out`` and ``leave_out``, paths as text."""
    drop = {"out", *leave_out}
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k not in drop}


def emit(results: dict, path: Path | None = None, indent: int | None = 2) -> None:
    """Print ``results`` as one JSON object (the last thing a benchmark prints) and write it to ``path``."""
    text = json.dumps(results, indent=indent)
    print(text, flush=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


def parse(parser: argparse.ArgumentParser, argv: list[str] | None, name: str) -> argparse.Namespace:
    """``parser``'s arguments from ``argv`` (``None``: the command line), with the ``--out`` option
    every benchmark has (see :func:`output_path`)."""
    parser.prog = f"python -m benchmarks {name}"
    parser.add_argument(
        "--out",
        default=None,
        help=f"also write the JSON here (default: benchmarks/results/{name}.json, none with --quick; "
        "'-': print only)",
    )
    return parser.parse_args(argv)
