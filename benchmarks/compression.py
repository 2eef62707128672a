"""Rate against distortion: the VQ codec beside JPEG, WebP and quantized PCA, in one run.

Three data sets, each with its own codecs measured the same way (bits per pixel counted from
whole files, PSNR and SSIM against the 8-bit truth, in [0, 1]):

* Fashion-MNIST: VQ codecs trained on (a share of) the training split, measured on the whole
  test split. JPEG and WebP (Pillow) code every image as its own file, and their bytes are the
  whole file's; "JPEG, header amortized" also shows JPEG with its tables and headers counted
  once for the set (the bytes from the start-of-scan marker on, plus one header), since the
  VQ file holds the whole test split behind one 43-byte header. PCA keeps k components of
  the training images, each coefficient uniformly quantized to b bits, with k x b the raw bits
  of a VQ rate (b picked by PSNR on training images) and the indices entropy-coded by the
  same coders as the VQ indices.
* Digits (data the Fashion-MNIST codec never saw): scikit-learn's 8 x 8 digits, upscaled
  bilinearly to 20 x 20 and padded by 4 pixels to 28 x 28, the way MNIST frames its digits;
  coded by the Fashion-MNIST VQ codecs and by JPEG / WebP / PCA (PCA also fitted on
  Fashion-MNIST). An autoencoder is data-specific: it should lose its lead here.
* Photos: gray patches of scikit-image's bundled photos (the restoration benchmarks' training
  photos); the held-out ``camera`` and ``astronaut`` (gray) are coded whole: VQ in 32 x 32
  tiles, all in one file, JPEG and WebP as one file per photo, PCA on the same tiles.

Targets: on Fashion-MNIST, at no more bits per pixel than JPEG's lowest usable quality
(quality 10, whole files), a VQ codec at least 3 dB above JPEG's PSNR; on digits, that codec's
gain over JPEG smaller than on Fashion-MNIST. Prints one JSON object; ``--figure`` also writes
the PSNR / SSIM against bits-per-pixel curves as a PNG. Single-threaded CPU, fp32 training.

Usage::

    python -m benchmarks compression [--train 20000] [--epochs 6]
        [--figure benchmarks/results/compression.png] [--quick]
"""

from __future__ import annotations

import argparse
import io
import math
import os
import time

import numpy as np
import torch
from PIL import Image
from skimage import color, data
from skimage.metrics import structural_similarity
from skimage.transform import resize
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from benchmarks.common import cpu_name, emit, fashion_mnist, output_path, parse, pin
from hourglass import VQAutoEncoder
from hourglass.uses import compression
from hourglass.uses.compression import encode_payload, has_range_coder

#: JPEG's lowest usable quality: below 10 the 8 x 8 blocks dominate every image.
JPEG_LOW_QUALITY = 10
JPEG_QUALITIES = (1, 5, 10, 20, 30, 50, 75, 90)
WEBP_QUALITIES = (0, 10, 30, 50, 75, 90)
#: The Fashion-MNIST codecs, one per rate: channels (one halving each) and codebook size.
FASHION_RATES = {
    "4x4 grid, 256 codes": {"channels": (16, 32, 32), "codebook_size": 256},
    "7x7 grid, 64 codes": {"channels": (16, 32), "codebook_size": 64},
    "7x7 grid, 512 codes": {"channels": (16, 32), "codebook_size": 512},
    "14x14 grid, 256 codes": {"channels": (32,), "codebook_size": 256},
}
#: The photo codecs (32 x 32 tiles).
PHOTO_RATES = {
    "4x4 grid, 256 codes": {"channels": (16, 32, 32), "codebook_size": 256},
    "8x8 grid, 256 codes": {"channels": (16, 32), "codebook_size": 256},
    "16x16 grid, 256 codes": {"channels": (32,), "codebook_size": 256},
}
TRAIN_PHOTOS = ("coffee", "chelsea", "rocket", "coins", "brick", "grass", "gravel", "clock")
HELD_OUT = ("camera", "astronaut")
TILE = 32
#: Header bytes of a compressed file, counted once for PCA's file as for VQ's.
HEADER_BYTES = 43


# -- measuring --------------------------------------------------------------------------------
def to_u8(images: np.ndarray) -> np.ndarray:
    return np.round(np.clip(images, 0, 1) * 255).astype(np.uint8)


