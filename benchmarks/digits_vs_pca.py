"""Held-out reconstruction error of the default AutoEncoder against PCA on digits.

Protocol (issue 2): scikit-learn's digits scaled to [0, 1], 20 % held out with seed 0;
``AutoEncoder(code_size=k)`` with every other parameter at its default against ``PCA(k)`` for
k = 2, 8, 16, fitted on the same training split in the same run. Prints one JSON object.

Targets: AE MSE <= 0.40 x PCA at k = 8 and <= 0.50 x PCA at k = 2, in <= 5 s of training on
2 CPU cores.

    python -m benchmarks digits_vs_pca [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from benchmarks.common import digits_01, emit, machine, output_path, parse, warm_up
from hourglass import AutoEncoder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0", help="comma-separated model seeds (the split stays seed 0)")
    args = parse(parser, argv, "digits_vs_pca")
    seeds = [int(s) for s in args.seeds.split(",")]
    X = digits_01()
    X_train, X_test = train_test_split(X, test_size=0.2, random_state=0)
    warm_up(X_train)
    rows = []
    for k in (2, 8, 16):
        tic = time.perf_counter()
        pca = PCA(n_components=k).fit(X_train)
        pca_seconds = time.perf_counter() - tic
        pca_mse = float(np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2))
        for seed in seeds:
            ae = AutoEncoder(code_size=k, random_state=seed, verbose=0).fit(X_train)
            ae_mse = float(np.mean(ae.reconstruction_error(X_test)))
            rows.append(
                {
                    "code_size": k,
                    "seed": seed,
                    "ae_mse": round(ae_mse, 6),
                    "pca_mse": round(pca_mse, 6),
                    "ratio": round(ae_mse / pca_mse, 4),
                    "ae_train_seconds": round(ae.fit_seconds_, 2),
                    "pca_seconds": round(pca_seconds, 4),
                    "epochs": ae.n_epochs_,
                    "loss": ae.loss_,
                }
            )
    ratio = {k: float(np.mean([r["ratio"] for r in rows if r["code_size"] == k])) for k in (2, 8, 16)}
    seconds = max(r["ae_train_seconds"] for r in rows)
    results = {
        "benchmark": "digits_vs_pca",
        "machine": machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "rows": rows,
        "mean_ratio": {str(k): round(v, 4) for k, v in ratio.items()},
        "targets": {
            "k8_ratio_le_0.40": ratio[8] <= 0.40,
            "k2_ratio_le_0.50": ratio[2] <= 0.50,
            "train_seconds_le_5": seconds <= 5.0,
        },
        "max_train_seconds": seconds,
    }
    emit(results, output_path(args, "digits_vs_pca"))


if __name__ == "__main__":
    main()
