"""Whole images through a patch model: overlapping tiles blended back, and random patches."""

import numpy as np
import pytest

from hourglass.data.tiling import PatchDataset, blend_window, process_tiled, tile_starts
from hourglass.exceptions import InvalidInputError


@pytest.mark.parametrize("length, tile, overlap", [(10, 4, 2), (100, 32, 16), (33, 32, 8), (5, 8, 4)])
def test_tile_starts_cover_the_whole_length(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    covered = np.zeros(max(length, tile), bool)
    for s in starts:
        covered[s : s + tile] = True
    assert covered[:length].all() and starts[-1] + tile >= length


def test_blend_window_is_positive_and_peaks_inside():
    w = blend_window((6, 9))
    assert w.min() > 0 and w[3, 4] == w.max()


@pytest.mark.parametrize("shape", [(1, 50, 70), (3, 16, 16), (2, 5, 40)])
def test_process_tiled_identity_returns_the_image(shape):
    img = np.random.default_rng(0).random(shape).astype(np.float32)
    np.testing.assert_allclose(process_tiled(lambda b: b, img, (16, 16), overlap=0.5), img, atol=1e-6)


def test_process_tiled_lets_channels_change():
    img = np.random.default_rng(0).random((1, 30, 30)).astype(np.float32)
    out = process_tiled(lambda b: np.repeat(b, 3, axis=1), img, (8, 8))
    assert out.shape == (3, 30, 30)


@pytest.mark.parametrize("overlap, smooth", [(0.5, True), (0.0, False)])
def test_process_tiled_blends_seams_when_tiles_overlap(overlap, smooth):
    # Each tile comes back shifted by its own constant: overlapping tiles blend the shifts.
    rng = np.random.default_rng(0)
    out = process_tiled(lambda b: b + rng.random((len(b), 1, 1, 1)), np.zeros((1, 64, 64)), (16, 16), overlap)
    largest_step = np.abs(np.diff(out, axis=2)).max()
    assert (largest_step < 0.2) == smooth


def test_process_tiled_rejects_a_function_that_changes_size():
    with pytest.raises(InvalidInputError, match="tile function"):
        process_tiled(lambda b: b[..., :4, :4], np.zeros((1, 20, 20)), (8, 8))


def test_patch_dataset_cuts_reproducible_patches_and_names_small_files(tmp_path):
    from hourglass.data.images import save_image

    save_image(tmp_path / "big.png", np.random.default_rng(0).random((3, 40, 30)))
    save_image(tmp_path / "small.png", np.zeros((3, 10, 10)))
    patches = PatchDataset([tmp_path / "big.png", tmp_path / "small.png"], (16, 16), patches_per_image=2)
    assert len(patches) == 4 and patches[0].shape == (3, 16, 16)
    assert np.array_equal(
        patches[1].numpy(), PatchDataset([tmp_path / "big.png"], (16, 16), patches_per_image=2)[1].numpy()
    )
    with pytest.raises(InvalidInputError, match="small.png"):
        patches[2]
