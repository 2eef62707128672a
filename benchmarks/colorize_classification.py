"""Colorization as classification over quantized chroma, decoded by the annealed mean.

The alternative formulation of Zhang, Isola and Efros (2016, "Colorful Image Colorization"),
measured against the library's regression (``ConvAutoEncoder(task='colorize')``) on the same
photos, patches, network and held-out set as the ``images_colorize`` benchmark: the U-Net's output layer
becomes a 1 x 1 convolution to one logit per chroma bin (Cb, Cr of YCbCr quantized on a grid of
``--bin-step``, only the bins that occur in the training patches, as Zhang et al. keep the
in-gamut ones), trained with cross-entropy against each pixel's nearest bin, without class
rebalancing (rebalancing buys vivid colour at PSNR's expense). A pixel's chroma is the
annealed mean of its distribution, ``softmax(logits / T)`` with T = 0.38, the paper's value:
between the mean (T = 1, the regression's conservative answer) and the mode (T -> 0, vivid
but wrong where unsure). The luminance passes through exactly, as in the library. Prints one
JSON object in the form of ``images_colorize.py``'s.

Measured (1 thread, nice 10, shared 2-core Zen 4): on 10 000 patches, which the regression
trains on in about 4.5 CPU-minutes, this had not finished after 16 CPU-minutes and was stopped:
the 194-way softmax, its loss and the nearest-bin search at every pixel of every patch cost
several times the U-Net itself, so within the 10-15 minute colorize budget it would see a
fraction of the regression's patches. A smoke run (256 patches, 1 epoch, mostly the training
photos' mean colour) gave mean +0.92 dB / worst -0.86 dB at T = 0.38 and +0.99 / -0.79 at
T = 1. The library therefore keeps the regression on chroma; this script is the starting point
for a run with a larger budget (a GPU).

Usage::

    nice -n 10 python -m benchmarks colorize_classification [--patches N] [--temperature 0.38]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.common import Stopwatch, emit, output_path, parse, pin, settings
from benchmarks.images_colorize import DEFAULT_CACHE, patches, photo_sets
from hourglass.nn.config import ConvConfig
from hourglass.nn.model import build_model
from hourglass.train.precision import autocast
from hourglass.train.tasks import chroma_to_rgb, luma, rgb_to_chroma
from hourglass.uses.restoration import grayscale, quality
from hourglass.uses.tiling import process_tiled


def chroma_bins(X: np.ndarray, step: float) -> torch.Tensor:
    """Centres ``(q, 2)`` of the chroma grid cells of width ``step`` that the patches ``X`` use.

    Cells are counted one patch batch at a time, each as one integer, so that 20 000 patches
    need no copy of their chroma (a unique over rows of all pixels ran out of 24 GiB).
    """
    width = int(np.ceil(1 / step)) + 1  # chroma lies in [-0.5, 0.5]: cell indices in [-width/2, width/2]
    used = np.zeros(width * width, bool)
    for start in range(0, len(X), 1000):
        cells = torch.round(rgb_to_chroma(torch.from_numpy(X[start : start + 1000])) / step).to(torch.int64)
        used[((cells[:, 0] + width // 2) * width + cells[:, 1] + width // 2).unique().numpy()] = True
    index = np.flatnonzero(used)
    cells = np.stack([index // width - width // 2, index % width - width // 2], axis=1)
    return torch.from_numpy(cells).float() * step


def nearest_bin(chroma: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Index ``(b, h, w)`` of the nearest bin to every pixel of chroma ``(b, 2, h, w)``."""
    flat = chroma.permute(0, 2, 3, 1).reshape(-1, 2)
    return torch.cdist(flat, bins).argmin(dim=1).view(chroma.shape[0], *chroma.shape[2:])


