"""Fetch colour photographs from Debian's wallpaper packages for the colorization benchmark.

Downloads ``plasma-workspace-wallpapers``, ``lomiri-wallpapers``, ``ukui-wallpapers`` and
``gnome-backgrounds`` with ``apt-get download`` (no root needed), unpacks them with
``dpkg -x`` into a cache folder, keeps the photographs among the wallpapers, downsizes them and
writes ``manifest.json`` naming every file kept or skipped, its source package and why. These
four packages are the only source besides scikit-image's and scikit-learn's bundled photos, so
that any other photo stays unseen by the benchmark.

Which wallpapers count as photographs (the rule, measured on a copy whose longer side is
512 px):

- a raster image (SVG and XML slideshows are skipped), at least 1000 px on its longer side
  (screenshots and previews are skipped), one per wallpaper (the largest of its sizes; dark
  variants are skipped);
- ``flat < 0.16``: under 16 % of the pixels have a luminance gradient below 0.5/255.
  Rendered gradients and flat fills are flat; a photo has sensor noise and texture everywhere
  (the photos kept measure 0.005-0.15, the renders left out 0.18 and more);
- ``colours >= 1500`` distinct colours at 6 bits per channel: duotone and palette art has few;
- ``colourfulness >= 0.02`` (Hasler and Suesstrunk 2003): gray photos teach a colorizer
  nothing;
- not in :data:`NOT_PHOTOS`, the renders and paintings that pass the statistics (their grain
  or texture imitates a photo's), checked by eye;
- or in :data:`PHOTOS_BY_EYE`: photographs that the flat share rejects (fog and sky are as
  smooth as a render), found by looking at every rejected wallpaper. The manifest marks them
  ``"by_eye": true``; the colorization benchmark keeps them out of training and reports them
  as extra unseen photos, so that its held-out split stays the one the statistics give.

Checked in the order size, colourfulness, flat share, colours, so that a gray photograph
(KDE's ``Grey`` and ``ColdRipple``) is named gray rather than flat.

Usage::

    python -m benchmarks fetch_photos [--cache ~/.cache/hourglass-photos] [--short-side 512]
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import emit, output_path, parse

PACKAGES = ("plasma-workspace-wallpapers", "lomiri-wallpapers", "ukui-wallpapers", "gnome-backgrounds")
RASTER = (".jpg", ".jpeg", ".png", ".webp")
MIN_SIDE = 1000
MAX_FLAT = 0.16
MIN_COLOURS = 1500
MIN_COLOURFULNESS = 0.02
#: Wallpapers that pass the statistics but are no photographs (checked by eye).
NOT_PHOTOS = {
    "licorice-d": "rendered pattern of tiles",
    "licorice-l": "rendered pattern of tiles",
    "SafeLanding": "illustration with added grain",
    "Autumn": "painting",
    "string": "rendered ribbons",
    "Volna": "rendered beach: low-poly facets in the water",
}
#: Photographs that the flat share rejects (checked by eye).
PHOTOS_BY_EYE = {
    "DarkestHour": "a misty lake at dusk: fog and sky are smooth",
}
DEFAULT_CACHE = Path.home() / ".cache" / "hourglass-photos"


#: Every HOLD_EVERY-th photograph (by sorted name) is held out of training by every benchmark.
HOLD_EVERY = 5


def as_chw(img: np.ndarray) -> np.ndarray:
    """An RGB image as float32 ``(3, h, w)`` in [0, 1]."""
    img = np.asarray(img, np.float32) / (255 if img.dtype == np.uint8 else 1)
    return np.ascontiguousarray(img[..., :3].transpose(2, 0, 1))


def split(cache: Path = DEFAULT_CACHE) -> tuple[dict[str, np.ndarray], ...]:
    """(training, held-out, extra unseen) wallpaper photos named ``package/name``, from the manifest.

    One split for every benchmark that uses the photos: every :data:`HOLD_EVERY`-th photograph
    the statistics keep (by sorted name, the first, sixth, ...) is held out. Those kept by eye
    (``by_eye``) are never trained on and are scored apart, as extra unseen photos. Empty
    dictionaries when the photos have not been fetched.
    """
    manifest = cache / "manifest.json"
    if not manifest.exists():
        return {}, {}, {}
    files = [f for f in json.loads(manifest.read_text())["files"] if f["kept"]]
    by_stats = sorted((f for f in files if not f.get("by_eye")), key=lambda f: f["name"].lower())
    train, held, extra = {}, {}, {}
    for i, entry in enumerate(by_stats + [f for f in files if f.get("by_eye")]):
        with Image.open(cache / "photos" / entry["file"]) as im:
            photo = as_chw(np.asarray(im.convert("RGB")))
        if entry.get("by_eye"):
            group = extra
        else:
            group = held if i % HOLD_EVERY == 0 else train
        group[f"{entry['package']}/{entry['name']}"] = photo
    return train, held, extra


def download(package: str, debs: Path) -> tuple[Path, str]:
    """``apt-get download`` ``package`` into ``debs``; return the .deb and its version."""
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", package], cwd=debs, check=True, capture_output=True)
        found = sorted(debs.glob(f"{package}_*.deb"))
    deb = found[-1]
    version = subprocess.run(
        ["dpkg-deb", "--field", str(deb), "Version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return deb, version


def wallpaper_name(path: Path) -> str:
    """The wallpaper a file belongs to: KDE's ``<Name>/contents/images/<size>.jpg`` or the stem."""
    return path.parts[path.parts.index("contents") - 1] if "contents" in path.parts else path.stem


