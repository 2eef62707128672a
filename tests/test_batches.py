"""Training batches: scaled rows read without a copy of the data, the same numbers every way."""

from __future__ import annotations

import pytest
import torch

from hourglass.data.batches import ScaledRows


def _reference(data, indices, offset, scale, positions):
    return ((data[indices[positions]] - offset) / scale).to(torch.float32)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.uint8])
@pytest.mark.parametrize("identity", [True, False])
def test_a_batch_holds_the_scaled_rows_it_names(dtype, identity):
    generator = torch.Generator().manual_seed(0)
    data = (torch.rand(40, 7, generator=generator) * 200).to(dtype)
    indices = torch.randperm(40, generator=generator)[:30]
    f64 = torch.float64
    offset = torch.zeros(7, dtype=f64) if identity else torch.linspace(-3, 5, 7, dtype=f64)
    scale = torch.ones(7, dtype=f64) if identity else torch.linspace(0.5, 9, 7, dtype=f64)
    rows = ScaledRows(data, indices, offset, scale)
    for positions in (torch.tensor([4, 0, 29, 4]), slice(3, 11), slice(None)):
        batch = rows.batch(positions)
        assert batch.dtype == torch.float32
        torch.testing.assert_close(batch, _reference(data, indices, offset, scale, positions), rtol=0, atol=0)


def test_a_batch_is_a_copy_the_training_step_may_change():
    data = torch.rand(10, 3)
    rows = ScaledRows(data, torch.arange(10), torch.zeros(3), torch.ones(3))
    kept = data.clone()
    for positions in (torch.tensor([1, 2]), slice(0, 4)):
        rows.batch(positions).mul_(0)
    assert torch.equal(data, kept)