def scores(truth_u8: np.ndarray, approx: np.ndarray) -> tuple[float, float]:
    """Mean per-image PSNR and SSIM of ``approx`` (n, h, w), against 8-bit truth, in [0, 1]."""
    truth = truth_u8.astype(np.float64) / 255
    approx = np.clip(np.asarray(approx, np.float64), 0, 1)
    mse = np.mean((truth - approx) ** 2, axis=(1, 2))
    psnr = float(np.mean(10 * np.log10(1 / np.maximum(mse, 1e-12))))
    ssim = float(
        np.mean([structural_similarity(t, a, data_range=1.0) for t, a in zip(truth, approx, strict=True)])
    )
    return psnr, ssim


def pillow_codec(images_u8: np.ndarray, fmt: str, quality: int) -> dict:
    """Each image its own file: whole-file bytes, header-amortized bytes (JPEG), PSNR, SSIM."""
    total = body = 0
    decoded = []
    for img in images_u8:
        buffer = io.BytesIO()
        Image.fromarray(img).save(buffer, fmt, quality=quality)
        blob = buffer.getvalue()
        total += len(blob)
        if fmt == "JPEG":
            body += len(blob) - blob.find(b"\xff\xda")  # from the start-of-scan marker on
        decoded.append(np.asarray(Image.open(io.BytesIO(blob)).convert("L"), np.float64) / 255)
    pixels = images_u8[0].size * len(images_u8)
    psnr, ssim = scores(images_u8, np.stack(decoded))
    row = {"quality": quality, "bpp": 8 * total / pixels, "psnr": psnr, "ssim": ssim}
    if fmt == "JPEG":
        header = (total - body) / len(images_u8)
        row["bpp_header_amortized"] = 8 * (body + header) / pixels
    return row


def curve(images_u8: np.ndarray, fmt: str, qualities) -> list[dict]:
    return [pillow_codec(images_u8, fmt, q) for q in qualities]


def interpolate(points: list[dict], bpp: float, x: str = "bpp") -> float | None:
    """The PSNR of a codec's curve at ``bpp`` (linear between measured points), None outside it."""
    pts = sorted((p[x], p["psnr"]) for p in points)
    xs, ys = zip(*pts, strict=True)
    if not xs[0] <= bpp <= xs[-1]:
        return None
    return float(np.interp(bpp, xs, ys))


# -- the codecs under test ------------------------------------------------------------------------
def fit_vq(X: np.ndarray, settings: dict, epochs: int, quantizer: str = "vq") -> tuple[VQAutoEncoder, float]:
    tic = time.perf_counter()
    model = VQAutoEncoder(
        **settings, quantizer=quantizer, epochs=epochs, random_state=0, device="cpu", precision="fp32"
    ).fit(X)
    return model, time.perf_counter() - tic


def vq_point(model: VQAutoEncoder, X: np.ndarray, truth_u8: np.ndarray, pixels: int, tiles=None) -> dict:
    """Bytes of one file per coder, bits per pixel of the smallest, PSNR / SSIM of the decoded."""
    sizes = {coder: len(compression.compress(model, X, coder)) for coder in ("lzma", "zlib", "raw")}
    if has_range_coder():
        sizes["range"] = len(compression.compress(model, X, "range"))
    blob = compression.compress(model, X)  # the default: the smaller of range and lzma
    decoded = compression.decompress(model, blob)
    assert np.array_equal(decoded, model.reconstruct(X))  # the file decodes to reconstruct()
    images = decoded[:, 0] if tiles is None else tiles(decoded)
    psnr, ssim = scores(truth_u8, images)
    usage = model.codebook_usage(X)
    return {
        "bpp": 8 * len(blob) / pixels,
        "psnr": psnr,
        "ssim": ssim,
        "coder": compression.read_header(blob).coder,
        "bytes_by_coder": sizes,
        "raw_index_bpp": model.bits_per_index_ * math.prod(model.grid_shape_) * len(X) / pixels,
        "codebook_used": usage["codebook_used"],
        "perplexity": usage["perplexity"],
    }