def candidates(root: Path) -> dict[str, Path]:
    """One raster file per wallpaper under ``root``: the largest of its sizes, no dark variants."""
    best: dict[str, tuple[Path, int]] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in RASTER or "screenshot" in path.name or "images_dark" in path.parts:
            continue
        with Image.open(path) as im:
            area = im.size[0] * im.size[1]
        name = wallpaper_name(path)
        if name not in best or area > best[name][1]:
            best[name] = (path, area)
    return {name: path for name, (path, _) in best.items()}


def statistics(image: Image.Image) -> dict[str, float]:
    """Flat share, distinct colours and colourfulness of ``image`` at 512 px on its longer side."""
    small = image.convert("RGB")
    small.thumbnail((512, 512), Image.LANCZOS)
    a = np.asarray(small, np.float32) / 255
    q = np.round(a * 63).astype(np.int64)
    colours = len(np.unique(q[..., 0] * 4096 + q[..., 1] * 64 + q[..., 2]))
    gray = a @ np.array([0.299, 0.587, 0.114], np.float32)
    grad = np.hypot(np.diff(gray, axis=1)[:-1], np.diff(gray, axis=0)[:, :-1])
    rg, yb = a[..., 0] - a[..., 1], 0.5 * (a[..., 0] + a[..., 1]) - a[..., 2]
    colourfulness = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    return {
        "flat": round(float((grad < 0.5 / 255).mean()), 4),
        "colours": int(colours),
        "colourfulness": round(float(colourfulness), 4),
    }


def verdict(name: str, size: tuple[int, int], stats: dict[str, float]) -> str | None:
    """Why a wallpaper is not kept as a photograph, or None to keep it."""
    if max(size) < MIN_SIDE:
        return f"smaller than {MIN_SIDE} px"
    if stats["colourfulness"] < MIN_COLOURFULNESS:
        return f"colourfulness {stats['colourfulness']} < {MIN_COLOURFULNESS} (gray)"
    if name in PHOTOS_BY_EYE:
        return None
    if stats["flat"] >= MAX_FLAT:
        return f"flat share {stats['flat']} >= {MAX_FLAT} (rendered gradients or fills)"
    if stats["colours"] < MIN_COLOURS:
        return f"{stats['colours']} colours < {MIN_COLOURS} (duotone or palette art)"
    if name in NOT_PHOTOS:
        return f"not a photograph: {NOT_PHOTOS[name]}"
    return None


def downsize(image: Image.Image, short_side: int) -> Image.Image:
    """``image`` in RGB with its shorter side ``short_side`` (never enlarged), Lanczos filtered."""
    image = image.convert("RGB")
    scale = short_side / min(image.size)
    if scale >= 1:
        return image
    size = (round(image.size[0] * scale), round(image.size[1] * scale))
    return image.resize(size, Image.LANCZOS)


def fetch(cache: Path, short_side: int = 512) -> dict:
    """Download, unpack, select and downsize; write and return the manifest."""
    photos = cache / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    manifest = {"short_side": short_side, "rule": __doc__.split("Usage::")[0].strip(), "files": []}
    for package in PACKAGES:
        deb, version = download(package, cache / "debs")
        root = cache / "extracted" / package
        if not root.exists():
            root.mkdir(parents=True)
            subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
        for name, path in sorted(candidates(root).items()):
            with Image.open(path) as im:
                stats = statistics(im)
                reason = verdict(name, im.size, stats)
                entry = {
                    "name": name,
                    "package": package,
                    "version": version,
                    "source": str(path.relative_to(root)),
                    "original_size": list(im.size),
                    **stats,
                }
                if reason is None:
                    out = photos / f"{package}__{name}.png"
                    small = downsize(im, short_side)
                    small.save(out)
                    entry.update(file=out.name, size=list(small.size), kept=True)
                    if name in PHOTOS_BY_EYE:
                        entry.update(by_eye=True, reason=f"a photograph by eye: {PHOTOS_BY_EYE[name]}")
                else:
                    entry.update(kept=False, reason=reason)
            manifest["files"].append(entry)
    (cache / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--short-side", type=int, default=512)
    args = parse(parser, argv, "fetch_photos")
    manifest = fetch(args.cache.expanduser(), args.short_side)
    kept = [f for f in manifest["files"] if f["kept"]]
    results = {
        "kept": [f"{f['package']}/{f['name']}" for f in kept],
        "skipped": len(manifest["files"]) - len(kept),
    }
    emit(results, output_path(args, "fetch_photos"), indent=None)


if __name__ == "__main__":
    main()
