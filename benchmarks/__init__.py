"""hourglass's benchmarks: each module measures one claim against a baseline run beside it.

``python -m benchmarks`` lists them; ``python -m benchmarks NAME [ARGS]`` runs one, which prints
one JSON object and writes it to ``benchmarks/results/NAME.json`` (see ``--help`` of each).
Shared pieces (data, pinning, timing, the PCA baseline, the JSON) live in :mod:`benchmarks.common`.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType

#: Every benchmark, by module name; each has a ``main(argv)`` and a docstring whose first line
#: says what it measures.
BENCHMARKS = (
    "suite",
    "digits_vs_pca",
    "small_tables",
    "peers",
    "clustering",
    "anomaly",
    "denoising",
    "contractive",
    "sparsity",
    "transfer",
    "vae",
    "series_conv",
    "fashion_mnist_conv",
    "small_problems_device",
    "throughput",
    "threads",
    "memory",
    "startup",
    "compression",
    "fetch_photos",
    "images_restoration",
    "images_colorize",
    "colorize_classification",
)
#: Modules of this package that are not benchmarks.
HELPERS = ("__init__", "__main__", "common")


def resolve(name: str) -> str:
    """The module name of benchmark ``name`` (dashes allowed for underscores); ``KeyError`` if none."""
    module = name.replace("-", "_")
    if module not in BENCHMARKS:
        raise KeyError(name)
    return module


def description(name: str) -> str:
    """The first line of benchmark ``name``'s docstring, read without importing it.

    Reading the source keeps the listing instant and free of optional dependencies (onnxruntime,
    PyOD, aeon) that a benchmark may import.
    """
    source = (Path(__file__).parent / f"{resolve(name)}.py").read_text()
    return (ast.get_docstring(ast.parse(source)) or "").splitlines()[0]


def load(name: str) -> ModuleType:
    """Benchmark ``name``'s module (imported now, with what it imports)."""
    return importlib.import_module(f"{__name__}.{resolve(name)}")
