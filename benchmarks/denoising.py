"""Denoising: an autoencoder trained on noisy inputs against PCA at the same code size.

Protocol (issue 4): digits (all 1,797, 20 % held out) and a Fashion-MNIST subsample (the first
N training images, the first M test images; N and M are in the JSON), pixels in [0, 1]. The
autoencoder trains with ``noise='gaussian'`` (sigma in pixel units) on the training images and
reconstructs held-out images corrupted with the same noise (a fixed draw). PCA with the same
number of components, fitted in the same run on the clean training images and, separately, on
noisy ones, projects the same noisy held-out images. Error: MSE against the *clean* held-out
images. Claim: the autoencoder's error is below the better PCA's on both sets.

    python -m benchmarks denoising [--fashion-train 10000] [--fashion-test 2000] [--epochs 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from benchmarks.common import cpu_name, emit, fashion_mnist, output_path, parse, pca_reconstruction
from hourglass import AutoEncoder
from hourglass.data.loading import load_data


def _noisy(X: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    return (X + sigma * np.random.default_rng(seed).standard_normal(X.shape)).astype(np.float32)


def run(name, X_train, X_test, code_size, hidden, sigma, epochs) -> dict:
    noisy_test = _noisy(X_test, sigma, 123)
    tic = time.perf_counter()
    ae = AutoEncoder(
        code_size=code_size,
        hidden_layers=hidden,
        noise="gaussian",
        noise_level=sigma,
        epochs=epochs,
        batch_size=128,
        random_state=0,
        verbose=0,
    ).fit(X_train)
    ae_seconds = time.perf_counter() - tic
    ae_mse = float(np.mean((ae.reconstruct(noisy_test) - X_test) ** 2))
    pcas = {}
    for fitted_on, data in (("clean", X_train), ("noisy", _noisy(X_train, sigma, 7))):
        recon = pca_reconstruction(data, noisy_test, code_size, random_state=0)
        pcas[fitted_on] = float(np.mean((recon - X_test) ** 2))
    best_pca = min(pcas.values())
    return {
        "dataset": name,
        "n_train": len(X_train),
        "n_test": len(X_test),
        "code_size": code_size,
        "hidden_layers": list(hidden),
        "noise": f"gaussian sigma={sigma}",
        "noisy_input_mse": round(float(np.mean((noisy_test - X_test) ** 2)), 6),
        "ae_mse_vs_clean": round(ae_mse, 6),
        "pca_clean_fit_mse_vs_clean": round(pcas["clean"], 6),
        "pca_noisy_fit_mse_vs_clean": round(pcas["noisy"], 6),
        "ae_over_best_pca": round(ae_mse / best_pca, 4),
        "claim_holds": ae_mse < best_pca,
        "ae_epochs": ae.n_epochs_,
        "ae_fit_seconds": round(ae_seconds, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fashion-train", type=int, default=10_000)
    parser.add_argument("--fashion-test", type=int, default=2_000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--sigma", type=float, default=0.3)
    args = parse(parser, argv, "denoising")
    digits = load_data("digits").X
    d_train, d_test = train_test_split(digits, test_size=0.2, random_state=0)
    train, test = fashion_mnist()
    fashion, fashion_test = train.X[: args.fashion_train], test.X[: args.fashion_test]
    rows = [
        run("digits", d_train, d_test, 16, (128,), args.sigma, args.epochs * 3),
        run("fashion-mnist (subsample)", fashion, fashion_test, 32, (256,), args.sigma, args.epochs),
    ]
    results = {
        "benchmark": "denoising",
        "results": rows,
        "all_claims_hold": all(r["claim_holds"] for r in rows),
        "torch_threads": torch.get_num_threads(),
        "machine": cpu_name(),
    }
    emit(results, output_path(args, "denoising"))


if __name__ == "__main__":
    main()
