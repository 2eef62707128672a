"""Transfer: a frozen encoder pretrained on Fashion-MNIST, with a new decoder, against scratch.

Protocol (issue 4): an AutoEncoder (784 -> 256 -> 32 code) is trained on the first N
Fashion-MNIST training images and saved. The target set is "digits-like": scikit-learn's 8x8
digits upsampled to 28x28 (bilinear, in [0, 1]); 1,000 images train, the other 797 are held out.
Three models train on the 1,000 for the same number of epochs: the saved encoder frozen with a
fresh decoder (``encoder=FOLDER, freeze_encoder=True``), the same encoder fine-tuned, and the
same architecture from scratch, at each epoch budget (10 and 30 by default). Claim: the
frozen-encoder model's held-out MSE is lower than the scratch model's.

    python -m benchmarks transfer [--source-train 20000] [--source-epochs 10] [--epochs 10 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from skimage.transform import resize

from benchmarks.common import emit, fashion_mnist, output_path, parse
from hourglass import AutoEncoder
from hourglass.data.loading import load_data

COMMON = dict(batch_size=64, random_state=0, verbose=0, patience=0)


def digits_like() -> np.ndarray:
    images = load_data("digits", flat=False).X[:, 0]  # (n, 8, 8) in [0, 1]
    big = np.stack([resize(im, (28, 28), order=1, anti_aliasing=False) for im in images])
    return np.clip(big, 0, 1).reshape(len(images), -1).astype(np.float32)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-train", type=int, default=20_000)
    parser.add_argument("--source-epochs", type=int, default=10)
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 30], help="epoch budgets to compare at")
    parser.add_argument("--n-target", type=int, default=1_000)
    args = parse(parser, argv, "transfer")
    fashion = fashion_mnist()[0].X[: args.source_train]
    target = digits_like()
    order = np.random.default_rng(0).permutation(len(target))
    train, test = target[order[: args.n_target]], target[order[args.n_target :]]
    out: dict = {
        "benchmark": "transfer",
        "source": f"fashion-mnist, first {len(fashion)} training images",
        "target": "sklearn digits upsampled to 28x28",
        "n_target_train": len(train),
        "n_target_test": len(test),
        "epoch_budgets": args.epochs,
    }
    with tempfile.TemporaryDirectory() as tmp:
        tic = time.perf_counter()
        source = AutoEncoder(code_size=32, hidden_layers=(256,), epochs=args.source_epochs, **COMMON).fit(
            fashion
        )
        folder = source.save(Path(tmp) / "fashion-ae")
        out["source_fit_seconds"] = round(time.perf_counter() - tic, 1)
        variants = {
            "frozen_pretrained_encoder": dict(encoder=folder, code_size=32, freeze_encoder=True),
            "fine_tuned_pretrained_encoder": dict(encoder=folder, code_size=32),
            "from_scratch": dict(code_size=32, hidden_layers=(256,)),
        }
        runs = []
        for epochs in args.epochs:
            row: dict = {"epochs": epochs}
            for name, params in variants.items():
                tic = time.perf_counter()
                ae = AutoEncoder(epochs=epochs, **params, **COMMON).fit(train)
                row[name] = {
                    "held_out_mse": round(float(ae.reconstruction_error(test).mean()), 6),
                    "fit_seconds": round(time.perf_counter() - tic, 1),
                }
            scratch = row["from_scratch"]["held_out_mse"]
            row["frozen_over_scratch"] = round(row["frozen_pretrained_encoder"]["held_out_mse"] / scratch, 4)
            row["claim_holds"] = row["frozen_pretrained_encoder"]["held_out_mse"] < scratch
            runs.append(row)
    out["runs"] = runs
    out["claim_holds_at_every_budget"] = all(r["claim_holds"] for r in runs)
    out["torch_threads"] = torch.get_num_threads()
    emit(out, output_path(args, "transfer"))


if __name__ == "__main__":
    main()
