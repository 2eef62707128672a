"""Small problems on the GPU against one CPU core: should ``device='auto'`` keep them on the CPU?

The README's defaults on its small sets (issue 23): the default ``AutoEncoder(code_size=k)``
against ``PCA(k)`` through :func:`hourglass.compare` (the rows of ``benchmarks/suite.py``), once on
the CPU with one thread and once on CUDA, in the same process: fit seconds, epochs run, and the
held-out error ratio to PCA (which should agree between devices up to TF32 rounding). Each device
trains one throw-away model first, so CUDA's start-up and the first optimizer's imports are not
counted. Sets: digits / 16 (k=2 and 16; the README's 6-9 s fits on one core), breast cancer
(569 rows, standardized units, k=2) and iris (150 rows, k=2).

Prints one JSON object; ``speedup`` is CPU seconds over GPU seconds (below 1: the GPU is slower).

    python -m benchmarks small_problems_device [--devices cpu cuda] [--epochs N]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from sklearn import datasets

import hourglass
from benchmarks.common import digits_01, emit, output_path, parse, pin, warm_up


def small_sets() -> dict[str, tuple[np.ndarray, list[int]]]:
    return {
        "digits_16": (digits_01(), [2, 16]),
        "breast_cancer": (datasets.load_breast_cancer().data, [2]),
        "iris": (datasets.load_iris().data, [2]),
    }


def run(device: str, epochs: int | None) -> list[dict]:
    params = {"random_state": 0, "verbose": 0, "device": device}
    if epochs is not None:
        params["epochs"] = epochs
    warm_up(np.random.default_rng(0).random((64, 8)), device, epochs=2)
    rows = []
    for name, (X, sizes) in small_sets().items():
        tic = time.perf_counter()
        result = hourglass.compare(X, sizes, hourglass.AutoEncoder(**params), random_state=0)
        total = time.perf_counter() - tic
        for row in result.table.to_dict("records"):
            rows.append(
                {
                    "set": name,
                    "device": device,
                    "code_size": int(row["code_size"]),
                    "n_rows": len(X),
                    "ratio_to_pca": round(row["ratio"], 4),
                    "fit_seconds": round(row["ae_seconds"], 2),
                    "epochs_run": int(row["ae_epochs"]),
                }
            )
        print(f"{device} {name}: {total:.1f} s in all", json.dumps(rows[-len(sizes) :]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    parser.add_argument("--epochs", type=int, default=None, help="cap on epochs (default: the estimator's)")
    args = parse(parser, argv, "small_problems_device")
    pin(threads=1)  # the CPU figure is one core's, as in the README
    devices = [d for d in args.devices if d != "cuda" or torch.cuda.is_available()]
    rows = {device: run(device, args.epochs) for device in devices}
    comparison = []
    if "cpu" in rows and len(rows) > 1:
        other = next(d for d in rows if d != "cpu")
        for cpu, gpu in zip(rows["cpu"], rows[other], strict=True):
            comparison.append(
                {
                    "set": cpu["set"],
                    "code_size": cpu["code_size"],
                    "cpu_seconds": cpu["fit_seconds"],
                    f"{other}_seconds": gpu["fit_seconds"],
                    "speedup": round(cpu["fit_seconds"] / max(gpu["fit_seconds"], 1e-9), 2),
                    "cpu_ratio": cpu["ratio_to_pca"],
                    f"{other}_ratio": gpu["ratio_to_pca"],
                    "epochs": [cpu["epochs_run"], gpu["epochs_run"]],
                }
            )
    results = {
        "benchmark": "small_problems_device",
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "comparison": comparison,
        "rows": rows,
    }
    emit(results, output_path(args, "small_problems_device"))


if __name__ == "__main__":
    main()
