"""Variational autoencoder on Fashion-MNIST: test-set ELBO and importance-weighted NLL (k = 1000).

Protocol: pixels in [0, 1] (the grey values, not binarized), Bernoulli likelihood (binary
cross-entropy on the decoder's logits, summed over the 784 pixels), a dense VAE 784-512-256-32
trained on the 60,000 training images (5 % held out for early stopping), and on the test set the
ELBO and the importance-weighted bound of Burda et al. (2016) with k = 1000 draws per image, in
nats per image; the NLL is minus that bound. Active units: the variance of a unit's posterior
mean over the test images exceeds 0.01 (Burda et al.). Baselines measured in the same run: a
plain autoencoder of the same layers and code size, and PCA with as many components, by their
squared error per test image (the VAE's own reconstruction is decoded from the posterior mean).
Writes the model report (samples, interpolations, KL per unit). Needs Debian's
``dataset-fashion-mnist``. CPU; prints one JSON object.

Usage::

    python -m benchmarks vae [--epochs 30] [--n-test 10000] [--report benchmarks/results/vae-report.html]

The defaults take about 9 minutes on one Zen 4 core (3.5 min of training, 5 min for the bound).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from benchmarks.common import (
    RESULTS,
    cpu_name,
    emit,
    fashion_mnist,
    output_path,
    parse,
    pca_reconstruction,
    pin,
    settings,
    sse_per_image,
)
from hourglass import AutoEncoder, VariationalAutoEncoder
from hourglass.report.build import model_report


def mean_and_se(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--code-size", type=int, default=32)
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 256])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--kl-warmup", type=int, default=5)
    parser.add_argument("--k", type=int, default=1000, help="importance samples per test image")
    parser.add_argument("--n-test", type=int, default=10000, help="test images for the IWAE bound")
    parser.add_argument("--ae-epochs", type=int, default=6, help="0 skips the plain autoencoder")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--report", default=str(RESULTS / "vae-report.html"))
    args = parse(parser, argv, "vae")
    pin(threads=args.threads)

    train, test = fashion_mnist()
    X, X_test = train.X.astype(np.float32), test.X.astype(np.float32)
    X, X_test = X.reshape(len(X), -1), X_test.reshape(len(X_test), -1)
    results: dict = {
        "args": settings(args),
        "data": "Fashion-MNIST, 60000 training / 10000 test images, grey values in [0, 1]",
        "likelihood": "Bernoulli (BCE on logits, summed over 784 pixels); nats per image",
        "how": {
            "device": "cpu",
            "torch_threads": torch.get_num_threads(),
            "cores": os.cpu_count(),
            "machine": cpu_name(),
            "precision": "fp32",
        },
    }

    vae = VariationalAutoEncoder(
        code_size=args.code_size,
        hidden_layers=tuple(args.hidden),
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        kl_warmup=args.kl_warmup,
        loss="bce",
        validation_fraction=0.05,
        random_state=0,
        device="cpu",
        precision="fp32",
    )
    tic = time.perf_counter()
    vae.fit(X)
    results["vae"] = {
        "architecture": f"784-{'-'.join(map(str, args.hidden))}-{args.code_size} (Gaussian), mirrored",
        "epochs_run": vae.n_epochs_,
        "best_epoch": vae.history_.best_epoch,
        "kl_warmup_epochs": args.kl_warmup,
        "collapse_restarts": len(vae.history_.restarts),
        "fit_seconds": round(time.perf_counter() - tic, 1),
    }

    elbo = vae.score_samples(X_test)
    results["vae"]["test_elbo_nats"] = round(float(elbo.mean()), 2)
    results["vae"]["test_negative_elbo_nats"] = round(-float(elbo.mean()), 2)
    rng = np.random.default_rng(0)
    picks = np.sort(rng.choice(len(X_test), size=min(args.n_test, len(X_test)), replace=False))
    tic = time.perf_counter()
    bound = vae.log_likelihood(X_test[picks], n_importance=args.k, random_state=0)
    nll, se = mean_and_se(-bound)
    results["vae"]["iwae"] = {
        "k": args.k,
        "test_images": len(picks),
        "subset": "all" if len(picks) == len(X_test) else f"{len(picks)} drawn at random (seed 0)",
        "nll_nats": round(nll, 2),
        "standard_error": round(se, 2),
        "seconds": round(time.perf_counter() - tic, 1),
    }
    active = vae.active_units(X_test)
    results["vae"]["active_units"] = int(active.sum())
    results["vae"]["code_size"] = args.code_size
    results["vae"]["kl_nats_per_image"] = round(float(vae.kl_per_unit(X_test).sum()), 2)
    results["vae"]["reconstruction_sse_per_image"] = round(sse_per_image(X_test, vae.reconstruct(X_test)), 2)
    results["literature"] = (
        "dense VAEs with 32-50 latent units on Fashion-MNIST (Bernoulli): about 230-245 nats IWAE NLL"
    )

    pca_recon = pca_reconstruction(X, X_test, args.code_size, random_state=0)
    results["pca_sse_per_image"] = round(sse_per_image(X_test, pca_recon), 2)
    if args.ae_epochs > 0:
        ae = AutoEncoder(
            code_size=args.code_size,
            hidden_layers=tuple(args.hidden),
            epochs=args.ae_epochs,
            batch_size=args.batch_size,
            validation_fraction=0.05,
            random_state=0,
            device="cpu",
            precision="fp32",
        )
        tic = time.perf_counter()
        ae.fit(X)
        results["plain_autoencoder"] = {
            "epochs_run": ae.n_epochs_,
            "fit_seconds": round(time.perf_counter() - tic, 1),
            "reconstruction_sse_per_image": round(sse_per_image(X_test, ae.reconstruct(X_test)), 2),
        }

    report = model_report(vae, X[:2000], "Fashion-MNIST", image_shape=(28, 28), held_out=X_test[:2000])
    results["report"] = str(report.save(args.report, force=True))
    emit(results, output_path(args, "vae"))


if __name__ == "__main__":
    main()