class QuantizedPCA:
    """PCA with ``k`` components, each coefficient uniformly quantized to ``bits`` bits."""

    def __init__(self, k: int, bits: int, X_train: np.ndarray) -> None:
        self.k, self.bits = k, bits
        self.pca = PCA(k, random_state=0).fit(X_train)
        coef = self.pca.transform(X_train)
        self.lo, self.hi = np.quantile(coef, 0.001, axis=0), np.quantile(coef, 0.999, axis=0)
        self.levels = 2**bits
        self.prior = np.stack([np.bincount(c, minlength=self.levels) for c in self.indices(X_train).T])

    def indices(self, X: np.ndarray) -> np.ndarray:
        t = (self.pca.transform(X) - self.lo) / (self.hi - self.lo)
        return np.clip(np.round(t * (self.levels - 1)), 0, self.levels - 1).astype(np.int64)

    def decode(self, idx: np.ndarray) -> np.ndarray:
        coef = self.lo + idx / (self.levels - 1) * (self.hi - self.lo)
        return self.pca.inverse_transform(coef)

    def file_bytes(self, idx: np.ndarray) -> dict[str, int]:
        """lzma over the indices, and a range coder with each component's own histogram."""
        sizes = {"lzma": len(encode_payload(idx, self.levels, np.ones(self.levels), "lzma"))}
        if has_range_coder():
            import constriction

            encoder = constriction.stream.queue.RangeEncoder()
            for j in range(self.k):
                p = self.prior[j] + 0.5
                model = constriction.stream.model.Categorical(p / p.sum(), perfect=False)
                encoder.encode(idx[:, j].astype(np.int32), model)
            sizes["range"] = 4 * len(encoder.get_compressed())
        return {name: size + HEADER_BYTES for name, size in sizes.items()}


def best_pca(budget_bits: int, X_train: np.ndarray) -> QuantizedPCA:
    """The (k, bits) with k x bits = the budget that reconstructs training images best."""
    probe = X_train[:2000]
    best, best_mse = None, math.inf
    for bits in (2, 3, 4, 5, 6, 8):
        k = budget_bits // bits
        if not 1 <= k <= min(X_train.shape[1], 300):
            continue
        codec = QuantizedPCA(k, bits, X_train)
        mse = float(np.mean((codec.decode(codec.indices(probe)) - probe) ** 2))
        if mse < best_mse:
            best, best_mse = codec, mse
    return best


def pca_point(codec: QuantizedPCA, X: np.ndarray, truth_u8: np.ndarray, pixels: int, tiles=None) -> dict:
    idx = codec.indices(X)
    sizes = codec.file_bytes(idx)
    decoded = codec.decode(idx)
    psnr, ssim = scores(
        truth_u8, decoded.reshape(len(X), *truth_u8.shape[1:]) if tiles is None else tiles(decoded)
    )
    return {"k": codec.k, "bits": codec.bits, "bpp": 8 * min(sizes.values()) / pixels, "psnr": psnr,
            "ssim": ssim, "bytes_by_coder": sizes}  # fmt: skip


# -- data -------------------------------------------------------------------------------------------
def mnist_style_digits() -> np.ndarray:
    """scikit-learn's digits, bilinear 8x8 -> 20x20, padded by 4 to 28x28 (MNIST's framing)."""
    digits = load_digits().images / 16.0
    big = np.stack([resize(d, (20, 20), order=1, anti_aliasing=False) for d in digits])
    return np.clip(np.pad(big, ((0, 0), (4, 4), (4, 4))), 0, 1).astype(np.float32)


def gray_photo(name: str) -> np.ndarray:
    img = getattr(data, name)()
    img = color.rgb2gray(img[..., :3]) if img.ndim == 3 else img / 255.0
    return np.asarray(img, np.float32)


