"""Task corruptions: corrupted input -> clean target."""

import pytest
import torch

from hourglass.exceptions import InvalidInputError
from hourglass.train.tasks import (
    LUMA,
    Colorize,
    Compose,
    InDataUnits,
    Inpaint,
    SuperResolve,
    luminance,
    make_task,
)


def test_luminance_is_gray_on_three_channels():
    batch = torch.rand(2, 3, 5, 5)
    gray = luminance(batch)
    expected = sum(w * batch[:, i] for i, w in enumerate(LUMA))
    for c in range(3):
        torch.testing.assert_close(gray[:, c], expected)


def test_colorize_needs_three_channels():
    with pytest.raises(InvalidInputError, match="3 channels"):
        Colorize()(torch.rand(1, 1, 4, 4))


@pytest.mark.parametrize("factor", [2, 4])
@pytest.mark.parametrize("shape", [(2, 1, 16, 20), (2, 2, 32), (1, 1, 8, 8, 8)])
def test_super_resolve_keeps_shape_and_loses_detail(factor, shape):
    clean = torch.rand(*shape)
    low = SuperResolve(factor)(clean)
    assert low.shape == clean.shape
    assert float((low - clean).abs().mean()) > 0.05  # white noise has only detail to lose


def test_super_resolve_leaves_smooth_images_nearly_alone():
    ramp = torch.linspace(0, 1, 32).repeat(32, 1)[None, None]
    assert float((SuperResolve(2)(ramp) - ramp)[..., 4:-4, 4:-4].abs().max()) < 0.01


def test_inpaint_blanks_boxes_the_same_in_every_channel():
    out = Inpaint(holes=1, size=0.5)(torch.ones(3, 2, 8, 8), torch.Generator().manual_seed(0))
    assert torch.equal(out[:, 0], out[:, 1])
    assert (out[:, 0] == 0).flatten(1).sum(1).tolist() == [16, 16, 16]


def test_inpaint_draws_new_holes_each_call_and_repeats_with_the_seed():
    clean = torch.ones(4, 1, 16, 16)
    a = Inpaint()(clean, torch.Generator().manual_seed(0))
    b = Inpaint()(clean, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    first, second = Inpaint()(clean, g), Inpaint()(clean, g)
    assert torch.equal(a, b) and not torch.equal(first, second)


def test_in_data_units_undoes_the_scaling_around_the_task():
    offset, scale = torch.tensor([[[0.5]], [[0.2]], [[0.1]]]), torch.tensor([[[2.0]], [[3.0]], [[4.0]]])
    pixels = torch.rand(2, 3, 4, 4)
    wrapped = InDataUnits(Colorize(), offset, scale)((pixels - offset) / scale, None)
    torch.testing.assert_close(wrapped * scale + offset, luminance(pixels))


def test_compose_applies_steps_in_order():
    steps = Compose((lambda b, g: b + 1, lambda b, g: b * 2))
    assert float(steps(torch.zeros(1), None)) == 2.0


@pytest.mark.parametrize("task, kind", [("reconstruct", None), ("denoise", None), ("colorize", Colorize)])
def test_make_task_returns_the_task_corruption(task, kind):
    out = make_task(task)
    assert out is None if kind is None else isinstance(out, kind)


@pytest.mark.parametrize("task, factor", [("deblur", 2), ("super_resolve", 8)])
def test_make_task_rejects_unknown_values_by_name(task, factor):
    with pytest.raises(InvalidInputError, match="task=|scale_factor="):
        make_task(task, factor)
