"""Training throughput of a 784-1000-500-250-30 autoencoder against the machine's matmul peak.

Measured in one run (issues 2 and 11):

* ``matmul_peak``: fp32 (and bf16) GFLOP/s of a large square ``torch.mm`` — the ceiling;
* ``plain_loop``: a textbook PyTorch loop (TensorDataset + DataLoader + Adam) at batch 256;
* ``hourglass``: the same architecture trained by hourglass's Trainer at batch 256 in fp32,
  under bf16 autocast, and with the default ``precision='auto'`` (reported with what it chose);
* ``gpu`` (when CUDA is available): the plain loop and the Trainer in fp32, bf16 and auto (and
  auto with ``compile=True``) at batch 256 and 8192, in samples/s and TFLOP/s;
* ``gpu.small_default``: the network ``AutoEncoder(code_size=30)`` builds for 784 inputs by
  default (784-256-128-30, GELU, sigmoid output) at its default batch of 256, the Trainer
  against the plain loop of the same model on the same GPU (issue 23's target: at least 1.0x).

Targets (issue 11): the default at least 1.5x the plain loop on CPUs with native bf16 (AVX-512
BF16 or AMX), at least 1.0x elsewhere; at least 100 TFLOP/s at batch 8192 on an H200.

FLOPs per sample count the three matrix products of every linear layer (forward, and the two
of the backward pass): ``6 * sum(in * out)``. Data: Fashion-MNIST's training images if the
Debian package is installed, else uniform noise of the same shape. Prints one JSON object.

    python -m benchmarks throughput [--samples 30000] [--epochs 2] [--gpu-samples 262144]
        [--gpu-only] [--device cuda] [--batches 256 8192] [--no-compile]

``--gpu-only`` skips the CPU figures (minutes of CPU time on a GPU machine); ``--device cpu``
runs the "gpu" section on the CPU, a quick check of the script itself on a machine without one.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.common import emit, fashion_or_noise, output_path, parse
from hourglass.nn.config import DenseConfig
from hourglass.nn.model import build_model
from hourglass.train.config import TrainConfig
from hourglass.train.precision import CPU_BF16_MIN_SPEEDUP, cpu_native_bf16, measured_bf16_speedup
from hourglass.train.trainer import Trainer

LAYERS = (784, 1000, 500, 250, 30)
#: The network AutoEncoder(code_size=30) builds by default for 784 inputs, and its activation.
SMALL_LAYERS = (784, 256, 128, 30)
SMALL_ACTIVATION = "gelu"
BATCH = 256
#: Batch sizes timed on a GPU: the CPU's, and one large enough to keep an H200's tensor cores busy.
GPU_BATCHES = (256, 8192)


def flops_per_sample(layers: tuple[int, ...] = LAYERS) -> float:
    widths = list(layers) + list(reversed(layers[:-1]))
    products = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    # Forward, weight gradient and input gradient per layer, but the first layer needs no
    # gradient with respect to the data.
    return 6.0 * products - 2.0 * layers[0] * layers[1]


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


def load_images(samples: int) -> tuple[torch.Tensor, str]:
    """The first ``samples`` Fashion-MNIST images (noise without them) as a tensor, and which."""
    X, source = fashion_or_noise(samples)
    return torch.from_numpy(np.ascontiguousarray(X)), source


def config(layers: tuple[int, ...] = LAYERS, activation: str = "relu") -> DenseConfig:
    return DenseConfig(
        layers[0], layers[-1], hidden_layers=layers[1:-1], activation=activation, output_activation="sigmoid"
    )


def plain_loop(
    X: torch.Tensor,
    epochs: int,
    batch_size: int = BATCH,
    device: str = "cpu",
    arch: DenseConfig | None = None,
) -> float:
    """Samples/s of the loop a tutorial would write (host batches copied to ``device`` one by one)."""
    torch.manual_seed(0)
    model = build_model(arch or config()).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(X), batch_size=batch_size, shuffle=True
    )
    seen, tic = 0, None
    for epoch in range(epochs + 1):  # epoch 0 warms up and is not timed
        if epoch == 1:
            _synchronize(device)
            seen, tic = 0, time.perf_counter()
        for (batch,) in loader:
            batch = batch.to(device)
            out = model(batch)
            loss = F.binary_cross_entropy_with_logits(out["logits"], batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seen += len(batch)
    _synchronize(device)
    return seen / (time.perf_counter() - tic)


def _synchronize(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def hourglass_loop(
    X: torch.Tensor,
    epochs: int,
    precision: str,
    batch_size: int = BATCH,
    device: str = "cpu",
    compile: bool = False,
    arch: DenseConfig | None = None,
) -> dict:
    """Samples/s of hourglass's Trainer, with the precision it trained in and why.

    Each epoch's time is measured by the Trainer and ends with the epoch's one read of the loss
    from the device, so on a GPU it covers all the epoch's work.
    """
    torch.manual_seed(0)
    model = build_model(arch or config())
    train = TrainConfig(
        epochs=epochs + 1,
        batch_size=batch_size,
        learning_rate=1e-3,
        patience=0,
        seed=0,
        device=device,
        precision=precision,
        verbose=0,
        compile=compile,
    )
    history = Trainer(model, train, "bce").fit(X)
    rate = len(X) * epochs / sum(history.seconds[1:])  # epoch 1 warms up (and compiles): not timed
    return {"rate": rate, "precision": history.recipe["precision"], "rule": history.recipe["precision_rule"]}


def _timed_row(runs: dict, batch_size: int, flops: float) -> dict:
    """Run each of ``runs`` at ``batch_size``: samples/s and TFLOP/s, or the error of a failed run."""
    row: dict = {}
    for name, run in runs.items():
        try:
            result = run(batch_size)
        except Exception as exc:  # noqa: BLE001 - report the failure, time the rest
            row[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        rate = result.pop("rate")
        row[name] = {"samples_per_s": round(rate), "tflops": round(rate * flops / 1e12, 2), **result}
    return row


def gpu_section(
    X: torch.Tensor,
    epochs: int,
    compile: bool,
    device: str = "cuda",
    batches: tuple[int, ...] = GPU_BATCHES,
) -> dict:
    """The plain loop and the Trainer on ``device`` (the first GPU) at every batch of ``batches``,
    then the small default network against the plain loop at its default batch."""
    flops = flops_per_sample()
    data = X.to(device)  # moved once: the Trainer keeps in-memory data on the device
    runs = {"plain_loop_fp32": lambda batch: {"rate": plain_loop(X, epochs, batch, device)}}
    for precision in ("fp32", "bf16", "auto"):
        runs[precision] = lambda batch, p=precision: hourglass_loop(data, epochs, p, batch, device)
    if compile:
        # torch.compile: CUDA graphs ('reduce-overhead') for these small nets; the first epoch,
        # not timed, pays the compilation.
        runs["auto_compiled"] = lambda batch: hourglass_loop(data, epochs, "auto", batch, device, True)
    name = torch.cuda.get_device_name(0) if torch.device(device).type == "cuda" else device
    out: dict = {"device": name, "samples": len(X), "network": "-".join(map(str, LAYERS)), "batches": {}}
    for batch_size in batches:
        row = _timed_row(runs, batch_size, flops)
        row["best_tflops"] = max((r["tflops"] for r in row.values() if "tflops" in r), default=None)
        out["batches"][str(batch_size)] = row
        print(f"gpu batch {batch_size}: {json.dumps(row)}", flush=True)
    best = out["batches"][str(batches[-1])]["best_tflops"]
    out[f"target_100_tflops_at_{batches[-1]}"] = best is not None and best >= 100

    # The small default network at the estimator's default batch: launch-bound on a GPU.
    small = config(SMALL_LAYERS, SMALL_ACTIVATION)
    small_runs = {
        "plain_loop_fp32": lambda batch: {"rate": plain_loop(X, epochs, batch, device, small)},
        "auto": lambda batch: hourglass_loop(data, epochs, "auto", batch, device, arch=small),
    }
    if compile:
        small_runs["auto_compiled"] = lambda batch: hourglass_loop(
            data, epochs, "auto", batch, device, True, small
        )
    row = _timed_row(small_runs, BATCH, flops_per_sample(SMALL_LAYERS))
    plain = row["plain_loop_fp32"].get("samples_per_s")
    for result in row.values():
        if plain and "samples_per_s" in result:
            result["vs_plain_loop"] = round(result["samples_per_s"] / plain, 2)
    default = row["auto"].get("vs_plain_loop")
    out["small_default"] = {
        "network": "-".join(map(str, SMALL_LAYERS)) + f" {SMALL_ACTIVATION}",
        "batch_size": BATCH,
        **row,
        "target": "auto >= 1.0x the plain loop",
        "target_met": default is not None and default >= 1.0,
    }
    print(f"small default network: {json.dumps(out['small_default'])}", flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--gpu-samples", type=int, default=262_144, help="rows timed on a GPU (tiled)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile run on a GPU")
    parser.add_argument("--gpu-only", action="store_true", help="skip the CPU figures")
    parser.add_argument("--device", default="cuda", help="device of the 'gpu' section (cpu: a dry run)")
    parser.add_argument("--batches", type=int, nargs="+", default=list(GPU_BATCHES), help="GPU batch sizes")
    args = parse(parser, argv, "throughput")
    X, source = load_images(args.samples)
    report: dict = {"benchmark": "throughput_784-1000-500-250-30", "data": source}
    if not args.gpu_only:
        report.update(cpu_section(X, args.epochs))
    if torch.device(args.device).type != "cuda" or torch.cuda.is_available():
        gpu_X = X if len(X) >= args.gpu_samples else load_images(args.gpu_samples)[0]
        if len(gpu_X) < args.gpu_samples:  # the image set is shorter: tile it
            gpu_X = gpu_X.repeat(-(-args.gpu_samples // len(gpu_X)), 1)[: args.gpu_samples]
        gpu_X = gpu_X[: args.gpu_samples]
        report["gpu"] = gpu_section(gpu_X, args.epochs, not args.no_compile, args.device, tuple(args.batches))
    emit(report, output_path(args, "throughput"))


def cpu_section(X: torch.Tensor, epochs: int) -> dict:
    """The CPU figures: matmul peaks, the plain loop and the Trainer at batch 256."""
    flops = flops_per_sample()
    peak32 = matmul_peak(torch.float32)
    # bf16 without native matrix units is orders of magnitude slower: a small size suffices.
    peak16 = matmul_peak(torch.bfloat16, n=512, repeats=1, trials=2)
    plain = plain_loop(X, epochs)
    fp32 = hourglass_loop(X, epochs, "fp32")
    bf16 = hourglass_loop(X, epochs, "bf16")
    auto = hourglass_loop(X, epochs, "auto")
    native = cpu_native_bf16()
    # A flag is not speed: a VM may show avx512_bf16 and hide the AMX units that make it fast.
    speedup = measured_bf16_speedup() if native else None
    needed = 1.5 if native and speedup >= CPU_BF16_MIN_SPEEDUP else 1.0

    def gflops(rate: float) -> float:
        return round(rate * flops / 1e9, 1)

    def row(result: dict) -> dict:
        rate = result["rate"]
        return {
            "samples_per_s": round(rate),
            "gflops": gflops(rate),
            "of_fp32_peak": round(gflops(rate) / peak32, 3),
            "vs_plain_loop": round(rate / plain, 2),
        }

    return {
        "samples": len(X),
        "batch_size": BATCH,
        "threads": torch.get_num_threads(),
        "cpu_native_bf16": native,
        "bf16_product_speedup": None if speedup is None else round(speedup, 2),
        "gflop_per_sample": round(flops / 1e9, 5),
        "matmul_peak_gflops": {"fp32": round(peak32, 1), "bf16": round(peak16, 1)},
        "plain_loop": row({"rate": plain}),
        "hourglass_fp32": row(fp32),
        "hourglass_bf16": row(bf16),
        "hourglass_auto": {**row(auto), "chose": auto["precision"], "because": auto["rule"]},
        "target": f"auto >= {needed}x the plain loop",
        "target_met": auto["rate"] / plain >= needed,
    }


if __name__ == "__main__":
    main()