def photo_patches(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    photos = [gray_photo(name) for name in TRAIN_PHOTOS]
    out = np.empty((n, 1, TILE, TILE), np.float32)
    for i in range(n):
        p = photos[i % len(photos)]
        y, x = rng.integers(0, p.shape[0] - TILE), rng.integers(0, p.shape[1] - TILE)
        out[i, 0] = p[y : y + TILE, x : x + TILE]
    return np.round(out * 255) / 255  # the 8-bit photos they are


def tiles_of(photo: np.ndarray) -> np.ndarray:
    h, w = (s // TILE * TILE for s in photo.shape)
    t = photo[:h, :w].reshape(h // TILE, TILE, w // TILE, TILE).transpose(0, 2, 1, 3)
    return t.reshape(-1, 1, TILE, TILE)


def untile(tiles: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    t = tiles.reshape(h // TILE, w // TILE, TILE, TILE).transpose(0, 2, 1, 3)
    return t.reshape(h, w)


# -- the run ----------------------------------------------------------------------------------------
def images_benchmark(name, models, X, truth_u8, pcas) -> dict:
    """Every codec on one set of small images (n, 1, h, w)."""
    pixels = truth_u8.size
    vq = {label: vq_point(model, X, truth_u8, pixels) for label, model in models.items()}
    flat = X.reshape(len(X), -1)
    return {
        "images": len(X),
        "vq": vq,
        "pca": {label: pca_point(codec, flat, truth_u8, pixels) for label, codec in pcas.items()},
        "jpeg": curve(truth_u8, "JPEG", JPEG_QUALITIES),
        "webp": curve(truth_u8, "WEBP", WEBP_QUALITIES),
    }


def photos_benchmark(models, pcas) -> dict:
    """Every codec on each held-out photo, whole (cropped to whole tiles); the mean over photos."""
    rows: dict = {}
    for name in HELD_OUT:
        photo = gray_photo(name)
        shape = tuple(s // TILE * TILE for s in photo.shape)
        truth_u8 = to_u8(photo[: shape[0], : shape[1]])[None]  # (1, h, w)
        tiles = tiles_of(truth_u8[0] / 255.0).astype(np.float32)

        def joined(decoded, shape=shape):
            return untile(np.asarray(decoded).reshape(-1, TILE, TILE), shape)[None]

        for label, model in models.items():
            rows.setdefault(("vq", label), []).append(vq_point(model, tiles, truth_u8, truth_u8.size, joined))
        for label, codec in pcas.items():
            point = pca_point(codec, tiles.reshape(len(tiles), -1), truth_u8, truth_u8.size, joined)
            rows.setdefault(("pca", label), []).append(point)
        rows.setdefault(("jpeg", None), []).append(curve(truth_u8, "JPEG", JPEG_QUALITIES))
        rows.setdefault(("webp", None), []).append(curve(truth_u8, "WEBP", WEBP_QUALITIES))
    out: dict = {"photos": list(HELD_OUT), "vq": {}, "pca": {}}
    for (kind, label), points in rows.items():
        if label is None:  # one curve per photo: averaged quality by quality
            out[kind] = [
                {k: float(np.mean([curve_[i][k] for curve_ in points])) for k in points[0][i]}
                for i in range(len(points[0]))
            ]
            continue
        merged = {k: float(np.mean([p[k] for p in points])) for k in ("bpp", "psnr", "ssim")}
        kept = {k: v for k, v in points[0].items() if k not in merged and k != "bytes_by_coder"}
        out[kind][label] = merged | kept
    return out


def target_gain(result: dict) -> dict:
    """The VQ codec with the most bits per pixel at or below JPEG quality 10's (whole files)."""
    jpeg = next(p for p in result["jpeg"] if p["quality"] == JPEG_LOW_QUALITY)
    within = {k: v for k, v in result["vq"].items() if v["bpp"] <= jpeg["bpp"]}
    label = max(within, key=lambda k: within[k]["bpp"])
    amortized = interpolate(result["jpeg"], within[label]["bpp"], "bpp_header_amortized")
    return {
        "vq_codec": label,
        "vq_bpp": within[label]["bpp"],
        "vq_psnr": within[label]["psnr"],
        "jpeg_q10_bpp": jpeg["bpp"],
        "jpeg_q10_psnr": jpeg["psnr"],
        "gain_db": within[label]["psnr"] - jpeg["psnr"],
        "gain_db_vs_jpeg_header_amortized_same_bpp": (
            None if amortized is None else within[label]["psnr"] - amortized
        ),
        "gain_db_vs_webp_same_bpp": (
            None if interpolate(result["webp"], within[label]["bpp"]) is None
            else within[label]["psnr"] - interpolate(result["webp"], within[label]["bpp"])
        ),
    }  # fmt: skip


def figure(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    sets = [k for k in ("fashion_mnist", "digits", "photos") if k in results]
    fig, axes = plt.subplots(2, len(sets), figsize=(5 * len(sets), 8), squeeze=False)
    for col, key in enumerate(sets):
        res = results[key]
        for row, metric in enumerate(("psnr", "ssim")):
            ax = axes[row][col]
            for name, points, style in (
                ("JPEG (whole files)", res["jpeg"], "o-"),
                ("WebP", res["webp"], "s-"),
            ):
                ax.plot([p["bpp"] for p in points], [p[metric] for p in points], style, label=name)
            if "bpp_header_amortized" in res["jpeg"][0]:
                pts = res["jpeg"]
                ax.plot([p["bpp_header_amortized"] for p in pts], [p[metric] for p in pts], "o--",
                        label="JPEG (header amortized)")  # fmt: skip
            for name, group, style in (("VQ codec", res["vq"], "*"), ("quantized PCA", res["pca"], "^")):
                pts = sorted(group.values(), key=lambda p: p["bpp"])
                ax.plot([p["bpp"] for p in pts], [p[metric] for p in pts], style + "-", ms=10, label=name)
            ax.set_xscale("log")
            # Plain decimal ticks, none on the minor positions: a span under a decade otherwise
            # labels every minor tick in 2 x 10^-1 notation, one over another.
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("bits per pixel (whole files)")
            ax.set_ylabel("PSNR (dB)" if metric == "psnr" else "SSIM")
            ax.set_title(f"{key.replace('_', '-')}: {metric.upper()}")
            ax.grid(alpha=0.3)
            if row == 0 and col == 0:
                ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=20000, help="Fashion-MNIST training images")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--patches", type=int, default=8000, help="photo patches for training")
    parser.add_argument("--test", type=int, default=10000, help="Fashion-MNIST test images")
    parser.add_argument("--figure", default=None, help="write the rate-distortion curves to this PNG")
    parser.add_argument("--fsq", action="store_true", help="also train FSQ at the 7x7, 256-code rate")
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny sets, one epoch")
    args = parse(parser, argv, "compression")
    if args.quick:
        args.train, args.epochs, args.patches, args.test = 1000, 1, 500, 300
    pin(threads=1)
    started = time.perf_counter()
    fit_seconds: dict = {}

    train, test = fashion_mnist(flat=False)
    fashion, test = train.X[: args.train], test.X[: args.test]
    models = {}
    for label, settings in FASHION_RATES.items():
        models[label], fit_seconds[f"fashion {label}"] = fit_vq(fashion, settings, args.epochs)
    extra = {}
    if args.fsq:
        same_rate = {"channels": (16, 32), "codebook_size": 256}
        fsq, fit_seconds["fashion FSQ 7x7"] = fit_vq(fashion, same_rate, args.epochs, "fsq")
        vq256, fit_seconds["fashion VQ 7x7 256"] = fit_vq(fashion, same_rate, args.epochs)
        extra = {"FSQ (7x7 grid, 240 codes)": fsq, "VQ (7x7 grid, 256 codes)": vq256}
    flat_train = fashion.reshape(len(fashion), -1)
    pcas = {label: best_pca(int(m.bits_per_index_ * math.prod(m.grid_shape_)), flat_train)
            for label, m in models.items()}  # fmt: skip
    results = {"fashion_mnist": images_benchmark("fashion", models, test, to_u8(test[:, 0]), pcas)}
    if extra:
        results["quantizer_comparison"] = {
            label: vq_point(m, test, to_u8(test[:, 0]), test[:, 0].size) for label, m in extra.items()
        }
    digits = mnist_style_digits()[:, None]
    results["digits"] = images_benchmark("digits", models, digits, to_u8(digits[:, 0]), pcas)

    patches = photo_patches(args.patches)
    photo_models = {}
    for label, settings in PHOTO_RATES.items():
        photo_models[label], fit_seconds[f"photos {label}"] = fit_vq(patches, settings, args.epochs)
    flat_patches = patches.reshape(len(patches), -1)
    photo_pcas = {label: best_pca(int(m.bits_per_index_ * math.prod(m.grid_shape_)), flat_patches)
                  for label, m in photo_models.items()}  # fmt: skip
    results["photos"] = photos_benchmark(photo_models, photo_pcas)

    fashion_target = target_gain(results["fashion_mnist"])
    digits_target = target_gain(results["digits"])
    results["targets"] = {
        "fashion_mnist": fashion_target,
        "digits": digits_target,
        "fashion_gain_at_least_3_db": fashion_target["gain_db"] >= 3.0,
        "digits_gain_smaller_than_fashion": digits_target["gain_db"] < fashion_target["gain_db"],
    }
    results["setup"] = {
        "fashion_train_images": len(fashion),
        "fashion_test_images": len(test),
        "photo_patches": len(patches),
        "epochs": args.epochs,
        "fit_seconds": fit_seconds,
        "total_seconds": time.perf_counter() - started,
        "threads": torch.get_num_threads(),
        "cores_visible": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "precision": "fp32",
        "device": "cpu",
        "cpu": cpu_name(),
        "range_coder": has_range_coder(),
        "psnr": "mean over images of each image's PSNR (photos: each whole photo), peak 1, 8-bit truth",
        "bpp": "8 x whole-file bytes / pixels (VQ and PCA: one file per set with its header; JPEG / WebP: "
        "one file per image)",
    }
    if args.figure:
        figure(results, args.figure)
        results["setup"]["figure"] = args.figure
    emit(results, output_path(args, "compression"), indent=1)


if __name__ == "__main__":
    main()
