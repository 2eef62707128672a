"""Clustering quality of hourglass codes against PCA codes and raw data, on digits and Fashion-MNIST.

For each data set a dense autoencoder is trained (on digits also a denoising one), then every
pipeline (k-means; GMM; GMM after a spectral or t-SNE embedding, the N2D recipe with
scikit-learn's manifold learners in place of UMAP) runs on the autoencoder's codes, on PCA codes
of the same width and on the raw pixels, in the same run.
Prints one JSON object. CPU, 2 cores: Fashion-MNIST is subsampled (see the JSON).

Usage: python benchmarks/clustering.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from hourglass import AutoEncoder, cluster
from hourglass.data import load_data


def run(name: str, X_train, X, y, ae_params: dict, pipelines, seed: int = 0) -> dict:
    tic = time.perf_counter()
    ae = AutoEncoder(**ae_params, random_state=seed, verbose=0, device="cpu").fit(X_train)
    out = {
        "n_train": len(X_train),
        "n_clustered": len(X),
        "autoencoder": {
            **ae_params,
            "epochs_run": ae.n_epochs_,
            "fit_seconds": round(time.perf_counter() - tic, 1),
        },
        "pipelines": {},
    }
    for method, manifold in pipelines:
        tic = time.perf_counter()
        result = cluster(ae, X, method=method, labels=y, manifold=manifold, random_state=seed)
        key = method + (f"+{manifold}" if manifold else "")
        out["pipelines"][key] = {
            row["representation"]: {m: round(float(row[m]), 4) for m in ("NMI", "ARI", "accuracy")}
            for _, row in result.metrics.iterrows()
        }
        out["pipelines"][key]["seconds"] = round(time.perf_counter() - tic, 1)
        print(name, key, json.dumps(out["pipelines"][key]), flush=True)
    best = max(out["pipelines"].items(), key=lambda kv: kv[1]["hourglass codes"]["NMI"])
    out["best_hourglass"] = {"pipeline": best[0], **best[1]["hourglass codes"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="few epochs and samples (smoke test)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny matmuls: a second thread only adds sync cost
    quick = args.quick
    results: dict = {"device": "cpu", "torch_threads": torch.get_num_threads()}

    digits = load_data("digits")
    epochs = 5 if quick else 100
    results["digits"] = run(
        "digits",
        digits.X,
        digits.X,
        digits.y,
        {"code_size": 10, "hidden_layers": (256, 128), "epochs": epochs},
        [("kmeans", None), ("gmm", None), ("gmm", "spectral")],
    )
    # N2D's recipe with a denoising autoencoder: Gaussian input noise gives smoother codes.
    results["digits_denoising"] = run(
        "digits-denoising",
        digits.X,
        digits.X,
        digits.y,
        {
            "code_size": 10,
            "hidden_layers": (256, 128),
            "epochs": epochs,
            "noise": "gaussian",
            "noise_level": 0.2,
        },
        [("kmeans", None), ("gmm", "spectral"), ("gmm", "tsne")],
    )
    results["digits_target_nmi"] = 0.88

    n_train, n_test = (2000, 1000) if quick else (20000, 10000)
    rng = np.random.default_rng(0)
    train = load_data("fashion-mnist")
    test = load_data("fashion-mnist:test")
    X_train = train.X[rng.permutation(len(train.X))[:n_train]]
    pick = rng.permutation(len(test.X))[:n_test]
    results["fashion_mnist"] = run(
        "fashion-mnist",
        X_train,
        test.X[pick],
        test.y[pick],
        {"code_size": 10, "hidden_layers": (256, 128), "epochs": 2 if quick else 30, "batch_size": 256},
        [("kmeans", None), ("gmm", "spectral")],
    )
    results["fashion_mnist"]["note"] = (
        f"autoencoder trained on {n_train} random training images; clustering on {n_test} test images"
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
