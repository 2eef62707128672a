"""Training throughput of a 784-1000-500-250-30 autoencoder against the machine's matmul peak.

Measured in one run (issue 2):

* ``matmul_peak``: fp32 (and bf16) GFLOP/s of a large square ``torch.mm`` — the ceiling;
* ``plain_loop``: a textbook PyTorch loop (TensorDataset + DataLoader + Adam) at batch 256;
* ``hourglass``: the same architecture trained by hourglass's Trainer at batch 256, in fp32
  and under bf16 autocast.

FLOPs per sample count the three matrix products of every linear layer (forward, and the two
of the backward pass): ``6 * sum(in * out)``. Data: Fashion-MNIST's training images if the
Debian package is installed, else uniform noise of the same shape. Prints one JSON object.

    python benchmarks/throughput.py [--samples 30000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F

from hourglass.nn.config import DenseConfig, TrainConfig
from hourglass.nn.model import build_model
from hourglass.train.trainer import Trainer

LAYERS = (784, 1000, 500, 250, 30)
BATCH = 256


def flops_per_sample() -> float:
    widths = list(LAYERS) + list(reversed(LAYERS[:-1]))
    products = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    # Forward, weight gradient and input gradient per layer, but the first layer needs no
    # gradient with respect to the data.
    return 6.0 * products - 2.0 * LAYERS[0] * LAYERS[1]


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5, trials: int = 5) -> float:
    """Best of ``trials`` timings of ``repeats`` square products: the machine's ceiling."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)  # warm-up: thread pool and kernel selection
    best = 0.0
    for _ in range(trials):
        tic = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b)
        best = max(best, 2.0 * n**3 * repeats / (time.perf_counter() - tic) / 1e9)
    return best


def load_images(samples: int) -> torch.Tensor:
    try:
        from hourglass.data.loading import load_data

        X = load_data("fashion-mnist").X[:samples]
        source = "fashion-mnist"
    except Exception:  # noqa: BLE001 - any failure means the package is absent: use noise
        X = np.random.default_rng(0).random((samples, 784), dtype=np.float32)
        source = "uniform noise"
    return torch.from_numpy(np.ascontiguousarray(X)), source


def config() -> DenseConfig:
    return DenseConfig(
        LAYERS[0], LAYERS[-1], hidden_layers=LAYERS[1:-1], activation="relu", output_activation="sigmoid"
    )


def plain_loop(X: torch.Tensor, epochs: int) -> float:
    """Samples/s of the loop a tutorial would write."""
    torch.manual_seed(0)
    model = build_model(config())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X), batch_size=BATCH, shuffle=True)
    seen, tic = 0, None
    for epoch in range(epochs + 1):  # epoch 0 warms up and is not timed
        if epoch == 1:
            seen, tic = 0, time.perf_counter()
        for (batch,) in loader:
            out = model(batch)
            loss = F.binary_cross_entropy_with_logits(out["logits"], batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seen += len(batch)
    return seen / (time.perf_counter() - tic)


def hourglass_loop(X: torch.Tensor, epochs: int, precision: str) -> float:
    torch.manual_seed(0)
    model = build_model(config())
    train = TrainConfig(
        epochs=epochs + 1,
        batch_size=BATCH,
        learning_rate=1e-3,
        patience=0,
        seed=0,
        device="cpu",
        precision=precision,
        verbose=0,
    )
    history = Trainer(model, train, "bce").fit(X)
    return len(X) * epochs / sum(history.seconds[1:])  # epoch 1 warms up and is not timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    X, source = load_images(args.samples)
    flops = flops_per_sample()
    peak32 = matmul_peak(torch.float32)
    # bf16 without native matrix units is orders of magnitude slower: a small size suffices.
    peak16 = matmul_peak(torch.bfloat16, n=512, repeats=1, trials=2)
    plain = plain_loop(X, args.epochs)
    fp32 = hourglass_loop(X, args.epochs, "fp32")
    bf16 = hourglass_loop(X, args.epochs, "bf16")

    def gflops(rate: float) -> float:
        return round(rate * flops / 1e9, 1)

    print(
        json.dumps(
            {
                "benchmark": "throughput_784-1000-500-250-30",
                "data": source,
                "samples": len(X),
                "batch_size": BATCH,
                "threads": torch.get_num_threads(),
                "gflop_per_sample": round(flops / 1e9, 5),
                "matmul_peak_gflops": {"fp32": round(peak32, 1), "bf16": round(peak16, 1)},
                "plain_loop": {
                    "samples_per_s": round(plain),
                    "gflops": gflops(plain),
                    "of_fp32_peak": round(gflops(plain) / peak32, 3),
                },
                "hourglass_fp32": {
                    "samples_per_s": round(fp32),
                    "gflops": gflops(fp32),
                    "of_fp32_peak": round(gflops(fp32) / peak32, 3),
                },
                "hourglass_bf16": {
                    "samples_per_s": round(bf16),
                    "gflops": gflops(bf16),
                    "of_fp32_peak": round(gflops(bf16) / peak32, 3),
                },
                "speedup_vs_plain_loop": round(max(fp32, bf16) / plain, 2),
                "target_at_least_fp32_peak": max(gflops(fp32), gflops(bf16)) >= peak32,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
