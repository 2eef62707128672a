"""One-class anomaly detection by reconstruction error: hourglass against PCA, same run.

For each class: train on that class's training images only, score the whole test set, AUROC of
the class (normal) against the rest; the mean over classes is reported beside PCA's
reconstruction error with the same code size, on digits and on Fashion-MNIST. Then the
out-of-distribution demo: a detector trained on all digits scores photo patches.
Prints one JSON object. CPU, 2 cores: Fashion-MNIST training classes are subsampled (see JSON).

Usage: python -m benchmarks anomaly [--quick] [--report out.html]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from benchmarks.common import emit, fashion_mnist, output_path, parse, pca_reconstruction, pin
from hourglass import AnomalyDetector, AutoEncoder
from hourglass.data.loading import load_data
from hourglass.estimators.anomaly import photo_patches
from hourglass.report.anomaly import anomaly_report_section
from hourglass.report.html import Report


def pca_errors(X_train: np.ndarray, X: np.ndarray, k: int) -> np.ndarray:
    """PCA's per-row reconstruction error: the anomaly score of the linear baseline."""
    return np.mean((pca_reconstruction(X_train, X, k, svd_solver="full") - X) ** 2, axis=1)


def one_class(
    name, X_train, y_train, X_test, y_test, ae_params: dict, n_per_class: int | None, seed=0
) -> dict:
    rng = np.random.default_rng(seed)
    per_class = {}
    tic = time.perf_counter()
    for c in np.unique(y_train):
        normal = X_train[y_train == c]
        if n_per_class is not None and len(normal) > n_per_class:
            normal = normal[rng.permutation(len(normal))[:n_per_class]]
        ae = AutoEncoder(**ae_params, random_state=seed, verbose=0, device="cpu")
        detector = AnomalyDetector(ae, calibration_fraction=0.1, random_state=seed).fit(normal)
        truth = (y_test != c).astype(int)  # anomalies are the positive class
        ae_auc = roc_auc_score(truth, -detector.score_samples(X_test))
        pca_auc = roc_auc_score(truth, pca_errors(normal, X_test, ae_params["code_size"]))
        per_class[int(c)] = {"hourglass": round(100 * ae_auc, 2), "pca": round(100 * pca_auc, 2)}
        print(name, c, per_class[int(c)], flush=True)
    ae_mean = float(np.mean([v["hourglass"] for v in per_class.values()]))
    pca_mean = float(np.mean([v["pca"] for v in per_class.values()]))
    return {
        "mean_auroc_hourglass": round(ae_mean, 2),
        "mean_auroc_pca": round(pca_mean, 2),
        "difference_points": round(ae_mean - pca_mean, 2),
        "target_met (>= pca + 3)": bool(ae_mean >= pca_mean + 3),
        "per_class": per_class,
        "autoencoder": ae_params,
        "n_train_per_class": n_per_class or "all",
        "n_test": len(X_test),
        "seconds": round(time.perf_counter() - tic, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few epochs and samples (smoke test)")
    parser.add_argument("--report", help="write the out-of-distribution demo report to this HTML file")
    args = parse(parser, argv, "anomaly")
    pin(threads=1)  # tiny matmuls: a second thread only adds sync cost
    quick = args.quick
    results: dict = {"device": "cpu", "torch_threads": torch.get_num_threads()}

    digits = load_data("digits")
    X_train, X_test, y_train, y_test = train_test_split(
        digits.X, digits.y, test_size=0.5, stratify=digits.y, random_state=0
    )
    digits_params = {
        "code_size": 8,
        "hidden_layers": (64, 32),
        "epochs": 5 if quick else 150,
        "batch_size": 16,
    }
    results["digits"] = one_class("digits", X_train, y_train, X_test, y_test, digits_params, None)

    # Out-of-distribution demo: trained on digits, shown photo patches.
    patches = photo_patches(len(X_test), size=8, random_state=1)
    ae = AutoEncoder(
        code_size=16, hidden_layers=(128, 64), epochs=5 if quick else 200, random_state=0, verbose=0
    )
    detector = AnomalyDetector(ae, quantile=0.99, random_state=0).fit(X_train)
    truth = np.r_[np.zeros(len(X_test)), np.ones(len(patches))]
    pca_scores = np.r_[pca_errors(X_train, X_test, 16), pca_errors(X_train, patches, 16)]
    results["ood_digits_vs_photo_patches"] = {
        "auroc_hourglass": round(
            100
            * roc_auc_score(truth, -np.r_[detector.score_samples(X_test), detector.score_samples(patches)]),
            2,
        ),
        "auroc_pca": round(100 * roc_auc_score(truth, pca_scores), 2),
        "digits_test_flagged": round(float(np.mean(detector.predict(X_test) == -1)), 4),
        "photo_patches_flagged": round(float(np.mean(detector.predict(patches) == -1)), 4),
        "threshold": "0.99 quantile of held-out digits' errors",
    }
    print("ood", results["ood_digits_vs_photo_patches"], flush=True)
    if args.report:
        report = Report("Out of distribution: digits vs photo patches", "A detector trained on digits only")
        both = np.r_[X_test, patches]  # the truth: 0 for held-out digits, 1 for photo patches
        anomaly_report_section(report, detector, both, truth, "held-out digits and photo patches", (8, 8))
        report.save(args.report, force=True)

    n_per_class = 500 if quick else 2000
    train, test = fashion_mnist()
    X_test_f, y_test_f = test.X, test.y
    if quick:
        X_test_f, y_test_f = X_test_f[:2000], y_test_f[:2000]
    fashion_params = {
        "code_size": 16,
        "hidden_layers": (256, 64),
        "epochs": 2 if quick else 20,
        "batch_size": 128,
    }
    results["fashion_mnist"] = one_class(
        "fashion-mnist", train.X, train.y, X_test_f, y_test_f, fashion_params, n_per_class
    )
    results["fashion_mnist"]["note"] = f"each class trained on {n_per_class} of its 6000 training images"
    results["reference"] = "Ruff et al. 2018: convolutional AE 89.6 mean AUROC on MNIST (not digits)"
    emit(results, output_path(args, "anomaly"))


if __name__ == "__main__":
    main()