def annealed_mean(logits: torch.Tensor, bins: torch.Tensor, temperature: float) -> torch.Tensor:
    """Chroma ``(b, 2, h, w)`` from bin logits ``(b, q, h, w)``: the mean of softmax(logits / T)."""
    p = torch.softmax(logits.float() / temperature, dim=1)
    return torch.einsum("bqhw,qk->bkhw", p, bins)


def build(channels: tuple[int, ...], convs: int, size: int, n_bins: int) -> nn.Module:
    """The benchmark's U-Net, its output layer replaced by a 1 x 1 convolution to ``n_bins`` logits."""
    config = ConvConfig(
        input_shape=(3, size, size),
        channels=channels,
        convs_per_block=convs,
        skip_connections=True,
        residual=False,
    )
    model = build_model(config)
    model.decoder.output = nn.Conv2d(model.decoder.output.in_channels, n_bins, 1)
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=20000)
    parser.add_argument("--patch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--convs-per-block", type=int, default=2)
    parser.add_argument("--bin-step", type=float, default=0.04)
    parser.add_argument("--temperature", type=float, nargs="+", default=[0.38, 1.0])
    parser.add_argument("--threads", type=int, default=1)
    args = parse(parser, argv, "colorize_classification")
    pin(threads=args.threads)
    torch.manual_seed(0)

    train, held, _extra = photo_sets(DEFAULT_CACHE)  # the extra unseen photos are not scored here
    # At the photos' own size, as when this was measured (images_colorize's patches had no scales).
    X = patches(list(train.values()), args.patches, args.patch_size, scales=(1.0,), seed=0)
    bins = chroma_bins(X, args.bin_step)
    model = build(tuple(args.channels), args.convs_per_block, args.patch_size, len(bins))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * (len(X) // args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=steps)
    device = torch.device("cpu")
    with Stopwatch() as clock:
        generator = torch.Generator().manual_seed(0)
        for _ in range(args.epochs):
            order = torch.randperm(len(X), generator=generator)
            for start in range(0, len(X) - args.batch_size + 1, args.batch_size):
                batch = torch.from_numpy(X[order[start : start + args.batch_size].numpy()])
                gray = luma(batch).expand(-1, 3, -1, -1)
                target = nearest_bin(rgb_to_chroma(batch), bins)
                with autocast(device, "bf16"):
                    logits = model(gray)["logits"]
                loss = F.cross_entropy(logits.float(), target)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
    fit_seconds, fit_cpu_seconds = clock.seconds, clock.cpu_seconds
    model.eval()

    results = {}
    for temperature in args.temperature:

        def colorize(tiles: np.ndarray, t: float = temperature) -> np.ndarray:
            x = torch.from_numpy(tiles)
            with torch.no_grad(), autocast(device, "bf16"):
                logits = model(x)["logits"]
            rgb = chroma_to_rgb(luma(x), annealed_mean(logits, bins, t))
            return rgb.clamp(0, 1).numpy()

        rows = {}
        for name, truth in held.items():
            gray = grayscale(truth)
            base = quality(truth, gray)["psnr"]
            out = process_tiled(colorize, gray, (args.patch_size, args.patch_size))
            psnr = quality(truth, out)["psnr"]
            rows[name] = {
                "gray_psnr": round(base, 3),
                "autoencoder_psnr": round(psnr, 3),
                "gain_db": round(psnr - base, 3),
            }
        gains = [r["gain_db"] for r in rows.values()]
        results[str(temperature)] = {
            "held_out": rows,
            "mean_gain_db": round(float(np.mean(gains)), 3),
            "worst_gain_db": round(float(np.min(gains)), 3),
        }
    summary = {
        "benchmark": "colorize_classification",
        "settings": settings(args),
        "n_bins": len(bins),
        "fit_seconds": round(fit_seconds, 1),
        "fit_cpu_seconds": round(fit_cpu_seconds, 1),
        "final_train_loss": float(loss),
        "by_temperature": results,
    }
    emit(summary, output_path(args, "colorize_classification"))


if __name__ == "__main__":
    main()
