"""Sparse autoencoders on Fashion-MNIST: TopK (k = 16 of 256 latents) against L1 at the same L0.

Protocol (issue 4): the first N Fashion-MNIST training images and the first M test images
(N, M in the JSON), pixels in [0, 1], MSE loss, a linear encoder into 256 latents and a linear
decoder (the usual SAE shape). Three TopK models (k = 16): with the AuxK loss (weight 1/32) and
without it; an L1 model (ReLU code) whose weight is bisected on a log scale until its held-out
L0 is near 16. Reported on the held-out images: normalized MSE (SSE / SST about the mean),
L0, and the dead fraction (latents active on no held-out image). The TopK runs use a short dead
window (``topk_dead_after`` 2,000 samples) so AuxK has dead latents to revive in a short run.

    python -m benchmarks sparsity [--train 20000] [--test 5000] [--epochs 8]
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace

import torch

from benchmarks.common import emit, fashion_mnist, output_path, parse
from hourglass import AutoEncoder
from hourglass.estimators.inputs import RowsPart
from hourglass.train.sparsity import dead_fraction, l0, normalized_mse

LATENTS, K = 256, 16


class _ShortDeadRows(RowsPart):
    """Rows whose network's TopK bottleneck calls a latent dead after 2,000 silent samples."""

    def architecture(self, est, head, output_activation):
        return replace(super().architecture(est, head, output_activation), topk_dead_after=2_000)


class _ShortDeadWindow(AutoEncoder):
    """AutoEncoder whose TopK bottleneck calls a latent dead after 2,000 silent samples."""

    def _input(self, X=None):
        return _ShortDeadRows()


def fit(X, epochs, cls=AutoEncoder, **params):
    tic = time.perf_counter()
    ae = cls(
        code_size=LATENTS,
        hidden_layers=(),
        loss="mse",
        scaling="none",
        epochs=epochs,
        batch_size=256,
        learning_rate=1e-3,
        random_state=0,
        verbose=0,
        **params,
    ).fit(X)
    return ae, time.perf_counter() - tic


def measure(ae, X_test, seconds) -> dict:
    codes = ae.transform(X_test)
    return {
        "normalized_mse": round(normalized_mse(X_test, ae.reconstruct(X_test)), 5),
        "l0": round(l0(codes), 2),
        "dead_fraction": round(dead_fraction(codes), 4),
        "fit_seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=20_000)
    parser.add_argument("--test", type=int, default=5_000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--bisections", type=int, default=6)
    args = parse(parser, argv, "sparsity")
    train, test = fashion_mnist()
    X, X_test = train.X[: args.train], test.X[: args.test]
    out: dict = {
        "benchmark": "sparsity",
        "n_train": len(X),
        "n_test": len(X_test),
        "latents": LATENTS,
        "k": K,
        "epochs": args.epochs,
    }
    ae, s = fit(X, args.epochs, _ShortDeadWindow, topk=K)
    out["topk_with_auxk"] = measure(ae, X_test, s)
    ae, s = fit(X, args.epochs, _ShortDeadWindow, topk=K, topk_aux_penalty=0.0)
    out["topk_without_auxk"] = measure(ae, X_test, s)
    # Bisect log(l1) until the held-out L0 is within 10 % of K.
    lo, hi, tried = math.log(1e-4), math.log(3.0), []
    best = None
    for _ in range(args.bisections):
        weight = math.exp((lo + hi) / 2)
        ae, s = fit(X, args.epochs, l1_penalty=weight)
        row = {"l1_penalty": round(weight, 6), **measure(ae, X_test, s)}
        tried.append(row)
        if best is None or abs(row["l0"] - K) < abs(best["l0"] - K):
            best = row
        if abs(row["l0"] - K) <= 0.1 * K:
            break
        if row["l0"] > K:
            lo = math.log(weight)
        else:
            hi = math.log(weight)
    out["l1_at_matched_l0"] = best
    out["l1_search"] = tried
    out["topk_nmse_over_l1_nmse"] = round(out["topk_with_auxk"]["normalized_mse"] / best["normalized_mse"], 4)
    out["torch_threads"] = torch.get_num_threads()
    emit(out, output_path(args, "sparsity"))


if __name__ == "__main__":
    main()
